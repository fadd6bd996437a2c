//! Typed errors of the embedding layer.

use std::path::PathBuf;

/// Everything that can go wrong while loading a model or embedding.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The bytes are not an image vsearch reads, or its decoder failed on them.
    #[error("could not decode image: {reason}")]
    Decode { reason: String },
    /// An image could not be written out in `format` (e.g. a JPEG thumbnail).
    #[error("could not encode image as {format}: {reason}")]
    Encode { format: String, reason: String },
    /// A decoded image could not be turned into model input (resize, batch shapes).
    #[error("could not prepare image for the model: {reason}")]
    Preprocess { reason: String },
    #[error("image is {width}x{height} = {pixels} pixels, over the limit of {limit} pixels")]
    TooLarge {
        width: u32,
        height: u32,
        pixels: u64,
        limit: u64,
    },
    #[error(
        "model '{model}' has no text tower: text search needs a CLIP model (try --model clip-vit-b32)"
    )]
    NoTextTower { model: String },
    #[error(
        "unknown model '{name}': run `vsearch models list` for presets, or pass --model-dir PATH"
    )]
    UnknownModel { name: String },
    #[error("{reason}")]
    Device { reason: String },
    /// A precision that is unknown, or that the model or the machine cannot run.
    #[error("{reason}")]
    Precision { reason: String },
    #[error("model files missing in {dir}: {what}")]
    MissingFiles { dir: PathBuf, what: String },
    #[error("cannot download {what}: {reason}. {hint}")]
    Download {
        what: String,
        reason: String,
        hint: String,
    },
    #[error("bad model config {path}: {reason}")]
    Config { path: PathBuf, reason: String },
    #[error("weights {path}: {reason}")]
    Weights { path: PathBuf, reason: String },
    #[error("tokenizer: {reason}")]
    Tokenizer { reason: String },
    /// A CPU kernel was given weights or input of the wrong shape, or a tensor it cannot read.
    #[error("CPU kernel: {reason}")]
    Kernel { reason: String },
    #[error("model: {source}")]
    Candle {
        #[from]
        source: candle_core::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Result with [`EmbedError`].
pub type Result<T> = std::result::Result<T, EmbedError>;
