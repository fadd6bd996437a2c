//! CLIP vision and text towers (Hugging Face `CLIPModel` checkpoints), their config and tokenizer.
//!
//! The model mirrors transformers' `CLIPModel`: same parameter names, same arithmetic.

use crate::error::{EmbedError, Result};
use crate::preprocess::{self, ClipRecipe};
use crate::{Embedder, ImageEmbedder, ModelInfo, Pixels, TextEmbedder};
use candle_core::{DType, Device, IndexOp, Module, Tensor};
use candle_nn::{layer_norm, linear, linear_no_bias, Conv2dConfig, LayerNorm, Linear, VarBuilder};
use std::path::Path;
use std::sync::Arc;

/// Longest token sequence CLIP's text tower takes.
pub const MAX_TOKENS: usize = 77;

/// Activation named by `hidden_act`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `x * sigmoid(1.702 x)` (OpenAI's checkpoints).
    QuickGelu,
    /// Exact (erf) GELU.
    Gelu,
    /// tanh-approximated GELU.
    GeluNew,
    /// tanh-approximated GELU.
    #[serde(rename = "gelu_pytorch_tanh")]
    GeluPytorchTanh,
}

impl Activation {
    fn apply(self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Self::QuickGelu => x * candle_nn::ops::sigmoid(&(x * 1.702f64)?)?,
            Self::Gelu => x.gelu_erf(),
            Self::GeluNew | Self::GeluPytorchTanh => x.gelu(),
        }
    }
}

fn quick_gelu() -> Activation {
    Activation::QuickGelu
}
fn eps() -> f64 {
    1e-5
}

/// `text_config` of a CLIP `config.json` (defaults as transformers' `CLIPTextConfig`).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct TextConfig {
    #[serde(default = "d_vocab")]
    pub vocab_size: usize,
    #[serde(default = "d_512")]
    pub hidden_size: usize,
    #[serde(default = "d_2048")]
    pub intermediate_size: usize,
    #[serde(default = "d_12")]
    pub num_hidden_layers: usize,
    #[serde(default = "d_8")]
    pub num_attention_heads: usize,
    #[serde(default = "d_77")]
    pub max_position_embeddings: usize,
    #[serde(default = "quick_gelu")]
    pub hidden_act: Activation,
    #[serde(default = "eps")]
    pub layer_norm_eps: f64,
    /// Id pooled at; `2` marks legacy configs (then pooling takes the argmax of the ids).
    #[serde(default)]
    pub eos_token_id: Option<u32>,
}

/// `vision_config` of a CLIP `config.json` (defaults as transformers' `CLIPVisionConfig`).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct VisionConfig {
    #[serde(default = "d_768")]
    pub hidden_size: usize,
    #[serde(default = "d_3072")]
    pub intermediate_size: usize,
    #[serde(default = "d_12")]
    pub num_hidden_layers: usize,
    #[serde(default = "d_12")]
    pub num_attention_heads: usize,
    #[serde(default = "d_3")]
    pub num_channels: usize,
    #[serde(default = "d_224")]
    pub image_size: usize,
    #[serde(default = "d_32")]
    pub patch_size: usize,
    #[serde(default = "quick_gelu")]
    pub hidden_act: Activation,
    #[serde(default = "eps")]
    pub layer_norm_eps: f64,
}

/// A CLIP `config.json`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ClipConfig {
    pub text_config: TextConfig,
    pub vision_config: VisionConfig,
    #[serde(default = "d_512")]
    pub projection_dim: usize,
}

fn d_vocab() -> usize {
    49408
}
fn d_512() -> usize {
    512
}
fn d_2048() -> usize {
    2048
}
fn d_12() -> usize {
    12
}
fn d_8() -> usize {
    8
}
fn d_77() -> usize {
    77
}
fn d_768() -> usize {
    768
}
fn d_3072() -> usize {
    3072
}
fn d_3() -> usize {
    3
}
fn d_224() -> usize {
    224
}
fn d_32() -> usize {
    32
}

impl ClipConfig {
    /// The configuration of `openai/clip-vit-base-patch32`.
    pub fn vit_b32() -> Self {
        let json =
            r#"{"projection_dim":512,"text_config":{"eos_token_id":49407},"vision_config":{}}"#;
        serde_json::from_str(json).unwrap_or_else(|_| unreachable!("static config parses"))
    }

    /// Reads and parses a `config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| EmbedError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let cfg: Self = serde_json::from_str(&text).map_err(|e| EmbedError::Config {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let bad = |reason: &str| EmbedError::Config {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        let (t, v) = (&cfg.text_config, &cfg.vision_config);
        if t.num_attention_heads == 0 || t.hidden_size % t.num_attention_heads != 0 {
            return Err(bad(
                "text hidden_size must be a multiple of num_attention_heads",
            ));
        }
        if v.num_attention_heads == 0 || v.hidden_size % v.num_attention_heads != 0 {
            return Err(bad(
                "vision hidden_size must be a multiple of num_attention_heads",
            ));
        }
        if v.patch_size == 0 || v.image_size % v.patch_size != 0 {
            return Err(bad("vision image_size must be a multiple of patch_size"));
        }
        Ok(cfg)
    }
}

/// Self-attention with q, k and v fused into one projection (one matrix product instead of three) and the
/// 1/sqrt(head_dim) scale folded into the q weights at load time.
struct Attention {
    qkv: Linear,
    out: Linear,
    heads: usize,
    head_dim: usize,
}

impl Attention {
    fn new(vb: VarBuilder, hidden: usize, heads: usize) -> candle_core::Result<Self> {
        let head_dim = hidden / heads;
        let scale = (head_dim as f64).powf(-0.5);
        let part = |name: &str, scale: f64| -> candle_core::Result<(Tensor, Tensor)> {
            let p = vb.pp(name);
            let w = (p.get((hidden, hidden), "weight")? * scale)?;
            let b = (p.get(hidden, "bias")? * scale)?;
            Ok((w, b))
        };
        let (qw, qb) = part("q_proj", scale)?;
        let (kw, kb) = part("k_proj", 1.0)?;
        let (vw, vbias) = part("v_proj", 1.0)?;
        let qkv = Linear::new(
            Tensor::cat(&[qw, kw, vw], 0)?,
            Some(Tensor::cat(&[qb, kb, vbias], 0)?),
        );
        Ok(Self {
            qkv,
            out: linear(hidden, hidden, vb.pp("out_proj"))?,
            heads,
            head_dim,
        })
    }

    /// `x`: (b * n) x hidden rows of `b` sequences of length `n`; returns the same shape.
    fn forward(
        &self,
        x: &Tensor,
        (b, n): (usize, usize),
        mask: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let hidden = self.heads * self.head_dim;
        // (b*n, 3*hidden) -> (3, b, heads, n, head_dim)
        let qkv = self
            .qkv
            .forward(x)?
            .reshape((b, n, 3, self.heads, self.head_dim))?
            .permute((2, 0, 3, 1, 4))?
            .contiguous()?;
        let (q, k, v) = (qkv.get(0)?, qkv.get(1)?, qkv.get(2)?);
        let mut scores = q.matmul(&k.t()?)?;
        if let Some(m) = mask {
            scores = scores.broadcast_add(m)?;
        }
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let ctx = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .reshape((b * n, hidden))?;
        self.out.forward(&ctx)
    }
}

struct Layer {
    ln1: LayerNorm,
    attn: Attention,
    ln2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    act: Activation,
}

impl Layer {
    /// `x`: b x n x hidden. The projections run on the (b * n) x hidden matrix: one large matrix product per
    /// layer instead of `b` small ones.
    fn forward(&self, x: &Tensor, mask: Option<&Tensor>) -> candle_core::Result<Tensor> {
        let (b, n, hidden) = x.dims3()?;
        let x = x.reshape((b * n, hidden))?;
        let h = (&x + self.attn.forward(&self.ln1.forward(&x)?, (b, n), mask)?)?;
        let m = self
            .fc2
            .forward(&self.act.apply(&self.fc1.forward(&self.ln2.forward(&h)?)?)?)?;
        (h + m)?.reshape((b, n, hidden))
    }
}

#[allow(clippy::too_many_arguments)]
fn encoder(
    vb: VarBuilder,
    layers: usize,
    hidden: usize,
    inter: usize,
    heads: usize,
    act: Activation,
    eps: f64,
) -> candle_core::Result<Vec<Layer>> {
    (0..layers)
        .map(|i| {
            let vb = vb.pp(format!("layers.{i}"));
            Ok(Layer {
                ln1: layer_norm(hidden, eps, vb.pp("layer_norm1"))?,
                attn: Attention::new(vb.pp("self_attn"), hidden, heads)?,
                ln2: layer_norm(hidden, eps, vb.pp("layer_norm2"))?,
                fc1: linear(hidden, inter, vb.pp("mlp.fc1"))?,
                fc2: linear(inter, hidden, vb.pp("mlp.fc2"))?,
                act,
            })
        })
        .collect()
}

struct VisionTower {
    class_embedding: Tensor,
    patch: candle_nn::Conv2d,
    positions: Tensor,
    pre_ln: LayerNorm,
    layers: Vec<Layer>,
    post_ln: LayerNorm,
    projection: Linear,
    image_size: usize,
}

impl VisionTower {
    fn new(vb: VarBuilder, c: &VisionConfig, projection_dim: usize) -> candle_core::Result<Self> {
        let m = vb.pp("vision_model");
        let e = m.pp("embeddings");
        let patches = (c.image_size / c.patch_size).pow(2);
        let conv = Conv2dConfig {
            stride: c.patch_size,
            ..Default::default()
        };
        Ok(Self {
            class_embedding: e.get(c.hidden_size, "class_embedding")?,
            patch: candle_nn::conv2d_no_bias(
                c.num_channels,
                c.hidden_size,
                c.patch_size,
                conv,
                e.pp("patch_embedding"),
            )?,
            positions: e.get((patches + 1, c.hidden_size), "position_embedding.weight")?,
            // "pre_layrnorm" is transformers' spelling.
            pre_ln: layer_norm(c.hidden_size, c.layer_norm_eps, m.pp("pre_layrnorm"))?,
            layers: encoder(
                m.pp("encoder"),
                c.num_hidden_layers,
                c.hidden_size,
                c.intermediate_size,
                c.num_attention_heads,
                c.hidden_act,
                c.layer_norm_eps,
            )?,
            post_ln: layer_norm(c.hidden_size, c.layer_norm_eps, m.pp("post_layernorm"))?,
            projection: linear_no_bias(c.hidden_size, projection_dim, vb.pp("visual_projection"))?,
            image_size: c.image_size,
        })
    }

    /// `b x 3 x S x S` pixels -> `b x projection_dim` (not normalised).
    fn forward(&self, pixels: &Tensor) -> candle_core::Result<Tensor> {
        let b = pixels.dim(0)?;
        let x = self.patch.forward(pixels)?; // b x hidden x g x g
        let hidden = x.dim(1)?;
        let x = x.flatten_from(2)?.transpose(1, 2)?; // b x patches x hidden
        let cls = self
            .class_embedding
            .reshape((1, 1, hidden))?
            .broadcast_as((b, 1, hidden))?;
        let x = Tensor::cat(&[&cls, &x], 1)?.broadcast_add(&self.positions.unsqueeze(0)?)?;
        let mut x = self.pre_ln.forward(&x)?;
        for layer in &self.layers {
            x = layer.forward(&x, None)?;
        }
        let pooled = self.post_ln.forward(&x.i((.., 0, ..))?)?;
        self.projection.forward(&pooled)
    }
}

struct TextTower {
    tokens: candle_nn::Embedding,
    positions: Tensor,
    layers: Vec<Layer>,
    final_ln: LayerNorm,
    projection: Linear,
    eos_token_id: Option<u32>,
    max_positions: usize,
}

impl TextTower {
    fn new(vb: VarBuilder, c: &TextConfig, projection_dim: usize) -> candle_core::Result<Self> {
        let m = vb.pp("text_model");
        let e = m.pp("embeddings");
        Ok(Self {
            tokens: candle_nn::embedding(c.vocab_size, c.hidden_size, e.pp("token_embedding"))?,
            positions: e.get(
                (c.max_position_embeddings, c.hidden_size),
                "position_embedding.weight",
            )?,
            layers: encoder(
                m.pp("encoder"),
                c.num_hidden_layers,
                c.hidden_size,
                c.intermediate_size,
                c.num_attention_heads,
                c.hidden_act,
                c.layer_norm_eps,
            )?,
            final_ln: layer_norm(c.hidden_size, c.layer_norm_eps, m.pp("final_layer_norm"))?,
            projection: linear_no_bias(c.hidden_size, projection_dim, vb.pp("text_projection"))?,
            eos_token_id: c.eos_token_id,
            max_positions: c.max_position_embeddings,
        })
    }

    /// `b x n` token ids (`u32`) -> `b x projection_dim` (not normalised), pooled at `pool[i]`.
    fn forward(&self, ids: &Tensor, pool: &[usize]) -> candle_core::Result<Tensor> {
        let (b, n) = ids.dims2()?;
        if n > self.max_positions {
            candle_core::bail!("{n} tokens, the model takes at most {}", self.max_positions)
        }
        let x = self
            .tokens
            .forward(ids)?
            .broadcast_add(&self.positions.narrow(0, 0, n)?.unsqueeze(0)?)?;
        let mask: Vec<f32> = (0..n)
            .flat_map(|i| (0..n).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 }))
            .collect();
        let mask = Tensor::from_vec(mask, (1, 1, n, n), ids.device())?.to_dtype(x.dtype())?;
        let mut x = x;
        for layer in &self.layers {
            x = layer.forward(&x, Some(&mask))?;
        }
        let x = self.final_ln.forward(&x)?;
        let rows = pool
            .iter()
            .enumerate()
            .map(|(i, &p)| x.i((i, p, ..)))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let pooled = Tensor::stack(&rows, 0)?;
        debug_assert_eq!(pooled.dim(0)?, b);
        self.projection.forward(&pooled)
    }

    /// Pooling position of one id row: the first `eos_token_id`, else (legacy `2` or not found) the argmax id.
    fn pool_position(&self, ids: &[u32]) -> usize {
        let first_eos = match self.eos_token_id {
            Some(eos) if eos != 2 => ids.iter().position(|&t| t == eos),
            _ => None,
        };
        first_eos.unwrap_or_else(|| {
            ids.iter()
                .enumerate()
                .fold(
                    (0, 0u32),
                    |best, (i, &t)| if t > best.1 { (i, t) } else { best },
                )
                .0
        })
    }
}

/// A loaded CLIP model (both towers) on one device.
pub struct ClipModel {
    vision: VisionTower,
    text: TextTower,
    logit_scale: f32,
    device: Device,
    /// The config it was built from.
    pub config: ClipConfig,
}

impl ClipModel {
    /// Builds the model from a VarBuilder with transformers' parameter names.
    pub fn new(vb: VarBuilder, config: &ClipConfig) -> Result<Self> {
        let device = vb.device().clone();
        let vision = VisionTower::new(vb.clone(), &config.vision_config, config.projection_dim)?;
        let text = TextTower::new(vb.clone(), &config.text_config, config.projection_dim)?;
        let logit_scale = match vb.get((), "logit_scale") {
            Ok(t) => t.to_dtype(DType::F32)?.to_scalar::<f32>()?,
            Err(_) => vb
                .get(1, "logit_scale")?
                .to_dtype(DType::F32)?
                .to_vec1::<f32>()?[0],
        };
        Ok(Self {
            vision,
            text,
            logit_scale,
            device,
            config: config.clone(),
        })
    }

    /// A model with random weights (candle's default initialisers), for benchmarks and shape checks.
    pub fn random(config: &ClipConfig, device: &Device) -> Result<Self> {
        let varmap = candle_nn::VarMap::new();
        Self::new(VarBuilder::from_varmap(&varmap, DType::F32, device), config)
    }

    /// Memory-maps `model.safetensors` of a CLIP folder and builds the model in `f32`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let config = ClipConfig::from_file(&dir.join("config.json"))?;
        let weights = dir.join("model.safetensors");
        if !weights.is_file() {
            return Err(EmbedError::MissingFiles {
                dir: dir.to_path_buf(),
                what: "model.safetensors".into(),
            });
        }
        // SAFETY: the file is memory-mapped read-only; vsearch never writes model files it maps.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], DType::F32, device) }
            .map_err(|e| EmbedError::Weights {
                path: weights.clone(),
                reason: e.to_string(),
            })?;
        Self::new(vb, &config).map_err(|e| EmbedError::Weights {
            path: weights,
            reason: e.to_string(),
        })
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
        self.vision.image_size
    }

    /// Projected image features (not normalised) of `b x 3 x S x S` pixels.
    pub fn image_features(&self, pixels: &Tensor) -> Result<Tensor> {
        Ok(self.vision.forward(pixels)?)
    }

    /// Projected text features (not normalised) of padded id rows (pooled at the first end-of-text id).
    pub fn text_features(&self, ids: &[Vec<u32>]) -> Result<Tensor> {
        let n = ids.iter().map(Vec::len).max().unwrap_or(0);
        if n == 0 {
            return Err(EmbedError::Tokenizer("no tokens".into()));
        }
        let pool: Vec<usize> = ids.iter().map(|row| self.text.pool_position(row)).collect();
        let flat: Vec<u32> = ids
            .iter()
            .flat_map(|row| {
                row.iter().copied().chain(std::iter::repeat_n(
                    row.last().copied().unwrap_or(0),
                    n - row.len(),
                ))
            })
            .collect();
        let t = Tensor::from_vec(flat, (ids.len(), n), &self.device)?;
        Ok(self.text.forward(&t, &pool)?)
    }
}

/// CLIP's tokenizer from a `tokenizer.json`: lower-cased BPE, start token first, at most 77 ids with end-of-text last.
pub struct ClipTokenizer {
    inner: tokenizers::Tokenizer,
    bos: u32,
    eos: u32,
    max_len: usize,
}

impl ClipTokenizer {
    /// Loads `tokenizer.json`.
    pub fn from_file(path: &Path, max_len: usize) -> Result<Self> {
        let mut inner = tokenizers::Tokenizer::from_file(path)
            .map_err(|e| EmbedError::Tokenizer(format!("{}: {e}", path.display())))?;
        inner.with_padding(None);
        inner
            .with_truncation(None)
            .map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
        let id = |t: &str| {
            inner
                .token_to_id(t)
                .ok_or_else(|| EmbedError::Tokenizer(format!("{}: no {t} token", path.display())))
        };
        let bos = id("<|startoftext|>")?;
        let eos = id("<|endoftext|>")?;
        Ok(Self {
            inner,
            bos,
            eos,
            max_len: max_len.max(2),
        })
    }

    /// Id of `<|endoftext|>`.
    pub fn eos_id(&self) -> u32 {
        self.eos
    }

    /// Ids of one string: `<|startoftext|>`, at most `max_len - 2` text tokens, `<|endoftext|>`.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
        let body = enc.get_ids();
        let keep = body.len().min(self.max_len - 2);
        let mut ids = Vec::with_capacity(keep + 2);
        ids.push(self.bos);
        ids.extend_from_slice(&body[..keep]);
        ids.push(self.eos);
        Ok(ids)
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
    fn embed_pixels(&self, batch: &[Pixels]) -> Result<Vec<Vec<f32>>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let s = self.model.image_size();
        if batch.iter().any(|p| p.height != s || p.width != s) {
            return Err(EmbedError::Decode(format!(
                "CLIP input must be {s}x{s} pixels"
            )));
        }
        let t = preprocess::batch_tensor(batch, self.model.device())?;
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
/// `preprocessor_config.json`) as an [`Embedder`] with id `id`.
pub fn load_dir(dir: &Path, id: String, device: &Device) -> Result<Embedder> {
    let missing: Vec<&str> = crate::registry::CLIP_FILES
        .iter()
        .copied()
        .filter(|f| !dir.join(f).is_file())
        .collect();
    if !missing.is_empty() {
        return Err(EmbedError::MissingFiles {
            dir: dir.to_path_buf(),
            what: format!(
                "{} (a Hugging Face CLIPModel folder needs {})",
                missing.join(", "),
                crate::registry::CLIP_FILES.join(", ")
            ),
        });
    }
    let model = Arc::new(ClipModel::load(dir, device)?);
    let tokenizer = ClipTokenizer::from_file(
        &dir.join("tokenizer.json"),
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
        text: Some(Box::new(ClipTextEmbedder {
            model,
            tokenizer,
            id,
        })),
    })
}
