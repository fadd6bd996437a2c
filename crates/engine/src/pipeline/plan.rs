//! Step 1 of a run: scan the folder and compare it with the catalog.

use crate::pipeline::options::{Failure, IndexReport};
use crate::pipeline::scan::{scan, ScannedFile};
use crate::store::catalog::Entry;
use crate::types::metadata::VideoFrame;
use crate::video::VideoFormat;
use std::collections::HashMap;
use std::path::Path;

/// A file to (re)consider: new, or its size or mtime differs from its catalog row.
pub(super) struct PendingFile {
    pub file: ScannedFile,
    /// Its catalog row from before the run, when it has one (for a video: the row of a frame at this
    /// frame's path, or the failed row at the video's path).
    pub previous: Option<Entry>,
    /// The rows of the frames indexed from this file when it was a video before the run.
    pub frames: Vec<Entry>,
    /// A frame of a video, indexed in place of the file's content (`file.rel` is then the frame's path,
    /// [`VideoFrame::frame_path`]; size and mtime are the video's).
    pub frame: Option<PendingFrame>,
}

impl PendingFile {
    /// A file with what the catalog had at its path, no frames.
    pub fn new(file: ScannedFile, previous: Option<Entry>) -> Self {
        Self {
            file,
            previous,
            frames: Vec::new(),
            frame: None,
        }
    }
}

/// A frame sampled from a video, waiting for the model.
pub(super) struct PendingFrame {
    /// Its video and its time in it.
    pub at: VideoFrame,
    /// The video's container: the frame's `format`.
    pub format: VideoFormat,
    /// The frame, as a PNG file.
    pub png: Vec<u8>,
}

/// The folder against what a backend holds of it (catalog rows, or Qdrant points), by relative path,
/// size and mtime: the one comparison both kinds of run make. A path may hold several records (Qdrant
/// points of a run killed between writing a changed file's new point and deleting its old one).
pub(super) struct FolderDiff<S> {
    /// New and changed files, each with what was held at its path.
    pub pending: Vec<(ScannedFile, Vec<S>)>,
    /// Unchanged files: what was held at each one's path, the record that matches it first.
    pub unchanged: Vec<Vec<S>>,
    /// What was held at paths gone from the folder.
    pub gone: Vec<S>,
}

impl<S> FolderDiff<S> {
    /// Compares `files` with `held` (records by relative path); `same` tells a record that still
    /// describes a file (same size and mtime).
    pub fn new(
        files: Vec<ScannedFile>,
        mut held: HashMap<String, Vec<S>>,
        same: impl Fn(&S, &ScannedFile) -> bool,
    ) -> Self {
        let mut pending = Vec::new();
        let mut unchanged = Vec::new();
        for file in files {
            let mut records = held.remove(&file.rel).unwrap_or_default();
            match records.iter().position(|r| same(r, &file)) {
                Some(i) => {
                    records.swap(0, i);
                    unchanged.push(records);
                }
                None => pending.push((file, records)),
            }
        }
        // What is left in `held` is gone from the folder.
        let gone = held.into_values().flatten().collect();
        Self {
            pending,
            unchanged,
            gone,
        }
    }
}

/// What a run has to do, from comparing the folder with the catalog by size and mtime.
pub(super) struct IndexPlan {
    /// New and changed files, by relative path.
    pub pending: Vec<PendingFile>,
    /// Files whose size and mtime match their catalog row.
    pub unchanged: usize,
    /// Ids of catalog rows whose file is gone from the folder, ascending.
    pub gone: Vec<u64>,
    /// Entries of the folder that could not be read.
    pub unreadable: Vec<Failure>,
}

impl IndexPlan {
    /// Scans `root` (skipping the collection folder `coll`) and compares it with `entries`, the
    /// catalog's rows.
    pub fn scan(root: &Path, coll: &Path, entries: Vec<Entry>) -> Self {
        let (files, errors) = scan(root, coll);
        let mut plan = Self::diff(files, entries);
        plan.unreadable = errors
            .into_iter()
            .map(|(path, reason)| Failure { path, reason })
            .collect();
        plan
    }

    /// Compares scanned files with catalog rows by relative path, size and mtime (a video's frames by
    /// the video's path).
    pub fn diff(files: Vec<ScannedFile>, entries: Vec<Entry>) -> Self {
        let mut held: HashMap<String, Vec<Entry>> = HashMap::new();
        for e in entries {
            let file = e.frame.as_ref().map_or(&e.path, |f| &f.path).clone();
            held.entry(file).or_default().push(e);
        }
        let diff = FolderDiff::new(files, held, |e: &Entry, f| {
            e.size == f.size && e.mtime_ns == f.mtime_ns
        });
        let mut gone: Vec<u64> = diff.gone.iter().map(|e| e.id).collect();
        gone.sort_unstable();
        Self {
            pending: diff
                .pending
                .into_iter()
                .map(|(file, held)| {
                    let (frames, mut own): (Vec<Entry>, Vec<Entry>) =
                        held.into_iter().partition(|e| e.frame.is_some());
                    PendingFile {
                        file,
                        previous: (!own.is_empty()).then(|| own.swap_remove(0)),
                        frames,
                        frame: None,
                    }
                })
                .collect(),
            unchanged: diff.unchanged.len(),
            gone,
            unreadable: Vec::new(),
        }
    }

    /// Counts what the scan alone settles: unreadable entries and unchanged files.
    pub fn report_scan(&self, report: &mut IndexReport) {
        report.failed.extend(self.unreadable.iter().cloned());
        report.unchanged += self.unchanged;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::catalog::Status;
    use std::fs::File;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    /// A fixed modification time, `secs` seconds after the epoch.
    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn write(root: &Path, rel: &str, content: &[u8], mtime: SystemTime) {
        let path = root.join(rel);
        std::fs::write(&path, content).expect("write");
        set_mtime(&path, mtime);
    }

    fn set_mtime(path: &Path, mtime: SystemTime) {
        File::options()
            .write(true)
            .open(path)
            .expect("open")
            .set_modified(mtime)
            .expect("set mtime");
    }

    /// Catalog rows for the files as scanned now, ids in path order.
    fn cataloged(root: &Path) -> Vec<Entry> {
        let (files, errors) = scan(root, &root.join(".vsearch"));
        assert!(errors.is_empty(), "{errors:?}");
        files
            .into_iter()
            .enumerate()
            .map(|(id, f)| Entry {
                id: id as u64,
                path: f.rel,
                size: f.size,
                mtime_ns: f.mtime_ns,
                hash: String::new(),
                width: 1,
                height: 1,
                status: Status::Ok,
                error: None,
                meta: None,
                version: 0,
                frame: None,
            })
            .collect()
    }

    fn pending_paths(plan: &IndexPlan) -> Vec<(&str, Option<u64>)> {
        plan.pending
            .iter()
            .map(|p| (p.file.rel.as_str(), p.previous.as_ref().map(|e| e.id)))
            .collect()
    }

    #[test]
    fn scan_records_size_and_explicit_mtime_and_skips_hidden_and_collection() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("sub")).expect("mkdir");
        std::fs::create_dir_all(root.join(".vsearch")).expect("mkdir");
        write(root, "sub/b.jpg", b"bb", at(2_000_000_000));
        write(root, "a.jpg", b"a", at(1_000_000_000));
        write(root, ".hidden.jpg", b"h", at(1));
        write(root, ".vsearch/catalog.sqlite", b"c", at(1));
        let (files, errors) = scan(root, &root.join(".vsearch"));
        assert!(errors.is_empty(), "{errors:?}");
        let seen: Vec<(&str, u64, i64)> = files
            .iter()
            .map(|f| (f.rel.as_str(), f.size, f.mtime_ns))
            .collect();
        assert_eq!(
            seen,
            [
                ("a.jpg", 1, 1_000_000_000 * 1_000_000_000),
                ("sub/b.jpg", 2, 2_000_000_000 * 1_000_000_000)
            ]
        );
    }

    #[test]
    fn a_new_folder_is_all_pending() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "a.jpg", b"a", at(100));
        write(dir.path(), "b.jpg", b"b", at(100));
        let (files, _) = scan(dir.path(), &dir.path().join(".vsearch"));
        let plan = IndexPlan::diff(files, Vec::new());
        assert_eq!(pending_paths(&plan), [("a.jpg", None), ("b.jpg", None)]);
        assert_eq!(plan.unchanged, 0);
        assert!(plan.gone.is_empty());
    }

    #[test]
    fn new_changed_touched_unchanged_and_deleted_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(root, "a.jpg", b"same", at(100)); // id 0: unchanged
        write(root, "b.jpg", b"before", at(100)); // id 1: content and size change
        write(root, "c.jpg", b"same", at(100)); // id 2: only the mtime changes
        write(root, "d.jpg", b"gone", at(100)); // id 3: deleted
        write(root, "e.jpg", b"old", at(100)); // id 4: deleted
        let entries = cataloged(root);

        write(root, "b.jpg", b"after, longer", at(100));
        set_mtime(&root.join("c.jpg"), at(200));
        std::fs::remove_file(root.join("d.jpg")).expect("delete");
        std::fs::remove_file(root.join("e.jpg")).expect("delete");
        write(root, "f.jpg", b"new", at(100));

        let plan = IndexPlan::scan(root, &root.join(".vsearch"), entries);
        assert_eq!(
            pending_paths(&plan),
            [("b.jpg", Some(1)), ("c.jpg", Some(2)), ("f.jpg", None)]
        );
        assert_eq!(plan.unchanged, 1);
        assert_eq!(plan.gone, [3, 4]);
        assert!(plan.unreadable.is_empty());

        let mut report = IndexReport::default();
        plan.report_scan(&mut report);
        assert_eq!(report.unchanged, 1);
        assert!(report.failed.is_empty());
    }

    #[test]
    fn same_size_and_mtime_counts_as_unchanged_without_reading_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "a.jpg", b"1234", at(100));
        let entries = cataloged(dir.path());
        write(dir.path(), "a.jpg", b"5678", at(100));
        let plan = IndexPlan::scan(dir.path(), &dir.path().join(".vsearch"), entries);
        assert!(plan.pending.is_empty());
        assert_eq!(plan.unchanged, 1);
    }
}
