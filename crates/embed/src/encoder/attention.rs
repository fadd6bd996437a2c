//! Self-attention with q, k and v fused into one projection (one matrix product instead of three) and the
//! 1/sqrt(head_dim) scale folded into the q weights at load time. On the CPU the scores, softmax and
//! weighted sum run as one op ([`crate::cpu::attention`]); elsewhere as candle's ops.

use super::projection::{Projection, Then};
use crate::precision::Precision;
use candle_core::Tensor;
use candle_nn::{linear, Linear, VarBuilder};

pub(super) struct Attention {
    qkv: Projection,
    out: Projection,
    heads: usize,
    head_dim: usize,
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
        })
    }

    /// `residual + attention(x)`. `x`, `residual`: (b * n) x hidden rows of `b` sequences of length `n`;
    /// `causal`: each token attends only to itself and the tokens before it.
    pub(super) fn forward(
        &self,
        x: &Tensor,
        (b, n): (usize, usize),
        causal: bool,
        residual: &Tensor,
    ) -> candle_core::Result<Tensor> {
        let hidden = self.heads * self.head_dim;
        let qkv = self.qkv.forward(x, Then::Return)?;
        let ctx = match self.qkv.kernel() {
            Some(kernel) => {
                let ctx = crate::cpu::cpu_f32(&qkv, |qkv| {
                    crate::cpu::attention(kernel, qkv, (b, n), (self.heads, self.head_dim), causal)
                })?;
                Tensor::from_vec(ctx, (b * n, hidden), x.device())?
            }
            None => self.candle_ops(&qkv, (b, n), causal)?,
        };
        self.out.forward(&ctx, Then::AddTo(residual))
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
