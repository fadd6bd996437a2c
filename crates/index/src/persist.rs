//! On-disk layout shared by every index kind.
//!
//! An index folder holds `index.json` ([`Manifest`]: format version, kind, dimension, metric, config and a
//! CRC32 per data file) and the data files it names. Saving writes a sibling temporary folder, syncs it,
//! then renames it over the target, so a reader sees the old index or the new one, never a mix.

use crate::config::IndexConfig;
use crate::error::{IndexError, Result};
use crate::kind::IndexKind;
use crate::vector_index::Metric;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use vsearch_core::codec::{self, LeBytes};
use vsearch_core::durable;

/// Version of the on-disk format; bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;
/// Name of the manifest file inside an index folder.
pub const MANIFEST: &str = "index.json";

/// What `index.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub kind: IndexKind,
    pub dim: usize,
    pub metric: Metric,
    pub config: IndexConfig,
    /// Number of live vectors.
    pub len: usize,
    /// Data file name -> CRC32 of its bytes.
    pub files: BTreeMap<String, u32>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> IndexError + '_ {
    move |source| IndexError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `manifest` (its `files` filled in here) and `files` into `dir` atomically.
pub fn save_dir(dir: &Path, mut manifest: Manifest, files: &[(&str, &[u8])]) -> Result<()> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(io_err(&parent))?;
    let tmp = tempfile::Builder::new()
        .prefix(".index-tmp-")
        .tempdir_in(&parent)
        .map_err(io_err(&parent))?;
    manifest.files.clear();
    for (name, bytes) in files {
        let path = tmp.path().join(name);
        write_synced(&path, bytes)?;
        manifest
            .files
            .insert((*name).to_string(), crc32fast::hash(bytes));
    }
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| IndexError::Format {
        path: dir.join(MANIFEST),
        reason: e.to_string(),
    })?;
    write_synced(&tmp.path().join(MANIFEST), &json)?;
    let tmp_path = tmp.keep();
    replace_dir(&tmp_path, dir)
}

/// Renames `from` over `to`; an existing `to` is moved aside first and removed after.
fn replace_dir(from: &Path, to: &Path) -> Result<()> {
    if to.exists() {
        let old = to.with_extension(format!("old-{}", std::process::id()));
        fs::rename(to, &old).map_err(io_err(to))?;
        fs::rename(from, to).map_err(io_err(to))?;
        fs::remove_dir_all(&old).map_err(io_err(&old))?;
    } else {
        fs::rename(from, to).map_err(io_err(to))?;
    }
    let parent = to.parent().unwrap_or(Path::new("."));
    durable::sync_dir(parent).map_err(io_err(parent))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    durable::write_synced(path, bytes).map_err(io_err(path))
}

/// Reads `index.json` of `dir` and checks its format version.
pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST);
    let bytes = fs::read(&path).map_err(io_err(&path))?;
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| IndexError::Format {
        path: path.clone(),
        reason: format!("not a vsearch index manifest: {e}"),
    })?;
    if manifest.format_version != FORMAT_VERSION {
        return Err(IndexError::Format {
            path,
            reason: format!(
                "index format version {} is not supported (this vsearch reads {FORMAT_VERSION}); rebuild the index",
                manifest.format_version
            ),
        });
    }
    Ok(manifest)
}

/// Reads one data file named in the manifest and verifies its checksum.
pub fn read_file(dir: &Path, manifest: &Manifest, name: &str) -> Result<Vec<u8>> {
    let path = dir.join(name);
    let expected = manifest.files.get(name).ok_or_else(|| IndexError::Format {
        path: path.clone(),
        reason: "file not listed in index.json".into(),
    })?;
    let bytes = fs::read(&path).map_err(io_err(&path))?;
    if crc32fast::hash(&bytes) != *expected {
        return Err(IndexError::Checksum { path });
    }
    Ok(bytes)
}

/// Maps one data file named in the manifest and verifies its checksum: its bytes without a copy on the
/// heap (the pages leave the process's resident set when the mapping is dropped).
pub fn map_file(dir: &Path, manifest: &Manifest, name: &str) -> Result<memmap2::Mmap> {
    let path = dir.join(name);
    let expected = manifest.files.get(name).ok_or_else(|| IndexError::Format {
        path: path.clone(),
        reason: "file not listed in index.json".into(),
    })?;
    let file = fs::File::open(&path).map_err(io_err(&path))?;
    // SAFETY: an index folder's files are written once (saved into a new folder, renamed into place)
    // and never modified or truncated afterwards; a folder removed while mapped stays readable.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io_err(&path))?;
    if crc32fast::hash(&map) != *expected {
        return Err(IndexError::Checksum { path });
    }
    Ok(map)
}

/// Fails unless the manifest is of `kind`.
pub fn expect_kind(dir: &Path, manifest: &Manifest, kind: IndexKind) -> Result<()> {
    if manifest.kind != kind {
        return Err(IndexError::Format {
            path: dir.join(MANIFEST),
            reason: format!(
                "this folder holds a {:?} index, not {:?}",
                manifest.kind, kind
            ),
        });
    }
    Ok(())
}

impl Manifest {
    /// A manifest for `kind` (file checksums are filled in by [`save_dir`]).
    pub fn new(
        kind: IndexKind,
        dim: usize,
        metric: Metric,
        config: IndexConfig,
        len: usize,
    ) -> Self {
        Self {
            format_version: FORMAT_VERSION,
            kind,
            dim,
            metric,
            config,
            len,
            files: BTreeMap::new(),
        }
    }
}

/// Reads the data file `name` named in the manifest, verifies its checksum and decodes its little-endian
/// values (`f32` vectors, `u64` ids).
pub fn read_values<T: LeBytes>(dir: &Path, manifest: &Manifest, name: &str) -> Result<Vec<T>> {
    let bytes = read_file(dir, manifest, name)?;
    codec::from_le_bytes(&bytes).map_err(|e| IndexError::Format {
        path: dir.join(name),
        reason: format!("truncated record: {e}"),
    })
}
