//! A Hugging Face checkpoint's weight files (CLIP, SigLIP), in the order Hugging Face repos hold them: `model.safetensors`,
//! sharded safetensors (`model.safetensors.index.json` and the shards it names), or `pytorch_model.bin`
//! (PyTorch's zip format, read with candle's pickle support), converted once into safetensors in
//! vsearch's cache and memory-mapped from there afterwards.

use crate::error::{EmbedError, Result};
use crate::hub;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Root of vsearch's model cache: `$VSEARCH_CACHE`, else `$XDG_CACHE_HOME/vsearch`, else `~/.cache/vsearch`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("VSEARCH_CACHE") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    base.join("vsearch")
}

/// Memory-maps the weights of the checkpoint folder `dir` ([`safetensors_files`]) as `f32` on `device`
/// and builds a model from them with `new`; errors name the (first) weight file.
pub fn build<T, E: std::fmt::Display>(
    dir: &Path,
    device: &candle_core::Device,
    new: impl FnOnce(candle_nn::VarBuilder) -> std::result::Result<T, E>,
) -> Result<T> {
    let weights = safetensors_files(dir)?;
    let first = weights
        .first()
        .cloned()
        .unwrap_or_else(|| dir.to_path_buf());
    let bad = |e: &dyn std::fmt::Display| EmbedError::Weights {
        path: first.clone(),
        reason: e.to_string(),
    };
    // SAFETY: the files are memory-mapped read-only; vsearch never writes model files it maps.
    let vb = unsafe {
        candle_nn::VarBuilder::from_mmaped_safetensors(&weights, candle_core::DType::F32, device)
    }
    .map_err(|e| bad(&e))?;
    new(vb).map_err(|e| bad(&e))
}

/// The safetensors files holding the weights of the checkpoint folder `dir`.
pub fn safetensors_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let single = dir.join("model.safetensors");
    if single.is_file() {
        return Ok(vec![single]);
    }
    let index = dir.join("model.safetensors.index.json");
    if index.is_file() {
        return hub::shard_files(&index)?
            .into_iter()
            .map(|shard| {
                let path = dir.join(&shard);
                if path.is_file() {
                    Ok(path)
                } else {
                    Err(EmbedError::MissingFiles {
                        dir: dir.to_path_buf(),
                        what: format!("{shard}, named by model.safetensors.index.json"),
                    })
                }
            })
            .collect();
    }
    let bin = dir.join("pytorch_model.bin");
    if bin.is_file() {
        return Ok(vec![converted(&bin)?]);
    }
    Err(EmbedError::MissingFiles {
        dir: dir.to_path_buf(),
        what: "model.safetensors, model.safetensors.index.json or pytorch_model.bin".into(),
    })
}

/// `bin` converted to safetensors in `<cache>/converted/`, named by the SHA-256 of its canonical path,
/// size and modification time (so a changed file is converted again, and a load reads only metadata, not
/// the whole checkpoint, to find the converted file); written to a temporary file and renamed, so an
/// interrupted conversion leaves nothing that looks complete.
fn converted(bin: &Path) -> Result<PathBuf> {
    let bad = |reason: String| EmbedError::Weights {
        path: bin.to_path_buf(),
        reason,
    };
    let canonical = bin.canonicalize().map_err(|e| bad(e.to_string()))?;
    let meta = std::fs::metadata(&canonical).map_err(|e| bad(e.to_string()))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let mut key = Sha256::new();
    key.update(canonical.as_os_str().as_encoded_bytes());
    key.update(meta.len().to_le_bytes());
    key.update(mtime.to_le_bytes());
    let digest: String = key.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let dir = cache_dir().join("converted");
    let out = dir.join(format!("{digest}.safetensors"));
    if out.is_file() {
        return Ok(out);
    }
    std::fs::create_dir_all(&dir).map_err(|e| bad(format!("{}: {e}", dir.display())))?;
    tracing::info!(
        "converting {} to safetensors (once) into {}",
        bin.display(),
        out.display()
    );
    let tensors: HashMap<String, candle_core::Tensor> = candle_core::pickle::read_all(bin)
        .map_err(|e| bad(format!("not a PyTorch checkpoint candle can read: {e}")))?
        .into_iter()
        .collect();
    let tmp = tempfile::Builder::new()
        .prefix(".converting-")
        .tempfile_in(&dir)
        .map_err(|e| bad(e.to_string()))?;
    candle_core::safetensors::save(&tensors, tmp.path()).map_err(|e| bad(e.to_string()))?;
    tmp.as_file().sync_all().map_err(|e| bad(e.to_string()))?;
    tmp.persist(&out).map_err(|e| bad(e.to_string()))?;
    vsearch_core::durable::sync_dir(&dir).map_err(|e| bad(e.to_string()))?;
    Ok(out)
}
