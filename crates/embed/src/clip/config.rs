//! CLIP configuration: the `config.json` of a Hugging Face `CLIPModel` folder, as plain data with
//! transformers' defaults (serialised, it is such a `config.json`: the keys this crate reads).

pub use crate::encoder::{Activation, EncoderConfig};
use crate::error::{EmbedError, Result};
use crate::precision::Precision;
use std::path::Path;

/// `text_config` of a CLIP `config.json` (defaults as transformers' `CLIPTextConfig`).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct TextConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub max_position_embeddings: usize,
    pub hidden_act: Activation,
    pub layer_norm_eps: f64,
    /// Arithmetic of the tower's linear layers: a choice of the run, not of `config.json`.
    #[serde(skip)]
    pub precision: Precision,
    /// Id pooled at; `2` marks legacy configs (then pooling takes the argmax of the ids).
    pub eos_token_id: Option<u32>,
}

impl Default for TextConfig {
    fn default() -> Self {
        Self {
            vocab_size: 49408,
            hidden_size: 512,
            intermediate_size: 2048,
            num_hidden_layers: 12,
            num_attention_heads: 8,
            max_position_embeddings: 77,
            hidden_act: Activation::QuickGelu,
            layer_norm_eps: 1e-5,
            precision: Precision::F32,
            eos_token_id: None,
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
}

/// `vision_config` of a CLIP `config.json` (defaults as transformers' `CLIPVisionConfig`).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
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
            patch_size: 32,
            hidden_act: Activation::QuickGelu,
            layer_norm_eps: 1e-5,
            precision: Precision::F32,
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

/// A CLIP `config.json`.
///
/// A missing `projection_dim` takes transformers' default; the two tower configs must be present (transformers
/// would fill them in too, but a `config.json` without them is not a CLIP model's, and is refused up front).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct ClipConfig {
    pub text_config: TextConfig,
    pub vision_config: VisionConfig,
    pub projection_dim: usize,
}

/// The keys a CLIP `config.json` must have; parsing it as this reports a missing one as serde does.
#[derive(serde::Deserialize)]
#[allow(dead_code)] // read only for presence
struct RequiredKeys {
    text_config: serde::de::IgnoredAny,
    vision_config: serde::de::IgnoredAny,
}

impl ClipConfig {
    /// The config with both towers' linear layers at `precision`.
    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.text_config.precision = precision;
        self.vision_config.precision = precision;
        self
    }

    /// The configuration of `openai/clip-vit-base-patch32`.
    pub fn vit_b32() -> Self {
        Self {
            text_config: TextConfig {
                eos_token_id: Some(49407),
                ..TextConfig::default()
            },
            vision_config: VisionConfig::default(),
            projection_dim: 512,
        }
    }

    /// The configuration of `openai/clip-vit-base-patch16`: ViT-B/32's with 16-pixel patches
    /// (197 image tokens).
    pub fn vit_b16() -> Self {
        let mut c = Self::vit_b32();
        c.vision_config.patch_size = 16;
        c
    }

    /// The configuration of `openai/clip-vit-large-patch14`: a 24-layer, 1024-wide vision tower on
    /// 14-pixel patches (257 image tokens), a 768-wide text tower, 768-d embeddings.
    pub fn vit_l14() -> Self {
        Self {
            text_config: TextConfig {
                hidden_size: 768,
                intermediate_size: 3072,
                num_attention_heads: 12,
                eos_token_id: Some(49407),
                ..TextConfig::default()
            },
            vision_config: VisionConfig {
                hidden_size: 1024,
                intermediate_size: 4096,
                num_hidden_layers: 24,
                num_attention_heads: 16,
                patch_size: 14,
                ..VisionConfig::default()
            },
            projection_dim: 768,
        }
    }

    /// Reads and parses a `config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| EmbedError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let bad = |reason: String| EmbedError::Config {
            path: path.to_path_buf(),
            reason,
        };
        let cfg: Self = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        serde_json::from_str::<RequiredKeys>(&text).map_err(|e| bad(e.to_string()))?;
        let (t, v) = (&cfg.text_config, &cfg.vision_config);
        if t.num_attention_heads == 0 || t.hidden_size % t.num_attention_heads != 0 {
            return Err(bad(
                "text hidden_size must be a multiple of num_attention_heads".into(),
            ));
        }
        if v.num_attention_heads == 0 || v.hidden_size % v.num_attention_heads != 0 {
            return Err(bad(
                "vision hidden_size must be a multiple of num_attention_heads".into(),
            ));
        }
        if v.patch_size == 0 || v.image_size % v.patch_size != 0 {
            return Err(bad(
                "vision image_size must be a multiple of patch_size".into()
            ));
        }
        Ok(cfg)
    }
}

impl Default for ClipConfig {
    fn default() -> Self {
        Self {
            text_config: TextConfig::default(),
            vision_config: VisionConfig::default(),
            projection_dim: 512,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<ClipConfig> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, json).unwrap();
        ClipConfig::from_file(&path)
    }

    #[test]
    fn missing_fields_take_transformers_defaults() {
        let cfg = parse(r#"{"text_config":{"eos_token_id":49407},"vision_config":{}}"#).unwrap();
        let b32 = ClipConfig::vit_b32();
        assert_eq!(cfg.projection_dim, b32.projection_dim);
        assert_eq!(cfg.text_config.encoder(), b32.text_config.encoder());
        assert_eq!(cfg.vision_config.encoder(), b32.vision_config.encoder());
        assert_eq!(cfg.text_config.eos_token_id, Some(49407));
        assert_eq!(cfg.text_config.vocab_size, 49408);
        assert_eq!(cfg.vision_config.patch_size, 32);
    }

    #[test]
    fn a_config_without_a_tower_is_refused() {
        let err = parse(r#"{"text_config":{}}"#).unwrap_err().to_string();
        assert!(err.contains("missing field `vision_config`"), "{err}");
        let err = parse(r#"{"vision_config":{}}"#).unwrap_err().to_string();
        assert!(err.contains("missing field `text_config`"), "{err}");
    }

    #[test]
    fn heads_must_divide_the_width() {
        let err = parse(r#"{"text_config":{"num_attention_heads":7},"vision_config":{}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("multiple of num_attention_heads"), "{err}");
    }
}
