//! The collection manifest (`manifest.json`): format version, model, metric, index configs, indexed root.

use crate::error::{EngineError, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use vsearch_embed::ModelInfo;
use vsearch_index::{IndexConfig, Metric};

/// Version of the collection layout; bumped on incompatible changes.
pub const FORMAT_VERSION: u32 = 1;
/// File name of the manifest inside a collection folder.
pub const MANIFEST_FILE: &str = "manifest.json";

/// What `manifest.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub model: ModelInfo,
    /// Folder of a CLIP model given by `--model-dir` (absent for presets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_dir: Option<PathBuf>,
    pub metric: Metric,
    pub indexes: Vec<IndexConfig>,
    /// The indexed folder (absolute).
    pub root: PathBuf,
}

impl Manifest {
    /// Reads `dir/manifest.json`; `Ok(None)` when there is none.
    pub fn read(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(MANIFEST_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(EngineError::Io { path, source }),
        };
        let manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| EngineError::Manifest {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        if manifest.format_version != FORMAT_VERSION {
            return Err(EngineError::Manifest {
                path,
                reason: format!(
                    "format version {} (this vsearch reads version {FORMAT_VERSION})",
                    manifest.format_version
                ),
            });
        }
        Ok(Some(manifest))
    }

    /// Writes `dir/manifest.json` atomically.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| EngineError::Manifest {
            path: dir.join(MANIFEST_FILE),
            reason: e.to_string(),
        })?;
        write_atomic(&dir.join(MANIFEST_FILE), &json)
    }
}

/// Writes `bytes` to `path` atomically: a synced temporary file beside it, then a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(EngineError::io(dir))?;
    tmp.write_all(bytes).map_err(EngineError::io(path))?;
    tmp.as_file().sync_all().map_err(EngineError::io(path))?;
    tmp.persist(path).map_err(|e| EngineError::Io {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
