//! The transformer stack of every tower here (CLIP's and SigLIP's, text and vision): pre-norm layers of
//! self-attention and an MLP (transformers' `CLIPEncoder` / `SiglipEncoder`, same weight names), built
//! from one [`EncoderConfig`].

use candle_core::{Module, Tensor};
use candle_nn::{layer_norm, linear, LayerNorm, Linear, VarBuilder};

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

/// The transformer stack of a tower: `num_hidden_layers` pre-norm layers of self-attention and an MLP.
/// Built from a tower's config (e.g. `clip::TextConfig::encoder`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EncoderConfig {
    pub num_hidden_layers: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_attention_heads: usize,
    pub hidden_act: Activation,
    pub layer_norm_eps: f64,
}

impl Activation {
    pub(crate) fn apply(self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Self::QuickGelu => x * candle_nn::ops::sigmoid(&(x * 1.702f64)?)?,
            Self::Gelu => x.gelu_erf(),
            Self::GeluNew | Self::GeluPytorchTanh => x.gelu(),
        }
    }
}

/// The activation between an MLP's two projections, as the layer runs it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum MlpActivation {
    /// `silu`, standing for quick_gelu once [`fold_quick_gelu`] has rescaled the projections.
    Silu,
    /// The configured activation, applied as it is.
    Plain(Activation),
}

impl MlpActivation {
    fn apply(self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Self::Silu => x.silu(),
            Self::Plain(a) => a.apply(x),
        }
    }
}

/// quick_gelu's constant: `quick_gelu(x) = x * sigmoid(1.702 x)`.
const QUICK_GELU_ALPHA: f64 = 1.702;

/// `x * sigmoid(a x) = silu(a x) / a`: for quick_gelu, `a` is folded into fc1's weight and bias and `1/a`
/// into fc2's weight at load time, so the layer runs one `silu` instead of a scale, a sigmoid and a product
/// (three passes over the largest activation of the layer).
fn fold_quick_gelu(fc1: Linear, fc2: Linear) -> candle_core::Result<(Linear, Linear)> {
    let a = QUICK_GELU_ALPHA;
    let fc1 = Linear::new((fc1.weight() * a)?, fc1.bias().map(|b| b * a).transpose()?);
    let fc2 = Linear::new((fc2.weight() * (1.0 / a))?, fc2.bias().cloned());
    Ok((fc1, fc2))
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

/// One pre-norm layer: `x + attn(ln1(x))`, then `h + mlp(ln2(h))`.
struct EncoderLayer {
    ln1: LayerNorm,
    attn: Attention,
    ln2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    act: MlpActivation,
}

impl EncoderLayer {
    fn new(vb: VarBuilder, c: &EncoderConfig) -> candle_core::Result<Self> {
        let (hidden, eps) = (c.hidden_size, c.layer_norm_eps);
        let fc1 = linear(hidden, c.intermediate_size, vb.pp("mlp.fc1"))?;
        let fc2 = linear(c.intermediate_size, hidden, vb.pp("mlp.fc2"))?;
        let (fc1, fc2, act) = match c.hidden_act {
            Activation::QuickGelu => {
                let (fc1, fc2) = fold_quick_gelu(fc1, fc2)?;
                (fc1, fc2, MlpActivation::Silu)
            }
            other => (fc1, fc2, MlpActivation::Plain(other)),
        };
        Ok(Self {
            ln1: layer_norm(hidden, eps, vb.pp("layer_norm1"))?,
            attn: Attention::new(vb.pp("self_attn"), hidden, c.num_attention_heads)?,
            ln2: layer_norm(hidden, eps, vb.pp("layer_norm2"))?,
            fc1,
            fc2,
            act,
        })
    }

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

/// The stack of [`EncoderConfig::num_hidden_layers`] layers (`<tower>.encoder.layers.{i}`).
pub(crate) struct Encoder {
    layers: Vec<EncoderLayer>,
}

impl Encoder {
    /// Loads the layers under `vb` (the tower's `encoder` prefix).
    pub(crate) fn new(vb: VarBuilder, c: &EncoderConfig) -> candle_core::Result<Self> {
        let layers = (0..c.num_hidden_layers)
            .map(|i| EncoderLayer::new(vb.pp(format!("layers.{i}")), c))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Self { layers })
    }

    /// `x`: b x n x hidden through every layer; `mask` (broadcast onto the attention scores) is the text
    /// tower's causal mask.
    pub(crate) fn forward(&self, x: &Tensor, mask: Option<&Tensor>) -> candle_core::Result<Tensor> {
        let mut x = x.clone();
        for layer in &self.layers {
            x = layer.forward(&x, mask)?;
        }
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    /// The folded MLP (silu between rescaled projections) equals fc2(quick_gelu(fc1(x))) with the plain ops.
    #[test]
    fn folded_quick_gelu_equals_the_plain_mlp() -> candle_core::Result<()> {
        let dev = Device::Cpu;
        let (rows, hidden, inner) = (37, 48, 192);
        let rand = |shape: (usize, usize)| Tensor::randn(0f32, 1.0, shape, &dev);
        let fc1 = Linear::new(
            (rand((inner, hidden))? * 0.2)?,
            Some(Tensor::randn(0f32, 1.0, inner, &dev)?),
        );
        let fc2 = Linear::new(
            (rand((hidden, inner))? * 0.1)?,
            Some(Tensor::randn(0f32, 1.0, hidden, &dev)?),
        );
        let x = (rand((rows, hidden))? * 2.0)?;
        let plain = fc2.forward(&Activation::QuickGelu.apply(&fc1.forward(&x)?)?)?;
        let (f1, f2) = fold_quick_gelu(fc1, fc2)?;
        let folded = f2.forward(&MlpActivation::Silu.apply(&f1.forward(&x)?)?)?;
        let diff = (plain - folded)?
            .abs()?
            .flatten_all()?
            .max(0)?
            .to_dtype(DType::F32)?
            .to_scalar::<f32>()?;
        assert!(diff < 1e-4, "largest difference {diff}");
        Ok(())
    }
}
