//! Multi-head self-attention as one CPU op: softmax(q k^T) v for every (sequence, head) pair in parallel,
//! reading q, k and v where the fused projection wrote them and writing each head's output straight into
//! its columns of the `(sequence x tokens) x hidden` result that the output projection reads. Both
//! products run on the tile kernels of the linear layers ([`super::gemm`]), reading q, the probabilities
//! and v where they lie: only k is packed (transposed, 8 x 8 in registers), and nothing is zeroed before
//! a tile writes it. With a causal mask a block of queries multiplies only the keys its last query sees.
//! The attention scale is already folded into q's weights.

use super::gemm::{pack_panels_whole, row_blocks, Rows, Start};
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
    let nr = kernel.nr();
    team::for_each(lengths.len() * heads, |task| {
        SCRATCH.with_borrow_mut(|scratch| {
            let (s, h) = (task / heads, task % heads);
            let (tokens, (row, first_query, out_row)) = (lengths[s], starts[s]);
            let asked = tokens - first_query;
            let rows = &qkv[row * 3 * hidden..(row + tokens) * 3 * hidden];
            let (col, stride) = (h * head_dim, 3 * hidden);
            // k^T as panels, each head_dim deep; q and v are read where they lie.
            pack_panels_whole(
                kernel,
                (tokens, head_dim),
                &rows[hidden + col..],
                stride,
                &mut scratch.keys,
            );
            // v's rows (one per token) are read where they lie for its whole panels; its last
            // columns, when head_dim is not a whole number of panels, are packed once per task into a
            // zero-padded panel of `tokens` rows.
            let value = &rows[2 * hidden + col..];
            let (whole, rest) = (head_dim / nr, head_dim % nr);
            if rest > 0 {
                scratch.tail.clear();
                scratch.tail.resize(tokens * nr, 0.0);
                for (t, panel_row) in scratch.tail.chunks_exact_mut(nr).enumerate() {
                    panel_row[..rest].copy_from_slice(&value[t * stride + whole * nr..][..rest]);
                }
            }
            // Score rows span whole panels, so that every panel's tile writes in place (the columns
            // past `tokens` are never read).
            let width = tokens.div_ceil(nr) * nr;
            scratch.scores.resize(asked * width, 0.0);
            for (r0, count) in row_blocks(asked, kernel.mr()) {
                // The tokens these queries see: all, or up to the block's last query when causal.
                let reach = if causal {
                    first_query + r0 + count
                } else {
                    tokens
                };
                let q = Rows {
                    a: rows[(first_query + r0) * stride + col..].as_ptr(),
                    lda: stride,
                };
                for j in 0..reach.div_ceil(nr) {
                    let keys = scratch.keys[j * head_dim * nr..][..head_dim * nr].as_ptr();
                    // SAFETY: q's `count` rows hold head_dim values each inside `rows`; the panel holds
                    // head_dim rows of nr; score rows r0.. hold `width` values, columns j * nr ..
                    // (j + 1) * nr <= width of them.
                    unsafe {
                        kernel.tile(
                            count,
                            head_dim,
                            q,
                            (keys, nr),
                            scratch.scores.as_mut_ptr().add(r0 * width + j * nr),
                            width,
                            Start::Zero,
                        )
                    };
                }
                // Each row's probabilities over the tokens it sees, zeros after them up to `reach`
                // (as whole vectors: the panels are whole vectors wide).
                let span = reach.div_ceil(vmath::SOFTMAX_LANES) * vmath::SOFTMAX_LANES;
                for i in r0..r0 + count {
                    let seen = if causal { first_query + i + 1 } else { tokens };
                    vmath::softmax_padded(kernel, &mut scratch.scores[i * width..][..span], seen);
                }
                // out = p v: the probabilities as rows `width` apart, v's rows (one per token) as the
                // panel rows, `stride` apart, written straight into this head's columns of the output.
                let p = Rows {
                    a: scratch.scores[r0 * width..].as_ptr(),
                    lda: width,
                };
                for j in 0..whole {
                    // SAFETY: the probability rows hold `reach` values; v's rows 0..reach hold this
                    // head's columns j * nr .. (j + 1) * nr <= head_dim; task (s, h) alone writes
                    // columns col..col + head_dim of sequence s's output rows (stride `hidden`), which
                    // lie inside `out`.
                    unsafe {
                        kernel.tile(
                            count,
                            reach,
                            p,
                            (value[j * nr..].as_ptr(), stride),
                            out_ptr.add((out_row + r0) * hidden + col + j * nr),
                            hidden,
                            Start::Zero,
                        )
                    };
                }
                if rest > 0 {
                    // A partial panel: the tile reads v's last columns from the padded panel packed
                    // above, writes its rows into a spill buffer, and their first `rest` columns go
                    // into the output.
                    scratch.spill.resize(count * nr, 0.0);
                    // SAFETY: as above; the spill buffer holds `count` rows of nr.
                    unsafe {
                        kernel.tile(
                            count,
                            reach,
                            p,
                            (scratch.tail.as_ptr(), nr),
                            scratch.spill.as_mut_ptr(),
                            nr,
                            Start::Zero,
                        )
                    };
                    for (r, spilled) in scratch.spill.chunks_exact(nr).enumerate() {
                        // SAFETY: as above: this task's columns of output row out_row + r0 + r.
                        let dst = unsafe {
                            std::slice::from_raw_parts_mut(
                                out_ptr.add((out_row + r0 + r) * hidden + col + whole * nr),
                                rest,
                            )
                        };
                        dst.copy_from_slice(&spilled[..rest]);
                    }
                }
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
    /// k^T as panels.
    keys: Vec<f32>,
    /// Scores, then probabilities: a row per query, of the tokens rounded up to whole panels.
    scores: Vec<f32>,
    /// v's last columns as a panel, when head_dim is not a whole number of panels.
    tail: Vec<f32>,
    /// The tile's rows for that partial panel.
    spill: Vec<f32>,
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
                // head_dim past whole panels (SigLIP so400m's 72), and not a multiple of 8.
                (2, 9, 2, 72, true),
                (1, 33, 3, 20, false),
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
