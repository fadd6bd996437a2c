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

/// Which query rows of each sequence the attention computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queries {
    /// Every token's row.
    All,
    /// Only each sequence's last token (what a tower pooled at that token needs of its last layer).
    Last,
}

/// `qkv`: the rows of sequences of `lengths[s]` tokens one after the other, each row `3 * heads *
/// head_dim` values (q, then k, then v, each head after head); returns, sequence after sequence, the rows
/// of `heads * head_dim` values of the queries `queries` picks (every token's, or one row per sequence).
///
/// # Panics
/// If `qkv` does not hold `sum(lengths) * 3 * heads * head_dim` values, or a sequence is empty.
pub fn attention(
    kernel: Kernel,
    qkv: &[f32],
    lengths: &[usize],
    (heads, head_dim): (usize, usize),
    causal: bool,
    queries: Queries,
) -> Vec<f32> {
    let hidden = heads * head_dim;
    let rows_in: usize = lengths.iter().sum();
    assert_eq!(qkv.len(), rows_in * 3 * hidden, "qkv shape");
    assert!(lengths.iter().all(|&n| n > 0), "empty sequence");
    // Each sequence's first input row, first query (within the sequence) and first output row.
    let mut starts = Vec::with_capacity(lengths.len());
    let (mut row, mut out_row) = (0, 0);
    for &tokens in lengths {
        let first_query = match queries {
            Queries::All => 0,
            Queries::Last => tokens - 1,
        };
        starts.push((row, first_query, out_row));
        row += tokens;
        out_row += tokens - first_query;
    }
    let mut out = Unfilled::new(out_row * hidden);
    let out_ptr = out.shared();
    team::for_each(lengths.len() * heads, |task| {
        SCRATCH.with_borrow_mut(|scratch| {
            let (s, h) = (task / heads, task % heads);
            let (tokens, (row, first_query, out_row)) = (lengths[s], starts[s]);
            let asked = tokens - first_query;
            let blocks = row_blocks(asked, kernel.mr());
            let rows = &qkv[row * 3 * hidden..(row + tokens) * 3 * hidden];
            let (col, stride) = (h * head_dim, 3 * hidden);
            // The asked queries of this head as row blocks, k as panels: scores = q k^T (asked x tokens).
            scratch.q.resize(asked * head_dim, 0.0);
            for &block in &blocks {
                let part = &mut scratch.q[block.0 * head_dim..];
                let query = |i: usize, p: usize| rows[(first_query + i) * stride + col + p];
                pack_block(head_dim, block, query, part);
            }
            let key = |j: usize, p: usize| rows[j * stride + hidden + col + p];
            pack_panels(kernel, (tokens, head_dim), key, &mut scratch.panels);
            // Score rows span whole panels, so that every panel's tile writes in place (the columns
            // past `tokens` score k's zero padding and are never read).
            let width = tokens.div_ceil(kernel.nr()) * kernel.nr();
            scratch.scores.resize(asked * width, 0.0);
            let scores = Product {
                kernel,
                a: &scratch.q,
                blocks: &blocks,
                panels: &scratch.panels,
                n: width,
                k: head_dim,
            };
            let whole = (0, width / kernel.nr());
            // The product alone is wanted.
            let keep = |_: usize, _: usize, _: &mut [f32]| {};
            // SAFETY: `scratch.scores` holds asked x width values and is this task's alone.
            unsafe {
                scores.columns(
                    scratch.scores.as_mut_ptr(),
                    width,
                    whole,
                    OutputStart::Zero,
                    keep,
                    OutputActivation::None,
                )
            };
            for (i, row) in scratch.scores.chunks_exact_mut(width).enumerate() {
                let seen = if causal { first_query + i + 1 } else { tokens };
                vmath::softmax(kernel, &mut row[..seen]);
                row[seen..tokens].fill(0.0);
            }
            // The probabilities as row blocks, v as panels: out = p v (asked x head_dim).
            scratch.p.resize(asked * tokens, 0.0);
            for &block in &blocks {
                let part = &mut scratch.p[block.0 * tokens..];
                pack_block(tokens, block, |i, j| scratch.scores[i * width + j], part);
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
            // SAFETY: task (s, h) alone writes columns col..col + head_dim of sequence s's output rows
            // (stride `hidden`), which lie inside `out`.
            unsafe {
                let dst = out_ptr.add(out_row * hidden + col);
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
    // SAFETY: the (sequence, head) tasks wrote every head's columns of every sequence's output rows.
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
    /// Scores, then probabilities: a row per query, of the tokens rounded up to whole panels.
    scores: Vec<f32>,
    /// The probabilities as row blocks.
    p: Vec<f32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    /// softmax(q k^T + mask) v with candle's plain ops (permute, matmul, mask add, softmax, matmul,
    /// transpose) of `b` sequences of `n` tokens: `(b*n, 3*hidden)` -> `b*n` rows of `hidden`.
    fn candle_attention(
        qkv: &Tensor,
        (b, n): (usize, usize),
        (heads, d): (usize, usize),
        causal: bool,
    ) -> candle_core::Result<Vec<f32>> {
        let t = qkv
            .reshape((b, n, 3, heads, d))?
            .permute((2, 0, 3, 1, 4))?
            .contiguous()?;
        let (q, k, v) = (t.get(0)?, t.get(1)?, t.get(2)?);
        let mut scores = q.matmul(&k.t()?)?;
        if causal {
            let mask: Vec<f32> = (0..n)
                .flat_map(|i| (0..n).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 }))
                .collect();
            scores = scores.broadcast_add(&Tensor::from_vec(mask, (1, 1, n, n), qkv.device())?)?;
        }
        candle_nn::ops::softmax_last_dim(&scores)?
            .matmul(&v)?
            .transpose(1, 2)?
            .reshape((b * n, heads * d))?
            .flatten_all()?
            .to_vec1::<f32>()
    }

    /// Sequences of different lengths packed without padding, every query and the last ones only,
    /// against candle's ops on each sequence alone.
    #[test]
    fn packed_sequences_match_each_sequence_alone() -> candle_core::Result<()> {
        let dev = Device::Cpu;
        let (heads, d) = (4, 16);
        let hidden = heads * d;
        let lengths = [5, 1, 13, 7];
        let total: usize = lengths.iter().sum();
        for kernel in crate::cpu::testing::levels("embed packed attention") {
            for causal in [true, false] {
                let qkv = Tensor::randn(0f32, 1.0, (total, 3 * hidden), &dev)?;
                let data = qkv.flatten_all()?.to_vec1::<f32>()?;
                let (mut all, mut last, mut row) = (Vec::new(), Vec::new(), 0);
                for &n in &lengths {
                    let one =
                        candle_attention(&qkv.narrow(0, row, n)?, (1, n), (heads, d), causal)?;
                    last.extend_from_slice(&one[(n - 1) * hidden..]);
                    all.extend(one);
                    row += n;
                }
                for (queries, want) in [(Queries::All, &all), (Queries::Last, &last)] {
                    let got = attention(kernel, &data, &lengths, (heads, d), causal, queries);
                    assert_eq!(got.len(), want.len(), "{queries:?}");
                    let worst = crate::cpu::testing::max_abs_diff(&got, want);
                    assert!(
                        worst < 5e-5,
                        "{kernel:?} causal {causal} {queries:?}: {worst}"
                    );
                }
            }
        }
        Ok(())
    }

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
                let got = attention(kernel, &data, &vec![n; b], (heads, d), causal, Queries::All);
                let want = candle_attention(&qkv, (b, n), (heads, d), causal)?;
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
