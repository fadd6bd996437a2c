//! An IVF index on disk: FAISS's own file, the ids and (quantised codes) the raw vectors, under the shared layout
//! of [`crate::persist`].

use super::build::check_params;
use super::ffi::{faiss_err, faiss_metric, probe_every_list_unless_told};
// Up to mod.rs: this file adds methods to the IvfIndex defined there.
use super::{default_rerank_factor, IvfIndex};
use crate::config::IndexConfig;
use crate::error::{IndexError, Result};
use crate::kind::IndexKind;
use crate::persist::{self, Manifest};
use crate::vector_index::VectorIndex;
use faiss::Index;
use std::collections::HashMap;
use std::path::Path;
use vsearch_core::codec;

const FAISS_FILE: &str = "faiss.index";
const IDS_FILE: &str = "ids.bin";
/// Quantised codes only: the raw vectors for re-ranking. IVF-Flat indexes saved before the vectors lived only in
/// FAISS have one too; loading ignores it.
const VECTORS_FILE: &str = "vectors.bin";

impl IvfIndex {
    /// Loads an index saved by [`VectorIndex::save`]; `manifest` is the folder's `index.json`
    /// ([`persist::read_manifest`]). Every file is checked against its checksum first.
    pub fn load(dir: &Path, manifest: &Manifest) -> Result<IvfIndex> {
        persist::expect_kind(dir, manifest, IndexKind::Ivf)?;
        let format = |reason: String| IndexError::Format {
            path: dir.join(persist::MANIFEST),
            reason,
        };
        let params = match manifest.config {
            IndexConfig::Ivf(p) => p,
            other => return Err(format(format!("IVF index with a non-IVF config {other:?}"))),
        };
        let dim = manifest.dim;
        check_params(&params, dim).map_err(|e| format(e.to_string()))?;
        let ids: Vec<u64> = persist::read_values(dir, manifest, IDS_FILE)?;
        let raw: Vec<f32> = if params.codes.keeps_raw() {
            persist::read_values(dir, manifest, VECTORS_FILE)?
        } else {
            Vec::new()
        };
        // Checksum verified before FAISS parses the file.
        persist::read_file(dir, manifest, FAISS_FILE)?;
        let expected_values = if params.codes.keeps_raw() {
            ids.len() * dim
        } else {
            0
        };
        if raw.len() != expected_values || ids.len() != manifest.len {
            return Err(format(format!(
                "{} ids, {} values and len {} do not agree for dimension {dim}",
                ids.len(),
                raw.len(),
                manifest.len
            )));
        }
        let faiss_path = dir.join(FAISS_FILE);
        let faiss_path_str = faiss_path
            .to_str()
            .ok_or_else(|| format("index path is not valid UTF-8".into()))?;
        let mut faiss = faiss::read_index(faiss_path_str).map_err(faiss_err)?;
        if faiss.d() as usize != dim
            || faiss.ntotal() as usize != ids.len()
            || faiss.metric_type() != faiss_metric(manifest.metric)
        {
            return Err(IndexError::Format {
                path: faiss_path,
                reason: format!(
                    "FAISS index (d = {}, {} vectors) does not match the manifest (d = {dim}, {} vectors)",
                    faiss.d(),
                    faiss.ntotal(),
                    ids.len()
                ),
            });
        }
        let mut rows = HashMap::with_capacity(ids.len());
        for (i, &id) in ids.iter().enumerate() {
            if rows.insert(id, i).is_some() {
                return Err(format(format!("id {id} appears twice in ids.bin")));
            }
        }
        probe_every_list_unless_told(&mut faiss);
        Ok(IvfIndex {
            params,
            dim,
            metric: manifest.metric,
            faiss,
            ids,
            raw,
            rows,
            rerank_factor: default_rerank_factor(params.codes),
        })
    }

    /// Writes the index into `dir` ([`VectorIndex::save`]): the FAISS file, the ids and, for quantised codes, the
    /// raw vectors.
    pub(super) fn write_files(&self, dir: &Path) -> Result<()> {
        let scratch = tempfile::tempdir().map_err(|source| IndexError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
        let faiss_path = scratch.path().join(FAISS_FILE);
        let faiss_path_str = faiss_path.to_str().ok_or_else(|| IndexError::Format {
            path: faiss_path.clone(),
            reason: "temporary path is not valid UTF-8".into(),
        })?;
        faiss::write_index(&self.faiss, faiss_path_str).map_err(faiss_err)?;
        let faiss_bytes = std::fs::read(&faiss_path).map_err(|source| IndexError::Io {
            path: faiss_path.clone(),
            source,
        })?;
        let id_bytes = codec::to_le_bytes(&self.ids);
        let raw_bytes = codec::to_le_bytes(&self.raw);
        let manifest = Manifest {
            format_version: persist::FORMAT_VERSION,
            kind: IndexKind::Ivf,
            dim: self.dim,
            metric: self.metric,
            config: self.config(),
            len: self.ids.len(),
            files: Default::default(),
        };
        let mut files: Vec<(&str, &[u8])> = vec![(FAISS_FILE, &faiss_bytes), (IDS_FILE, &id_bytes)];
        if self.params.codes.keeps_raw() {
            files.push((VECTORS_FILE, &raw_bytes));
        }
        persist::save_dir(dir, manifest, &files)
    }
}
