//! `vsearch index --watch`: index a folder, then keep indexing it as files appear, change or go.
//!
//! File-system events (inotify, FSEvents, ... through `notify`) are gathered for [`SETTLE`] after the last
//! one, so that a copy of many files is one run, not one per file; each run is an ordinary incremental
//! [`index_folder`](super::index_folder) run with the model kept loaded. Events inside the collection
//! folder (the runs' own writes) and in hidden folders are ignored.

use super::Indexer;
use crate::pipeline::options::{IndexOptions, IndexReport};
use crate::types::error::{EngineError, Result};
use notify_debouncer_mini::notify::RecursiveMode;
use notify_debouncer_mini::{new_debouncer, DebounceEventResult};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// Quiet time after the last file event before a run starts.
pub const SETTLE: Duration = Duration::from_millis(750);

/// What the watcher tells its caller.
pub enum WatchEvent<'a> {
    /// A run finished (the first one, or one after changes).
    Indexed(&'a IndexReport),
    /// A run failed; the watcher goes on with the next change.
    Failed(&'a EngineError),
}

/// Indexes `dir`, then again after every settled batch of changes, until `keep_going` returns false (it
/// is asked after every run and every [`SETTLE`] period without events).
pub fn watch_folder(
    dir: &Path,
    options: &IndexOptions,
    mut on_event: impl FnMut(WatchEvent<'_>),
    mut keep_going: impl FnMut() -> bool,
) -> Result<()> {
    let mut indexer = Indexer::default();
    let root = dir.canonicalize().map_err(EngineError::io(dir))?;
    let coll = options
        .collection
        .clone()
        .unwrap_or_else(|| root.join(crate::types::layout::DEFAULT_COLLECTION_DIR));
    let coll = coll.canonicalize().unwrap_or(coll);
    let (tx, rx) = mpsc::channel::<DebounceEventResult>();
    let mut debouncer = new_debouncer(SETTLE, tx).map_err(|e| watch_error(&root, e))?;
    debouncer
        .watcher()
        .watch(&root, RecursiveMode::Recursive)
        .map_err(|e| watch_error(&root, e))?;
    let mut run = |indexer: &mut Indexer| match indexer.run(&root, options) {
        Ok(report) => on_event(WatchEvent::Indexed(&report)),
        Err(e) => on_event(WatchEvent::Failed(&e)),
    };
    run(&mut indexer);
    while keep_going() {
        let events = match rx.recv_timeout(SETTLE) {
            Ok(Ok(events)) => events,
            Ok(Err(e)) => {
                tracing::warn!("watching {}: {e}", root.display());
                continue;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let relevant: Vec<&PathBuf> = events
            .iter()
            .map(|e| &e.path)
            .filter(|p| concerns_images(p, &root, &coll))
            .collect();
        if relevant.is_empty() {
            continue;
        }
        tracing::info!(
            "{} change(s) under {} (e.g. {}): indexing",
            relevant.len(),
            root.display(),
            relevant[0].display()
        );
        run(&mut indexer);
    }
    Ok(())
}

/// Whether a changed path can change the collection: under the folder, outside the collection folder,
/// in no hidden folder and no hidden file (the scan skips those too).
fn concerns_images(path: &Path, root: &Path, coll: &Path) -> bool {
    if path.starts_with(coll) {
        return false;
    }
    match path.strip_prefix(root) {
        Ok(rel) => !rel
            .components()
            .any(|c| c.as_os_str().to_string_lossy().starts_with('.')),
        Err(_) => false,
    }
}

fn watch_error(root: &Path, e: impl std::fmt::Display) -> EngineError {
    EngineError::Io {
        path: root.to_path_buf(),
        source: std::io::Error::other(format!(
            "cannot watch the folder for changes: {e} (on Linux, raise fs.inotify.max_user_watches)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::concerns_images;
    use std::path::Path;

    #[test]
    fn only_visible_files_outside_the_collection_count() {
        let root = Path::new("/photos");
        let coll = Path::new("/photos/.vsearch");
        assert!(concerns_images(Path::new("/photos/a/b.jpg"), root, coll));
        assert!(!concerns_images(
            Path::new("/photos/.vsearch/catalog.sqlite"),
            root,
            coll
        ));
        assert!(!concerns_images(
            Path::new("/photos/.cache/x.jpg"),
            root,
            coll
        ));
        assert!(!concerns_images(
            Path::new("/photos/a/.x.jpg.part"),
            root,
            coll
        ));
        assert!(!concerns_images(Path::new("/elsewhere/x.jpg"), root, coll));
    }
}
