//! SigLIP configuration: the `config.json` of a Hugging Face `SiglipModel` folder, as plain data with
//! transformers' defaults (`SiglipTextConfig`, `SiglipVisionConfig`).

use crate::encoder::{Activation, EncoderConfig};
use crate::error::{EmbedError, Result};
use crate::precision::Precision;
use std::path::Path;

/// `text_config` of a SigLIP `config.json`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(default)]
pub struct TextConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    /// Also the length every text is padded to (SigLIP is trained on `padding="max_length"`).
    pub max_position_embeddings: usize,
    pub hidden_act: Activation,
    pub layer_norm_eps: f64,
    /// Arithmetic of the tower's linear layers: a choice of the run, not of `config.json`.
    #[serde(skip)]
    pub precision: Precision,
    pub pad_token_id: u32,
    /// Output size of the text head; `None` is `hidden_size`.
    pub projection_size: Option<usize>,
}

impl Default for TextConfig {
    fn default() -> Self {
        Self {
            vocab_size: 32000,
            hidden_size: 768,
            intermediate_size: 3072,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            max_position_embeddings: 64,
            hidden_act: Activation::GeluPytorchTanh,
            layer_norm_eps: 1e-6,
            precision: Precision::F32,
            pad_token_id: 1,
            projection_size: None,
        }
    }
}

impl TextConfig {
    /// The transformer stack of the text tower.
    pub fn encoder(&self) -> EncoderConfig {
        EncoderConfig {
            num_hidden_layers: self.num_hidden_layers,
            hidden_size: self.hidden_size,
            intermediate_size: self.intermediate_size,
            num_attention_heads: self.num_attention_heads,
            hidden_act: self.hidden_act,
            layer_norm_eps: self.layer_norm_eps,
            precision: self.precision,
        }
    }

    /// Output size of the text head.
    pub fn projection_size(&self) -> usize {
        self.projection_size.unwrap_or(self.hidden_size)
    }
}

/// `vision_config` of a SigLIP `config.json`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(default)]
pub struct VisionConfig {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_channels: usize,
    pub image_size: usize,
    pub patch_size: usize,
    pub hidden_act: Activation,
    pub layer_norm_eps: f64,
    /// Arithmetic of the tower's linear layers: a choice of the run, not of `config.json`.
    #[serde(skip)]
    pub precision: Precision,
    /// Pool with the attention head (`true` in every released checkpoint).
    pub vision_use_head: bool,
}

impl Default for VisionConfig {
    fn default() -> Self {
        Self {
            hidden_size: 768,
            intermediate_size: 3072,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            num_channels: 3,
            image_size: 224,
            patch_size: 16,
            hidden_act: Activation::GeluPytorchTanh,
            layer_norm_eps: 1e-6,
            precision: Precision::F32,
            vision_use_head: true,
        }
    }
}

impl VisionConfig {
    /// The transformer stack of the vision tower.
    pub fn encoder(&self) -> EncoderConfig {
        EncoderConfig {
            num_hidden_layers: self.num_hidden_layers,
            hidden_size: self.hidden_size,
            intermediate_size: self.intermediate_size,
            num_attention_heads: self.num_attention_heads,
            hidden_act: self.hidden_act,
            layer_norm_eps: self.layer_norm_eps,
            precision: self.precision,
        }
    }
}

/// A SigLIP `config.json`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct SiglipConfig {
    pub text_config: TextConfig,
    pub vision_config: VisionConfig,
}

impl SiglipConfig {
    /// The config with both towers' linear layers at `precision`.
    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.text_config.precision = precision;
        self.vision_config.precision = precision;
        self
    }

    /// Reads `config.json`; the tower sizes must agree with each other.
    pub fn from_file(path: &Path) -> Result<Self> {
        let bad = |reason: String| EmbedError::Config {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|source| EmbedError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let config: Self = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let (t, v) = (&config.text_config, &config.vision_config);
        if t.projection_size() != v.hidden_size {
            return Err(bad(format!(
                "text head size {} differs from vision width {}",
                t.projection_size(),
                v.hidden_size
            )));
        }
        for (what, hidden, heads) in [
            ("text", t.hidden_size, t.num_attention_heads),
            ("vision", v.hidden_size, v.num_attention_heads),
        ] {
            if heads == 0 || hidden % heads != 0 {
                return Err(bad(format!(
                    "{what} width {hidden} is not a multiple of {heads} heads"
                )));
            }
        }
        if v.patch_size == 0 || v.image_size % v.patch_size != 0 || t.max_position_embeddings < 2 {
            return Err(bad(
                "image size, patch size or text length out of range".into()
            ));
        }
        Ok(config)
    }
}
