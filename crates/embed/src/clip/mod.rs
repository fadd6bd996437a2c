//! CLIP (Hugging Face `CLIPModel` checkpoints): both towers joined by their projections, loading, and the
//! [`ImageEmbedder`]/[`TextEmbedder`] adapters.
//!
//! The model mirrors transformers' `CLIPModel`: same parameter names, same arithmetic. Submodules:
//! - [`config`]: `config.json` as plain data with transformers' defaults.
//! - `encoder`: the transformer stack both towers share.
//! - `text_model`, `vision_model`: the two towers.
//! - [`tokenizer`]: the BPE tokenizer of `tokenizer.json`.

pub mod config;
mod text_clean;
mod text_model;
pub mod tokenizer;
mod vision_model;

pub use config::{Activation, ClipConfig, EncoderConfig, TextConfig, VisionConfig};
pub use tokenizer::ClipTokenizer;

use crate::embedder::{Embedder, ImageEmbedder, ModelInfo, Pixels, TextEmbedder};
use crate::error::{EmbedError, Result};
use crate::precision::Precision;
use crate::preprocess::{self, ClipRecipe};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{linear_no_bias, Linear, VarBuilder};
use std::path::Path;
use std::sync::Arc;
use text_model::TextTransformer;
use vision_model::VisionTransformer;

/// Longest token sequence CLIP's text tower takes.
pub const MAX_TOKENS: usize = 77;

/// The files a CLIP checkpoint needs, alternatives in the order tried.
pub const CLIP_CONFIG: &[&str] = &["config.json"];
pub const CLIP_WEIGHTS: &[&str] = &[
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
];
/// The files a CLIP checkpoint folder lacks (empty when it has what loading needs).
pub fn missing_clip_files(dir: &Path) -> Vec<String> {
    let has = |f: &str| dir.join(f).is_file();
    let mut missing: Vec<String> = [CLIP_CONFIG, CLIP_WEIGHTS]
        .iter()
        .filter(|alternatives| !alternatives.iter().any(|f| has(f)))
        .map(|alternatives| alternatives.join(" or "))
        .collect();
    let has_tokenizer = has("tokenizer.json") || (has("vocab.json") && has("merges.txt"));
    if !has_tokenizer {
        missing.push("tokenizer.json or vocab.json + merges.txt".into());
    }
    missing
}

/// A loaded CLIP model (both towers) on one device.
pub struct ClipModel {
    vision: VisionTransformer,
    visual_projection: Linear,
    text: TextTransformer,
    text_projection: Linear,
    logit_scale: f32,
    device: Device,
    /// The config it was built from.
    pub config: ClipConfig,
}

/// Random weights under the parameter names of a transformers `CLIPModel` of `config`, drawn as
/// transformers initialises one (`CLIPPreTrainedModel._init_weights`, factor 1: matrices and embeddings
/// from a normal of deviation 0.02, norms' weights one, biases zero), as plain tensors
/// ([`write_random_checkpoint`] saves them as a folder [`ClipModel::load`] reads). Candle's own
/// initialisers leave the weights read by name zero, which made every feature zero.
pub fn random_weights(
    config: &ClipConfig,
    device: &Device,
) -> Result<std::collections::HashMap<String, Tensor>> {
    // The VarMap only collects the names and shapes: its variables would be trainable, and candle records
    // every operation on a variable for backpropagation (keeping each intermediate alive).
    let varmap = candle_nn::VarMap::new();
    ClipModel::new(VarBuilder::from_varmap(&varmap, DType::F32, device), config)?;
    let shapes: Vec<(String, candle_core::Shape)> = varmap
        .data()
        .lock()
        .map_err(|_| candle_core::Error::Msg("the weight map's lock was poisoned".into()))?
        .iter()
        .map(|(name, var)| (name.clone(), var.shape().clone()))
        .collect();
    shapes
        .into_iter()
        .map(|(name, shape)| {
            let value = if name == "logit_scale" {
                Tensor::full(LOGIT_SCALE_INIT, shape, device)
            } else if name.ends_with(".bias") {
                Tensor::zeros(shape, DType::F32, device)
            } else if name.contains("norm") {
                Tensor::ones(shape, DType::F32, device)
            } else {
                Tensor::randn(0f32, RANDOM_WEIGHT_STD, shape, device)
            };
            Ok((name, value?))
        })
        .collect()
}

/// Deviation of [`random_weights`]' matrices and embeddings (transformers' `initializer_range`).
const RANDOM_WEIGHT_STD: f32 = 0.02;
/// transformers' initial `logit_scale`: `ln(1 / 0.07)`.
const LOGIT_SCALE_INIT: f32 = 2.659_26;

/// Writes the model files of a Hugging Face CLIP folder of `config` with random weights into `dir`, for
/// benchmarks and tests: `config` as `config.json` and [`random_weights`] as `model.safetensors` (no
/// tokenizer or preprocessor config). Returns the weights written.
pub fn write_random_checkpoint(
    config: &ClipConfig,
    dir: &Path,
    device: &Device,
) -> Result<std::collections::HashMap<String, Tensor>> {
    let config_path = dir.join("config.json");
    let json = serde_json::to_string_pretty(config).map_err(|e| EmbedError::Config {
        path: config_path.clone(),
        reason: e.to_string(),
    })?;
    std::fs::write(&config_path, json).map_err(|source| EmbedError::Io {
        path: config_path,
        source,
    })?;
    let weights = random_weights(config, device)?;
    candle_core::safetensors::save(&weights, dir.join("model.safetensors"))?;
    Ok(weights)
}

impl ClipModel {
    /// Builds the model from a VarBuilder with transformers' parameter names.
    pub fn new(vb: VarBuilder, config: &ClipConfig) -> Result<Self> {
        let device = vb.device().clone();
        let (text_cfg, vision_cfg) = (&config.text_config, &config.vision_config);
        let vision = VisionTransformer::new(vb.pp("vision_model"), vision_cfg)?;
        let visual_projection = linear_no_bias(
            vision_cfg.hidden_size,
            config.projection_dim,
            vb.pp("visual_projection"),
        )?;
        let text = TextTransformer::new(vb.pp("text_model"), text_cfg)?;
        let text_projection = linear_no_bias(
            text_cfg.hidden_size,
            config.projection_dim,
            vb.pp("text_projection"),
        )?;
        let logit_scale = match vb.get((), "logit_scale") {
            Ok(t) => t.to_dtype(DType::F32)?.to_scalar::<f32>()?,
            Err(_) => vb
                .get(1, "logit_scale")?
                .to_dtype(DType::F32)?
                .to_vec1::<f32>()?[0],
        };
        Ok(Self {
            vision,
            visual_projection,
            text,
            text_projection,
            logit_scale,
            device,
            config: config.clone(),
        })
    }

    /// A model with random weights ([`random_weights`]), for benchmarks and shape checks.
    pub fn random(config: &ClipConfig, device: &Device) -> Result<Self> {
        Self::new(
            VarBuilder::from_tensors(random_weights(config, device)?, DType::F32, device),
            config,
        )
    }

    /// Memory-maps the weights of a CLIP folder (see [`crate::weights::safetensors_files`]) and builds the model
    /// in `f32`, its encoder layers' linear layers at `precision`.
    pub fn load(dir: &Path, device: &Device, precision: Precision) -> Result<Self> {
        let config = ClipConfig::from_file(&dir.join("config.json"))?.with_precision(precision);
        crate::weights::build(dir, device, |vb| Self::new(vb, &config))
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// `exp(logit_scale)` multiplies cosine similarities into logits.
    pub fn logit_scale(&self) -> f32 {
        self.logit_scale
    }

    /// Side of the square input images.
    pub fn image_size(&self) -> usize {
        self.vision.image_size()
    }

    /// Projected image features (not normalised) of `b x 3 x S x S` pixels.
    pub fn image_features(&self, pixels: &Tensor) -> Result<Tensor> {
        let pooled = self.vision.forward(pixels)?;
        Ok(self.visual_projection.forward(&pooled)?)
    }

    /// Projected text features (not normalised) of token id rows of any lengths, pooled at each row's
    /// first end-of-text id (rows need no padding: each runs only up to its pooled token).
    pub fn text_features(&self, ids: &[Vec<u32>]) -> Result<Tensor> {
        if ids.is_empty() || ids.iter().any(Vec::is_empty) {
            return Err(EmbedError::Tokenizer {
                reason: "no tokens".into(),
            });
        }
        let pooled = self.text.forward(ids)?;
        Ok(self.text_projection.forward(&pooled)?)
    }
}

/// The CLIP image tower as an [`ImageEmbedder`].
pub struct ClipImageEmbedder {
    model: Arc<ClipModel>,
    recipe: ClipRecipe,
    id: String,
}

impl ImageEmbedder for ClipImageEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }
    fn dim(&self) -> usize {
        self.model.config.projection_dim
    }
    fn preprocess(&self, image: &image::DynamicImage) -> Result<Pixels> {
        preprocess::clip(image, &self.recipe)
    }
    fn decode_size(&self) -> crate::image_io::DecodeSize {
        crate::image_io::DecodeSize::ShortSide(self.recipe.shortest_edge)
    }
    fn embed_pixels(&self, batch: &[Pixels]) -> Result<Vec<Vec<f32>>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let t =
            preprocess::square_batch(batch, self.model.image_size(), "CLIP", self.model.device())?;
        preprocess::normalized_rows(&self.model.image_features(&t)?)
    }
}

/// The CLIP text tower as a [`TextEmbedder`].
pub struct ClipTextEmbedder {
    model: Arc<ClipModel>,
    tokenizer: ClipTokenizer,
    id: String,
}

impl ClipTextEmbedder {
    /// Token ids of one string as the model sees them.
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        self.tokenizer.encode(text)
    }
}

impl TextEmbedder for ClipTextEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }
    fn dim(&self) -> usize {
        self.model.config.projection_dim
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

/// Loads a CLIP folder (`config.json`, `model.safetensors`, `tokenizer.json`, optional
/// `preprocessor_config.json`) as an [`Embedder`] with id `id`, at `precision`.
pub fn load_dir(dir: &Path, id: String, device: &Device, precision: Precision) -> Result<Embedder> {
    let missing = missing_clip_files(dir);
    if !missing.is_empty() {
        return Err(EmbedError::MissingFiles {
            dir: dir.to_path_buf(),
            what: format!(
                "{} (a Hugging Face CLIPModel folder needs config.json, weights, and tokenizer.json or vocab.json + merges.txt)",
                missing.join(", ")
            ),
        });
    }
    let model = Arc::new(ClipModel::load(dir, device, precision)?);
    let tokenizer = ClipTokenizer::from_dir(
        dir,
        model
            .config
            .text_config
            .max_position_embeddings
            .min(MAX_TOKENS),
    )?;
    let recipe = ClipRecipe::from_dir(dir)?;
    let dim = model.config.projection_dim;
    tracing::debug!("loaded CLIP {id} from {} (dim {dim})", dir.display());
    Ok(Embedder {
        info: ModelInfo {
            id: id.clone(),
            dim,
            text: true,
        },
        image: Box::new(ClipImageEmbedder {
            model: model.clone(),
            recipe,
            id: id.clone(),
        }),
        // Concurrent text queries (a server's workers) run as one batch.
        text: Some(Box::new(crate::coalesce::Coalescing::new(Box::new(
            ClipTextEmbedder {
                model,
                tokenizer,
                id,
            },
        )))),
    })
}
