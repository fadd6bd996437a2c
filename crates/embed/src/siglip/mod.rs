//! SigLIP (transformers' `SiglipModel`) on candle, split as candle splits its models: [`config`],
//! `text_model`, `vision_model`, [`tokenizer`]. Both towers use the shared [`crate::encoder`]; image
//! features are the vision head's pooled output, text features the text head's output at the last
//! position of a text padded to the full length, both L2-normalised for search.

pub mod config;
mod text_model;
pub mod tokenizer;
mod vision_model;

pub use config::{SiglipConfig, TextConfig, VisionConfig};
pub use tokenizer::SiglipTokenizer;

use crate::embedder::{Embedder, ImageEmbedder, ModelInfo, Pixels, TextEmbedder};
use crate::error::{EmbedError, Result};
use crate::precision::Precision;
use crate::preprocess::{self, SiglipRecipe};
use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use std::path::Path;
use std::sync::Arc;
use text_model::TextTransformer;
use vision_model::VisionTransformer;

/// A loaded SigLIP model.
pub struct SiglipModel {
    pub config: SiglipConfig,
    text: TextTransformer,
    vision: VisionTransformer,
    device: Device,
}

impl SiglipModel {
    /// Builds the model from weights under `vb`.
    pub fn new(vb: VarBuilder, config: &SiglipConfig) -> candle_core::Result<Self> {
        Ok(Self {
            text: TextTransformer::new(vb.pp("text_model"), &config.text_config)?,
            vision: VisionTransformer::new(vb.pp("vision_model"), &config.vision_config)?,
            device: vb.device().clone(),
            config: config.clone(),
        })
    }

    /// Memory-maps the weights of a SigLIP folder (see [`crate::weights::safetensors_files`]) and
    /// builds the model in `f32`, its encoder layers' linear layers at `precision`.
    pub fn load(dir: &Path, device: &Device, precision: Precision) -> Result<Self> {
        let config = SiglipConfig::from_file(&dir.join("config.json"))?.with_precision(precision);
        crate::weights::build(dir, device, |vb| Self::new(vb, &config))
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Side of the square input images.
    pub fn image_size(&self) -> usize {
        self.vision.image_size()
    }

    /// Image features (not normalised) of `b x 3 x S x S` pixels.
    pub fn image_features(&self, pixels: &Tensor) -> Result<Tensor> {
        Ok(self.vision.forward(pixels)?)
    }

    /// Text features (not normalised) of id rows of equal length.
    pub fn text_features(&self, ids: &[Vec<u32>]) -> Result<Tensor> {
        let n = ids.first().map_or(0, Vec::len);
        if n == 0 || ids.iter().any(|r| r.len() != n) {
            return Err(EmbedError::Tokenizer {
                reason: "SigLIP needs id rows of one length".into(),
            });
        }
        let flat: Vec<u32> = ids.iter().flatten().copied().collect();
        let t = Tensor::from_vec(flat, (ids.len(), n), &self.device)?;
        Ok(self.text.forward(&t)?)
    }
}

/// The SigLIP image tower as an [`ImageEmbedder`].
pub struct SiglipImageEmbedder {
    model: Arc<SiglipModel>,
    recipe: SiglipRecipe,
    id: String,
}

impl ImageEmbedder for SiglipImageEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }
    fn dim(&self) -> usize {
        self.model.config.vision_config.hidden_size
    }
    fn preprocess(&self, image: &image::DynamicImage) -> Result<Pixels> {
        preprocess::siglip(image, &self.recipe)
    }
    fn decode_size(&self) -> crate::image_io::DecodeSize {
        let (height, width) = self.recipe.size;
        crate::image_io::DecodeSize::ShortSide(height.max(width))
    }
    fn embed_pixels(&self, batch: &[Pixels]) -> Result<Vec<Vec<f32>>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let t = preprocess::square_batch(
            batch,
            self.model.image_size(),
            "SigLIP",
            self.model.device(),
        )?;
        preprocess::normalized_rows(&self.model.image_features(&t)?)
    }
}

/// The SigLIP text tower as a [`TextEmbedder`].
pub struct SiglipTextEmbedder {
    model: Arc<SiglipModel>,
    tokenizer: SiglipTokenizer,
    id: String,
}

impl SiglipTextEmbedder {
    /// Token ids of one string as the model sees them.
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        self.tokenizer.encode(text)
    }
}

impl TextEmbedder for SiglipTextEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }
    fn dim(&self) -> usize {
        self.model.config.text_config.projection_size()
    }
    fn embed_texts(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let ids = texts
            .iter()
            .map(|t| self.tokenizer.encode(t))
            .collect::<Result<Vec<_>>>()?;
        preprocess::normalized_rows(&self.model.text_features(&ids)?)
    }
}

/// Loads a Hugging Face SigLIP folder (`config.json`, weights, `spiece.model`) as `id`, at `precision`.
pub fn load_dir(dir: &Path, id: String, device: &Device, precision: Precision) -> Result<Embedder> {
    let model = Arc::new(SiglipModel::load(dir, device, precision)?);
    let tokenizer =
        SiglipTokenizer::from_dir(dir, model.config.text_config.max_position_embeddings)?;
    let image_size = u32::try_from(model.image_size()).map_err(|_| EmbedError::Config {
        path: dir.join("config.json"),
        reason: "image size out of range".into(),
    })?;
    let recipe = SiglipRecipe::from_dir(dir, image_size)?;
    let dim = model.config.vision_config.hidden_size;
    tracing::debug!("loaded SigLIP {id} from {} (dim {dim})", dir.display());
    Ok(Embedder {
        info: ModelInfo {
            id: id.clone(),
            dim,
            text: true,
        },
        image: Box::new(SiglipImageEmbedder {
            model: model.clone(),
            recipe,
            id: id.clone(),
        }),
        // Concurrent text queries (a server's workers) run as one batch.
        text: Some(Box::new(crate::coalesce::Coalescing::new(Box::new(
            SiglipTextEmbedder {
                model,
                tokenizer,
                id,
            },
        )))),
    })
}
