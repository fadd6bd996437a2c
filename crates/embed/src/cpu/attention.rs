//! Multi-head self-attention as one CPU op: softmax(q k^T) v for every (sequence, head) pair in parallel,
//! reading q, k and v where the fused projection wrote them and writing each head's output straight into
//! its columns of the `(sequence x tokens) x hidden` result that the output projection reads. Both
//! products run on the tile kernels of the linear layers ([`super::gemm`]). The attention scale is already
//! folded into q's weights; a causal mask is applied to the scores before the softmax.

use super::gemm::{
    pack_block, pack_panels, pack_panels_strided, row_blocks, OutputActivation, OutputStart,
    Product,
};
use super::team;
use super::{vmath, Kernel, Unfilled};
use std::cell::RefCell;

/// `qkv`: `batch * tokens` rows of `3 * heads * head_dim` values (q, then k, then v, each head after
/// head); returns `batch * tokens` rows of `heads * head_dim`.
///
/// # Panics
/// If `qkv` does not hold `batch * tokens * 3 * heads * head_dim` values.
pub fn attention(
    kernel: Kernel,
    qkv: &[f32],
    (batch, tokens): (usize, usize),
    (heads, head_dim): (usize, usize),
    causal: bool,
) -> Vec<f32> {
    let hidden = heads * head_dim;
    assert_eq!(qkv.len(), batch * tokens * 3 * hidden, "qkv shape");
    let mut out = Unfilled::new(batch * tokens * hidden);
    let out_ptr = out.shared();
    let blocks = row_blocks(tokens, kernel.mr());
    team::for_each(batch * heads, |task| {
        SCRATCH.with_borrow_mut(|scratch| {
            let (b, h) = (task / heads, task % heads);
            let rows = &qkv[b * tokens * 3 * hidden..(b + 1) * tokens * 3 * hidden];
            let (col, stride) = (h * head_dim, 3 * hidden);
            // q of this head as row blocks, k as panels: scores = q k^T (tokens x tokens).
            scratch.q.resize(tokens * head_dim, 0.0);
            for &block in &blocks {
                let part = &mut scratch.q[block.0 * head_dim..];
                pack_block(head_dim, block, |i, p| rows[i * stride + col + p], part);
            }
            let key = |j: usize, p: usize| rows[j * stride + hidden + col + p];
            pack_panels(kernel, (tokens, head_dim), key, &mut scratch.panels);
            scratch.scores.resize(tokens * tokens, 0.0);
            let scores = Product {
                kernel,
                a: &scratch.q,
                blocks: &blocks,
                panels: &scratch.panels,
                n: tokens,
                k: head_dim,
            };
            let whole = (0, tokens.div_ceil(kernel.nr()));
            // The product alone is wanted.
            let keep = |_: usize, _: usize, _: &mut [f32]| {};
            // SAFETY: `scratch.scores` holds tokens x tokens values and is this task's alone.
            unsafe {
                scores.columns(
                    scratch.scores.as_mut_ptr(),
                    tokens,
                    whole,
                    OutputStart::Zero,
                    keep,
                    OutputActivation::None,
                )
            };
            for (i, row) in scratch.scores.chunks_exact_mut(tokens).enumerate() {
                let seen = if causal { i + 1 } else { tokens };
                vmath::softmax(kernel, &mut row[..seen]);
                row[seen..].fill(0.0);
            }
            // The probabilities as row blocks, v as panels: out = p v (tokens x head_dim).
            scratch.p.resize(tokens * tokens, 0.0);
            for &block in &blocks {
                let part = &mut scratch.p[block.0 * tokens..];
                pack_block(tokens, block, |i, j| scratch.scores[i * tokens + j], part);
            }
            // v's rows (one per token) are this head's `head_dim` values, `stride` apart.
            let value = &rows[2 * hidden + col..];
            pack_panels_strided(
                kernel,
                (head_dim, tokens),
                value,
                stride,
                &mut scratch.panels,
            );
            let mixed = Product {
                kernel,
                a: &scratch.p,
                blocks: &blocks,
                panels: &scratch.panels,
                n: head_dim,
                k: tokens,
            };
            let whole = (0, head_dim.div_ceil(kernel.nr()));
            // SAFETY: task (b, h) alone writes columns col..col + head_dim of sequence b's rows (stride
            // `hidden`), which lie inside `out`.
            unsafe {
                let dst = out_ptr.add(b * tokens * hidden + col);
                mixed.columns(
                    dst,
                    hidden,
                    whole,
                    OutputStart::Zero,
                    keep,
                    OutputActivation::None,
                );
            }
        })
    });
    // SAFETY: the (sequence, head) tasks wrote every head's columns of every sequence's rows.
    unsafe { out.filled() }
}

thread_local! {
    /// This thread's buffers for the tasks it runs.
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// One task's buffers, kept by each thread across tasks ([`SCRATCH`]).
#[derive(Default)]
struct Scratch {
    /// q as row blocks.
    q: Vec<f32>,
    /// k, then v, as panels.
    panels: Vec<f32>,
    /// Scores, then probabilities, `tokens x tokens`.
    scores: Vec<f32>,
    /// The probabilities as row blocks.
    p: Vec<f32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    /// The fused op against candle's plain ops (permute, matmul, mask add, softmax, matmul, transpose).
    #[test]
    fn fused_attention_matches_candle_ops() -> candle_core::Result<()> {
        let dev = Device::Cpu;
        for kernel in crate::cpu::testing::levels("embed fused attention") {
            for &(b, n, heads, d, causal) in &[
                (2, 7, 3, 16, false),
                (3, 77, 8, 64, true),
                (1, 50, 12, 64, false),
            ] {
                let hidden = heads * d;
                let qkv = Tensor::randn(0f32, 1.0, (b * n, 3 * hidden), &dev)?;
                let data = qkv.flatten_all()?.to_vec1::<f32>()?;
                let got = attention(kernel, &data, (b, n), (heads, d), causal);
                let t = qkv
                    .reshape((b, n, 3, heads, d))?
                    .permute((2, 0, 3, 1, 4))?
                    .contiguous()?;
                let (q, k, v) = (t.get(0)?, t.get(1)?, t.get(2)?);
                let mut scores = q.matmul(&k.t()?)?;
                if causal {
                    let mask: Vec<f32> = (0..n)
                        .flat_map(|i| {
                            (0..n).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 })
                        })
                        .collect();
                    scores = scores.broadcast_add(&Tensor::from_vec(mask, (1, 1, n, n), &dev)?)?;
                }
                let want = candle_nn::ops::softmax_last_dim(&scores)?
                    .matmul(&v)?
                    .transpose(1, 2)?
                    .reshape((b * n, hidden))?
                    .flatten_all()?
                    .to_vec1::<f32>()?;
                let worst = crate::cpu::testing::max_abs_diff(&got, &want);
                assert!(
                    worst < 5e-5,
                    "{kernel:?} b{b} n{n} h{heads} d{d} causal {causal}: {worst}"
                );
            }
        }
        Ok(())
    }
}
