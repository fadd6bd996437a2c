//! Typed errors of the embedding layer.

use std::path::PathBuf;

/// Everything that can go wrong while loading a model or embedding.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("could not decode image: {0}")]
    Decode(String),
    #[error("image is {width}x{height} = {pixels} pixels, over the limit of {limit} pixels")]
    TooLarge {
        width: u32,
        height: u32,
        pixels: u64,
        limit: u64,
    },
    #[error(
        "model '{0}' has no text tower: text search needs a CLIP model (try --model clip-vit-b32)"
    )]
    NoTextTower(String),
    #[error(
        "unknown model '{0}': run `vsearch models list` for presets, or pass --model-dir PATH"
    )]
    UnknownModel(String),
    #[error("{0}")]
    Device(String),
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
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("model: {0}")]
    Candle(#[from] candle_core::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Result with [`EmbedError`].
pub type Result<T> = std::result::Result<T, EmbedError>;
