//! Every file and folder name of a collection, and its two locks.
//!
//! ```text
//! DIR/.vsearch/                 the collection folder (DEFAULT_COLLECTION_DIR), or any folder --collection names
//!   manifest.json               model, metric, index configs (MANIFEST_FILE)
//!   catalog.sqlite[-wal,-shm]   files, metadata, labels, settings (CATALOG_FILE, CATALOG_SIDE_FILES)
//!   embeddings[-N].f32 / .ids   the embedding matrix and its ids (MATRIX_PREFIX)
//!   indexes/state.json          the commit point (INDEXES_DIR, STATE_FILE)
//!   indexes/gen-NNN/            one committed generation (GENERATION_PREFIX): files.json (FILES_FILE), one
//!                               folder per index kind (vsearch-index writes each through a .index-tmp-*
//!                               folder of its own, renamed into place)
//!   blocks.json, audit.jsonl    takedowns and their append-only log (BLOCKS_FILE, AUDIT_FILE)
//!   thumbnails/ab/HASH.jpg      thumbnails by content hash, a cache made by index runs (THUMBNAILS_DIR)
//!   hashbanks.sqlite            banks of known-bad PDQ hashes, matched on arrival (HASHBANKS_FILE)
//!   index.lock, blocks.lock     the two locks (INDEX_LOCK_FILE, BLOCKS_LOCK_FILE)
//! ```
//!
//! A Qdrant collection keeps the same records (blocks, audit log, reports, analytics, hash banks) in a
//! records folder of its own, [`qdrant_records_dir`]: `ROOT/.vsearch/qdrant/COLLECTION` by default.
//!
//! **Two locks, on purpose.** An index run holds [`INDEX_LOCK_FILE`] for its whole run and a second run
//! fails at once ([`try_lock_index`]: waiting minutes for another run helps no one); a block change holds
//! [`BLOCKS_LOCK_FILE`] for the milliseconds of one write and others wait for it ([`lock_blocks`]), so a
//! takedown goes through while an index run is in progress.

use crate::types::error::{EngineError, Result};
use std::path::{Path, PathBuf};

/// Name of the default collection folder inside an indexed folder.
pub const DEFAULT_COLLECTION_DIR: &str = ".vsearch";
/// The manifest inside a collection folder.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The SQLite catalog inside a collection folder.
pub const CATALOG_FILE: &str = "catalog.sqlite";
/// SQLite's side files of the catalog (its write-ahead log and shared memory), removed with it.
pub const CATALOG_SIDE_FILES: [&str; 2] = ["catalog.sqlite-wal", "catalog.sqlite-shm"];
/// The embedding matrix's files are `embeddings.f32` (the first) and `embeddings-N.f32` after compactions,
/// each with its `.ids` beside it.
pub const MATRIX_PREFIX: &str = "embeddings";
/// The first matrix file.
pub const MATRIX_FILE: &str = "embeddings.f32";
/// Folder of the generations inside a collection.
pub const INDEXES_DIR: &str = "indexes";
/// The commit point inside [`INDEXES_DIR`].
pub const STATE_FILE: &str = "state.json";
/// The indexed files of a generation, inside its folder.
pub const FILES_FILE: &str = "files.json";
/// A generation's folder is this prefix and its number.
pub const GENERATION_PREFIX: &str = "gen-";
/// The blocks in force.
pub const BLOCKS_FILE: &str = "blocks.json";
/// The append-only audit log (JSON lines).
pub const AUDIT_FILE: &str = "audit.jsonl";
/// Folder of the thumbnails kept beside the collection ([`crate::store::thumbnails`]).
pub const THUMBNAILS_DIR: &str = "thumbnails";
/// The hash banks (PDQ hashes of known-bad images) matched at index time.
pub const HASHBANKS_FILE: &str = "hashbanks.sqlite";
/// The lock an index run holds.
pub const INDEX_LOCK_FILE: &str = "index.lock";
/// The lock held while the blocks change or the audit log is appended to.
pub const BLOCKS_LOCK_FILE: &str = "blocks.lock";

/// Folder of the records folders of Qdrant collections inside [`DEFAULT_COLLECTION_DIR`].
pub const QDRANT_RECORDS_DIR: &str = "qdrant";

/// The default records folder of the Qdrant collection `collection` whose images are under `root`:
/// `ROOT/.vsearch/qdrant/COLLECTION`. Servers and index runs that name the same folder share its
/// records (the blocks' hiding itself is in Qdrant's payload, seen by every server at once).
pub fn qdrant_records_dir(root: &Path, collection: &str) -> PathBuf {
    root.join(DEFAULT_COLLECTION_DIR)
        .join(QDRANT_RECORDS_DIR)
        .join(collection)
}

/// The collection folder for `path`: `path` itself when it holds a manifest, else `path/.vsearch`.
pub fn resolve_collection_dir(path: &Path) -> Result<PathBuf> {
    if path.join(MANIFEST_FILE).is_file() {
        return Ok(path.to_path_buf());
    }
    let inner = path.join(DEFAULT_COLLECTION_DIR);
    if inner.join(MANIFEST_FILE).is_file() {
        return Ok(inner);
    }
    Err(EngineError::NotACollection {
        path: path.to_path_buf(),
    })
}

/// Opens (creating when absent) a lock file, without truncating it.
fn open_lock_file(path: &Path) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(EngineError::io(path))
}

/// Takes the collection's index-run lock (an OS file lock, released when the file is dropped or the
/// process dies), or fails at once with [`EngineError::Busy`] when another run holds it.
pub fn try_lock_index(coll: &Path) -> Result<std::fs::File> {
    let path = coll.join(INDEX_LOCK_FILE);
    let file = open_lock_file(&path)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(EngineError::Busy {
            collection: coll.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(EngineError::Io { path, source }),
    }
}

/// Holds the collection's blocks lock, waiting for another holder (an OS file lock, released when the
/// file is dropped or the process dies).
pub fn lock_blocks(coll: &Path) -> Result<std::fs::File> {
    let path = coll.join(BLOCKS_LOCK_FILE);
    let file = open_lock_file(&path)?;
    file.lock().map_err(EngineError::io(&path))?;
    Ok(file)
}
