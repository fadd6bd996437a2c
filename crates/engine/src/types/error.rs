//! Typed errors of the engine.

use std::path::PathBuf;

/// Everything that can go wrong with a collection.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Embed {
        #[from]
        source: vsearch_embed::EmbedError,
    },
    #[error(transparent)]
    Index {
        #[from]
        source: vsearch_index::IndexError,
    },
    #[error("catalog: {source}")]
    Catalog {
        #[from]
        source: rusqlite::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The collection's filesystem cannot hold what a run is about to write (checked before embedding;
    /// sizes in bytes).
    #[error("indexing {files} new or changed files into {path} needs about {} free (embeddings {}, a new generation of the indexes over {files_after} files {}, catalog {}, thumbnails {}, and a margin), but its filesystem has {} free. Free some space, or keep the collection on another disk (--collection DIR); --force runs anyway (a run that runs out of space stops with the last committed state still serving, and the next run finishes it)",
        indicatif::HumanBytes(*.needed), indicatif::HumanBytes(*.matrix), indicatif::HumanBytes(*.indexes),
        indicatif::HumanBytes(*.catalog), indicatif::HumanBytes(*.thumbnails), indicatif::HumanBytes(*.available))]
    NoSpace {
        path: PathBuf,
        files: usize,
        files_after: usize,
        needed: u64,
        matrix: u64,
        indexes: u64,
        catalog: u64,
        thumbnails: u64,
        available: u64,
    },
    #[error("{path} is not a vsearch collection (no manifest.json): run `vsearch index DIR` first, or pass --collection PATH")]
    NotACollection { path: PathBuf },
    #[error("{path}: bad manifest: {reason}; run `vsearch index DIR --rebuild` to start the collection over")]
    Manifest { path: PathBuf, reason: String },
    #[error("the collection was built with model '{collection}', not '{requested}': run `vsearch index DIR --rebuild --model {requested}` to start it over with the new model, or leave --model out")]
    ModelMismatch {
        collection: String,
        requested: String,
    },
    #[error("the collection has no {requested} index (it has: {available}); add it, keeping the others, with `vsearch index DIR --add-index {requested}`, or pick another")]
    NoIndex {
        requested: String,
        /// The kinds it has, comma-separated.
        available: String,
    },
    #[error("this collection was opened without its model; {needed_by} needs the model")]
    NoModel { needed_by: &'static str },
    /// A catalog id whose vector is not in the embedding matrix.
    #[error("{path}: the embedding matrix holds {rows} rows but the catalog needs id {id}; the collection is damaged: re-run `vsearch index DIR` to repair it")]
    MissingVector { path: PathBuf, rows: usize, id: u64 },
    /// The model gave no vector for a query it accepted.
    #[error("the model returned no vector for {query}")]
    NoQueryVector { query: &'static str },
    /// The commit point (`indexes/state.json`) or the generation it names cannot be read.
    #[error("{path}: {reason}; run `vsearch index DIR` to commit a new state of the collection")]
    Generation { path: PathBuf, reason: String },
    /// A filter that does not parse or names an unknown key or a value of the wrong type.
    #[error("bad filter: {reason}")]
    Filter { reason: String },
    /// A query that cannot be answered as given (an empty board, a crop outside the image, ...).
    #[error("bad query: {reason}")]
    BadQuery { reason: String },
    /// A label policy that does not parse or is not valid.
    #[error("label policy {origin}: {reason}")]
    Policy { origin: String, reason: String },
    /// Labels need a text tower.
    #[error("model '{model}' has no text tower, so it cannot score labels (zero-shot labels need a CLIP-family model: index with `--model clip-vit-b32` or `--model-dir PATH`)")]
    LabelsNeedText { model: String },
    /// A truth file (of an evaluation) that cannot be parsed.
    #[error("{path}: {reason}")]
    Truth { path: PathBuf, reason: String },
    /// A block hides the image asked for.
    #[error("image {id} is blocked: a takedown hides it (see `vsearch blocks`)")]
    Blocked { id: crate::types::image_id::ImageId },
    /// No block has this id.
    /// A hash list (or bank) that does not read; `line` is 1-based (0: not a line of a file).
    #[error("{path} line {line}: {reason}; a hash list is one PDQ hash (64 hex digits) per line, or CSV/TSV with a hash column (and quality, tags columns)")]
    HashList {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("no hash bank is named '{name}' (see `vsearch hashes list`)")]
    NoSuchBank { name: String },
    #[error("no block {id} is in force (see `vsearch blocks`)")]
    NoSuchBlock { id: u64 },
    /// The blocks file cannot be read.
    #[error("{path}: {reason}; the collection's blocks cannot be read (fix or restore the file; `audit.jsonl` records every change)")]
    Blocks { path: PathBuf, reason: String },
    /// No image has this id in the collection (a UUID asked of a local collection, or the reverse).
    #[error("no image has id {id} in this collection")]
    UnknownImage { id: crate::types::image_id::ImageId },
    /// Qdrant failed or refused (see [`vsearch_qdrant::StoreError`]).
    #[error(transparent)]
    Qdrant {
        #[from]
        source: vsearch_qdrant::StoreError,
    },
    /// What a Qdrant collection does not do (blocks, duplicates, labels live in local collections).
    #[error("{what} is not available on a Qdrant collection; {instead}")]
    NotOnQdrant {
        what: &'static str,
        instead: &'static str,
    },
    /// The reports database cannot be read or written.
    #[error("{path}: {reason}; the collection's reports cannot be read (fix or restore the file; `audit.jsonl` records every report and resolution)")]
    Reports { path: PathBuf, reason: String },
    /// A client address filed more reports than the report policy allows per minute.
    #[error("too many reports from this address: retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// No report case has this id.
    #[error("no report case {id} (see `vsearch reports list`)")]
    NoSuchCase { id: u64 },
    /// The case was resolved already.
    #[error("report case {id} is closed already ({status}); a new report opens a new case")]
    CaseClosed { id: u64, status: &'static str },
    /// The collection keeps no records folder (a Qdrant collection opened without one).
    #[error("{what} need the collection's records folder: a local collection has one; for a Qdrant collection give `--root DIR` or `--state DIR`")]
    NoRecords { what: &'static str },
    /// The analytics database cannot be read or written.
    #[error("{path}: {reason}; the search analytics cannot be read or written (check the folder's permissions and free space; `vsearch analytics purge` deletes them, `vsearch serve --no-analytics` records none)")]
    Analytics { path: PathBuf, reason: String },
    #[error("{path} is not a folder")]
    NotAFolder { path: PathBuf },
    /// The learned re-ranker's model file cannot be used.
    #[error("{path}: {reason}; it is not a re-ranker model this build can use, so searches keep the cosine order (train a new one with `vsearch rank train --collection DIR`, or delete the file)")]
    RerankModel { path: PathBuf, reason: String },
    /// The learned re-ranker cannot be trained on the examples given.
    #[error("the re-ranker cannot be trained: {reason}")]
    RerankTraining { reason: String },
    #[error("another `vsearch index` is updating the collection {collection} (lock held on {collection}/{lock}); wait for it to finish, then run again", lock = crate::types::layout::INDEX_LOCK_FILE)]
    Busy { collection: PathBuf },
}

impl EngineError {
    /// An I/O error on `path`.
    pub fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> EngineError + '_ {
        move |source| EngineError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Result with [`EngineError`].
pub type Result<T> = std::result::Result<T, EngineError>;
