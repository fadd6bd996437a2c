//! The collection manifest (`manifest.json`): format version, model, metric, index configs, indexed root.

use crate::types::error::{EngineError, Result};
use crate::types::layout::resolve_collection_dir;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use vsearch_embed::{ModelInfo, ModelSpec};
use vsearch_index::{IndexConfig, Metric};

/// Version of the collection layout; bumped on incompatible changes. Version 2 added the matrix's ids
/// file and its compaction (a version-1 reader would read a compacted matrix wrong); version-1
/// collections are read as they are and migrated by their next run.
pub const FORMAT_VERSION: u32 = 2;
/// The oldest layout this version reads.
pub const OLDEST_FORMAT_VERSION: u32 = 1;
/// Largest embedding dimension a manifest may name.
pub const MAX_DIM: usize = 65_536;
pub use crate::types::layout::MANIFEST_FILE;

/// What a collection is, as `manifest.json` holds it: layout version, model, metric, index configs and
/// the indexed folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionManifest {
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

impl CollectionManifest {
    /// The collection folder for `path` (see [`resolve_collection_dir`]) and its manifest.
    pub fn open_dir(path: &Path) -> Result<(PathBuf, CollectionManifest)> {
        let dir = resolve_collection_dir(path)?;
        let manifest =
            Self::read(&dir)?.ok_or_else(|| EngineError::NotACollection { path: dir.clone() })?;
        Ok((dir, manifest))
    }

    /// Reads `dir/manifest.json`; `Ok(None)` when there is none.
    pub fn read(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(MANIFEST_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(EngineError::Io { path, source }),
        };
        let manifest: CollectionManifest =
            serde_json::from_slice(&bytes).map_err(|e| EngineError::Manifest {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        if !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&manifest.format_version) {
            return Err(EngineError::Manifest {
                path,
                reason: format!(
                    "format version {} (this vsearch reads versions {OLDEST_FORMAT_VERSION} to {FORMAT_VERSION})",
                    manifest.format_version
                ),
            });
        }
        if !(1..=MAX_DIM).contains(&manifest.model.dim) {
            return Err(EngineError::Manifest {
                path,
                reason: format!(
                    "embedding dimension {} (1 to {MAX_DIM})",
                    manifest.model.dim
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
        let path = dir.join(MANIFEST_FILE);
        vsearch_core::durable::write_atomic(&path, &json).map_err(EngineError::io(&path))
    }

    /// The model spec that reproduces the collection's model.
    pub fn model_spec(&self) -> ModelSpec {
        match &self.model_dir {
            Some(dir) => ModelSpec::Dir(dir.clone()),
            // `hf:OWNER/NAME@REV` for a hub repo given by name, else a preset name.
            None => self
                .model
                .id
                .parse()
                .unwrap_or_else(|_| ModelSpec::Preset(self.model.id.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vsearch_index::{IndexConfig, Metric};

    fn manifest(root: &Path) -> CollectionManifest {
        CollectionManifest {
            format_version: FORMAT_VERSION,
            model: ModelInfo {
                id: "efficientnet-lite0".into(),
                dim: 1280,
                text: false,
            },
            model_dir: None,
            metric: Metric::Cosine,
            indexes: vec![IndexConfig::Flat],
            root: root.to_path_buf(),
        }
    }

    #[test]
    fn written_manifest_reads_back_equal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let written = manifest(dir.path());
        written.write(dir.path()).expect("write");
        let read = CollectionManifest::read(dir.path())
            .expect("read")
            .expect("present");
        assert_eq!(read, written);
        assert_eq!(
            read.model_spec(),
            ModelSpec::Preset("efficientnet-lite0".into())
        );
    }

    #[test]
    fn absent_manifest_reads_as_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(CollectionManifest::read(dir.path())
            .expect("read")
            .is_none());
    }

    #[test]
    fn another_format_version_is_a_manifest_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut future = manifest(dir.path());
        future.format_version = FORMAT_VERSION + 1;
        future.write(dir.path()).expect("write");
        match CollectionManifest::read(dir.path()) {
            Err(EngineError::Manifest { path, reason }) => {
                assert_eq!(path, dir.path().join(MANIFEST_FILE));
                assert!(reason.contains("format version"), "{reason}");
            }
            other => panic!("expected a manifest error, got {other:?}"),
        }
    }

    #[test]
    fn unparsable_manifest_is_a_manifest_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(MANIFEST_FILE), b"{ not json").expect("write");
        assert!(matches!(
            CollectionManifest::read(dir.path()),
            Err(EngineError::Manifest { .. })
        ));
    }
}
