//! Walking the indexed folder: regular files, recursively, skipping hidden entries, symbolic links and
//! the collection folder.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// A file found by [`scan`].
#[derive(Debug, Clone)]
pub struct ScannedFile {
    /// Path relative to the root, `/`-separated.
    pub rel: String,
    pub abs: PathBuf,
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
}

/// Whether `path` has the extension of an image format vsearch reads (the embed crate's table): such a
/// file whose content is not an image is reported as failed, any other non-image file is skipped silently.
pub use vsearch_embed::image_io::has_image_extension;

/// Regular files under `root` (sorted by relative path), skipping `skip` (the collection folder),
/// hidden files and folders and symbolic links (so link loops cannot happen). Unreadable entries are
/// returned in the second list with their reason.
pub fn scan(root: &Path, skip: &Path) -> (Vec<ScannedFile>, Vec<(PathBuf, String)>) {
    let skip = skip.canonicalize().unwrap_or_else(|_| skip.to_path_buf());
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter();
    let walker = walker.filter_entry(|e| {
        if e.depth() == 0 {
            return true;
        }
        let hidden = e.file_name().to_str().is_some_and(|n| n.starts_with('.'));
        !hidden && e.path() != skip
    });
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e
                    .path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| root.to_path_buf());
                errors.push((path, e.to_string()));
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(root) else {
            continue;
        };
        let Some(rel) = rel.to_str() else {
            errors.push((
                entry.path().to_path_buf(),
                "file name is not valid UTF-8".into(),
            ));
            continue;
        };
        let meta = match entry.metadata() {
            Ok(m) => m,
            Err(e) => {
                errors.push((entry.path().to_path_buf(), e.to_string()));
                continue;
            }
        };
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        files.push(ScannedFile {
            rel: rel.replace(std::path::MAIN_SEPARATOR, "/"),
            abs: entry.path().to_path_buf(),
            size: meta.len(),
            mtime_ns,
        });
    }
    (files, errors)
}
