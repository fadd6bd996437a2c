//! What an index run is asked to do ([`IndexOptions`]) and what it did ([`IndexReport`]).

use crate::types::label_policy::PolicySource;
use crate::video::VideoOptions;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use vsearch_embed::{image_io, DeviceSpec, ModelSpec, Precision};
use vsearch_index::{IndexKind, Quantization};

/// Options of [`crate::index_folder`].
#[derive(Debug, Clone)]
pub struct IndexOptions {
    /// Collection folder; `None` means `DIR/.vsearch`.
    pub collection: Option<PathBuf>,
    pub model: ModelSpec,
    pub device: DeviceSpec,
    /// Arithmetic of the model's linear layers ([`Precision::Int8`]: CLIP and SigLIP on the CPU).
    pub precision: Precision,
    /// Index kinds to maintain, replacing the collection's set (kinds left out are removed); empty keeps
    /// the collection's (every kind for a new one).
    pub indexes: Vec<IndexKind>,
    /// Index kinds to add to the set (the others are kept).
    pub add_indexes: Vec<IndexKind>,
    /// Sets the quantization of the collection's HNSW index (its walk over int8 codes, re-scored by the
    /// full vectors): `Some(Some(q))` turns it on, `Some(None)` off (an index that changes is rebuilt);
    /// `None` keeps the collection's (off for a new one).
    pub quantization: Option<Option<Quantization>>,
    pub batch: usize,
    /// Decoding threads.
    pub threads: usize,
    /// Images with more pixels are refused before decoding.
    pub max_pixels: u64,
    /// Decode every stored pixel even where the model needs fewer (JPEGs otherwise decode at the
    /// smallest DCT scale that still gives the model's input: [`image_io::decode_sized`]).
    pub exact_decode: bool,
    /// Start the collection over (needed to change model).
    pub rebuild: bool,
    /// Show a progress bar.
    pub progress: bool,
    /// Go ahead when the free-space estimate says the run will not fit ([`crate::store::space`]).
    pub force: bool,
    /// Label policy to put in force ([`crate::types::label_policy`]); `None` keeps the collection's (the default policy for a
    /// new one). Labels are scored for CLIP-family models only.
    pub policy: Option<PolicySource>,
    /// Whether and how video files are indexed, as frames ([`crate::video`]).
    pub videos: VideoOptions,
}

impl Default for IndexOptions {
    /// `DIR/.vsearch`, model `auto`, CPU, the collection's indexes (all three for a new one), batch 16,
    /// one decode thread per core, 100 megapixels.
    fn default() -> Self {
        Self {
            collection: None,
            model: ModelSpec::Auto,
            device: DeviceSpec::Cpu,
            precision: Precision::F32,
            indexes: Vec::new(),
            add_indexes: Vec::new(),
            quantization: None,
            batch: 16,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            max_pixels: image_io::DEFAULT_MAX_PIXELS,
            exact_decode: false,
            rebuild: false,
            progress: false,
            force: false,
            policy: None,
            videos: VideoOptions::default(),
        }
    }
}

/// A file that could not be indexed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failure {
    pub path: PathBuf,
    pub reason: String,
}

/// What one indexing run did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IndexReport {
    /// Model id used.
    pub model: String,
    /// New files embedded (a video's frames count one each).
    pub indexed: usize,
    pub unchanged: usize,
    /// Changed files re-embedded.
    pub updated: usize,
    /// Catalog entries whose file is gone (or is no longer an image).
    pub removed: usize,
    /// Files that are not images and not named like one (ignored).
    pub skipped: usize,
    pub failed: Vec<Failure>,
    /// New and changed videos whose frames this run indexed.
    #[serde(default)]
    pub videos: usize,
    /// Images that went through the model in this run.
    pub embedded: usize,
    /// Indexed images whose metadata (format, EXIF) was read without re-embedding them (catalogs from
    /// before the metadata columns).
    #[serde(default)]
    pub metadata: usize,
    /// Indexed images whose label scores were computed (from their stored vectors; see [`crate::labels`]).
    #[serde(default)]
    pub labelled: usize,
    /// New or re-embedded images a block hides as they arrive (logged to the audit log), those a hash bank
    /// matched included.
    #[serde(default)]
    pub blocked: usize,
    /// New or re-embedded images that matched a hash bank and were blocked as they arrived (see
    /// [`crate::safety::hashbanks`]).
    #[serde(default)]
    pub hash_matches: usize,
    /// Indexed images whose PDQ hash was computed without re-embedding them (catalogs from before the
    /// PDQ table).
    #[serde(default)]
    pub pdq_hashed: usize,
    pub seconds: f64,
    /// Thread-seconds spent reading, decoding and preprocessing the embedded files (on `threads`
    /// decoding threads, beside the model).
    #[serde(default)]
    pub decode_cpu_seconds: f64,
    /// Seconds the model spent embedding them.
    #[serde(default)]
    pub model_seconds: f64,
    /// Seconds the model stood idle waiting for decoded images: large when decoding is the slower stage.
    #[serde(default)]
    pub waiting_for_decode_seconds: f64,
}
