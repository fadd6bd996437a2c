//! The transformer stack of every tower here (CLIP's and SigLIP's, text and vision): pre-norm layers of
//! self-attention and an MLP (transformers' `CLIPEncoder` / `SiglipEncoder`, same weight names), built
//! from one [`EncoderConfig`].

mod attention;
mod norm;
mod patch;
mod projection;

use crate::precision::Precision;
use attention::Attention;
pub(crate) use attention::Queries;
use candle_core::Tensor;
use candle_nn::{linear, Linear, VarBuilder};
pub(crate) use norm::{layer_norm, LayerNorm};
pub(crate) use patch::PatchEmbedding;
use projection::{Projection, Then};

/// Activation named by `hidden_act`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
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
    /// Arithmetic of the layers' linear layers (attention's projections, the MLP).
    pub precision: Precision,
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
    /// The tanh GELU, fused into fc1's output as it is finished (libm's scalar `tanhf` took a third of
    /// SigLIP's int8 time).
    GeluTanh,
    /// The configured activation, applied as it is.
    Plain(Activation),
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

/// One pre-norm layer: `x + attn(ln1(x))`, then `h + mlp(ln2(h))`.
struct EncoderLayer {
    ln1: LayerNorm,
    attn: Attention,
    ln2: LayerNorm,
    fc1: Projection,
    fc2: Projection,
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
            Activation::GeluNew | Activation::GeluPytorchTanh => {
                (fc1, fc2, MlpActivation::GeluTanh)
            }
            other => (fc1, fc2, MlpActivation::Plain(other)),
        };
        Ok(Self {
            ln1: layer_norm(hidden, eps, vb.pp("layer_norm1"))?,
            attn: Attention::new(
                vb.pp("self_attn"),
                hidden,
                c.num_attention_heads,
                c.precision,
            )?,
            ln2: layer_norm(hidden, eps, vb.pp("layer_norm2"))?,
            fc1: Projection::new(fc1, c.precision)?,
            fc2: Projection::new(fc2, c.precision)?,
            act,
        })
    }

    /// `x`: the rows of sequences of `lengths[s]` tokens one after the other (no padding between them).
    /// The projections run on all the rows at once: one large matrix product per layer instead of one
    /// per sequence; the residual adds and the MLP's activation happen in the projections' outputs. With
    /// [`Queries::Last`] the result has only each sequence's last row (its attention still reads every
    /// token's keys and values): what a tower pooled at that token needs of its last layer.
    fn forward(
        &self,
        x: &Tensor,
        lengths: &[usize],
        causal: bool,
        queries: Queries,
    ) -> candle_core::Result<Tensor> {
        let residual = match queries {
            Queries::All => x.clone(),
            Queries::Last => x.index_select(&last_rows(lengths, x.device())?, 0)?,
        };
        let h = self
            .attn
            .forward(x, &self.ln1, lengths, causal, queries, &residual)?;
        let (fc1, ln2) = (&self.fc1, &self.ln2);
        let inner = match self.act {
            MlpActivation::Silu => fc1.forward_normed(&h, ln2, Then::Silu)?,
            MlpActivation::GeluTanh => fc1.forward_normed(&h, ln2, Then::GeluTanh)?,
            MlpActivation::Plain(a) => a.apply(&fc1.forward_normed(&h, ln2, Then::Return)?)?,
        };
        self.fc2.forward(&inner, Then::AddTo(&h))
    }
}

/// Index of each sequence's last row among the rows of sequences of `lengths` one after the other.
fn last_rows(lengths: &[usize], device: &candle_core::Device) -> candle_core::Result<Tensor> {
    let ends: Vec<u32> = lengths
        .iter()
        .scan(0usize, |end, &len| {
            *end += len;
            Some(*end as u32 - 1)
        })
        .collect();
    Tensor::from_vec(ends, lengths.len(), device)
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

    /// `x`: b x n x hidden through every layer; `causal` (CLIP's text tower) lets each token attend only
    /// to itself and the tokens before it.
    pub(crate) fn forward(&self, x: &Tensor, causal: bool) -> candle_core::Result<Tensor> {
        let (b, n, hidden) = x.dims3()?;
        let lengths = vec![n; b];
        let rows =
            self.forward_rows(&x.reshape((b * n, hidden))?, &lengths, causal, Queries::All)?;
        rows.reshape((b, n, hidden))
    }

    /// The rows of sequences of `lengths[s]` tokens one after the other (`sum(lengths) x hidden`, no
    /// padding) through every layer; with [`Queries::Last`] the last layer computes only each sequence's
    /// last row (`lengths.len() x hidden`), for a tower pooled at its sequences' last tokens.
    pub(crate) fn forward_rows(
        &self,
        x: &Tensor,
        lengths: &[usize],
        causal: bool,
        queries: Queries,
    ) -> candle_core::Result<Tensor> {
        let mut x = x.clone();
        let last = self.layers.len().saturating_sub(1);
        for (i, layer) in self.layers.iter().enumerate() {
            let asked = if i == last { queries } else { Queries::All };
            x = layer.forward(&x, lengths, causal, asked)?;
        }
        if self.layers.is_empty() && queries == Queries::Last {
            x = x.index_select(&last_rows(lengths, x.device())?, 0)?;
        }
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Module};

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
        let folded = f2.forward(&f1.forward(&x)?.silu()?)?;
        let diff = crate::cpu::testing::max_abs_diff_tensors(&plain, &folded)?;
        assert!(diff < 1e-4, "largest difference {diff}");
        Ok(())
    }
}
