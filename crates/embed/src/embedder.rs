//! What every model is to the rest of vsearch: [`ImageEmbedder`] and [`TextEmbedder`] towers joined in an
//! [`Embedder`] with its [`ModelInfo`], and the preprocessed [`Pixels`] an image tower takes.

use crate::error::{EmbedError, Result};

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
    /// The least decode [`Self::preprocess`] needs (the shorter side its resize starts from), so a
    /// large JPEG is decoded at a reduced scale (see [`crate::image_io::decode_sized`]).
    fn decode_size(&self) -> crate::image_io::DecodeSize {
        crate::image_io::DecodeSize::Full
    }
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
