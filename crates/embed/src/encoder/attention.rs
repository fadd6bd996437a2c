//! Self-attention with q, k and v fused into one projection (one matrix product instead of three) and the
//! 1/sqrt(head_dim) scale folded into the q weights at load time. On the CPU the scores, softmax and
//! weighted sum run as one op ([`crate::cpu::attention`]); elsewhere as candle's ops.

use super::norm::LayerNorm;
use super::projection::{Projection, Then};
use crate::cpu::AttentionProducts;
pub(crate) use crate::cpu::Queries;
use crate::precision::Precision;
use candle_core::Tensor;
use candle_nn::{linear, Linear, VarBuilder};

pub(super) struct Attention {
    qkv: Projection,
    out: Projection,
    heads: usize,
    head_dim: usize,
    /// The layers' arithmetic: at int8 the products may take bf16 operands
    /// ([`crate::cpu::AttentionProducts::for_int8`]).
    precision: Precision,
}

impl Attention {
    pub(super) fn new(
        vb: VarBuilder,
        hidden: usize,
        heads: usize,
        precision: Precision,
    ) -> candle_core::Result<Self> {
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
            qkv: Projection::new(qkv, precision)?,
            out: Projection::new(linear(hidden, hidden, vb.pp("out_proj"))?, precision)?,
            heads,
            head_dim,
            precision,
        })
    }

    /// `residual + attention(norm(x))`. `x`: the rows of sequences of `lengths[s]` tokens one after the other;
    /// `causal`: each token attends only to itself and the tokens before it; `queries`: the rows computed
    /// (every token's, or each sequence's last), which `residual` holds and the result has.
    pub(super) fn forward(
        &self,
        x: &Tensor,
        norm: &LayerNorm,
        lengths: &[usize],
        causal: bool,
        queries: Queries,
        residual: &Tensor,
    ) -> candle_core::Result<Tensor> {
        let hidden = self.heads * self.head_dim;
        let qkv = self.qkv.forward_normed(x, norm, Then::Return)?;
        let ctx = match self.qkv.kernel() {
            Some(kernel) => {
                let heads = (self.heads, self.head_dim);
                let products = match self.precision {
                    Precision::Int8 => AttentionProducts::for_int8(kernel),
                    Precision::F32 => AttentionProducts::F32,
                };
                let ctx = crate::cpu::cpu_f32(&qkv, |qkv| {
                    crate::cpu::attention(kernel, products, qkv, lengths, heads, causal, queries)
                })?;
                let rows = ctx.len() / hidden;
                Tensor::from_vec(ctx, (rows, hidden), x.device())?
            }
            None => self.candle_sequences(&qkv, lengths, causal, queries)?,
        };
        self.out.forward(&ctx, Then::AddTo(residual))
    }

    /// [`Self::candle_ops`] over sequences of any lengths: at once when they are equal and every query
    /// is wanted, else one sequence at a time.
    fn candle_sequences(
        &self,
        qkv: &Tensor,
        lengths: &[usize],
        causal: bool,
        queries: Queries,
    ) -> candle_core::Result<Tensor> {
        let n = lengths.first().copied().unwrap_or(0);
        if queries == Queries::All && lengths.iter().all(|&l| l == n) {
            return self.candle_ops(qkv, (lengths.len(), n), causal);
        }
        let mut parts = Vec::with_capacity(lengths.len());
        let mut row = 0;
        for &len in lengths {
            let ctx = self.candle_ops(&qkv.narrow(0, row, len)?, (1, len), causal)?;
            parts.push(match queries {
                Queries::All => ctx,
                Queries::Last => ctx.narrow(0, len - 1, 1)?,
            });
            row += len;
        }
        Tensor::cat(&parts, 0)
    }

    /// The attention as candle's ops: `(b*n, 3*hidden)` -> `(b*n, hidden)`.
    fn candle_ops(
        &self,
        qkv: &Tensor,
        (b, n): (usize, usize),
        causal: bool,
    ) -> candle_core::Result<Tensor> {
        let hidden = self.heads * self.head_dim;
        // (b*n, 3*hidden) -> (3, b, heads, n, head_dim)
        let qkv = qkv
            .reshape((b, n, 3, self.heads, self.head_dim))?
            .permute((2, 0, 3, 1, 4))?
            .contiguous()?;
        let (q, k, v) = (qkv.get(0)?, qkv.get(1)?, qkv.get(2)?);
        let mut scores = q.matmul(&k.t()?)?;
        if causal {
            let mask: Vec<f32> = (0..n)
                .flat_map(|i| (0..n).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 }))
                .collect();
            let mask = Tensor::from_vec(mask, (1, 1, n, n), qkv.device())?.to_dtype(qkv.dtype())?;
            scores = scores.broadcast_add(&mask)?;
        }
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        probs.matmul(&v)?.transpose(1, 2)?.reshape((b * n, hidden))
    }
}
