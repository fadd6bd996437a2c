//! Multi-head self-attention as one CPU op: softmax(q k^T) v for every (sequence, head) pair in parallel,
//! reading q, k and v where the fused projection wrote them and writing each head's output straight into
//! its columns of the `(sequence x tokens) x hidden` result that the output projection reads. Both
//! products run on the tile kernels of the linear layers ([`super::gemm`]), reading q, the probabilities
//! and v where they lie: only k is packed (transposed, 8 x 8 in registers), and nothing is zeroed before
//! a tile writes it. With a causal mask a block of queries multiplies only the keys its last query sees.
//! The attention scale is already folded into q's weights. Where the towers run at int8 and the CPU has
//! AVX-512 BF16, both products can take bf16 operands instead ([`AttentionProducts::Bf16`]).

use super::gemm::{pack_panels_whole, row_blocks, Rows, Start};
use super::team;
#[cfg(target_arch = "x86_64")]
use super::tiles_bf16;
use super::{vmath, Kernel, Unfilled};
use std::cell::RefCell;

/// The arithmetic of attention's two products, q k^T and p v.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttentionProducts {
    /// `f32` operands and sums, on the kernel's tiles.
    F32,
    /// bf16 operands, `f32` sums (`vdpbf16ps`: twice an FMA's multiply-adds an instruction) for
    /// sequences of a panel's 32 tokens or more (shorter ones stay `f32`): for towers whose linear layers
    /// run at int8, whose own rounding is coarser. Choose it with [`AttentionProducts::for_int8`];
    /// [`attention`] refuses it on a CPU without AVX-512 BF16.
    Bf16,
}

impl AttentionProducts {
    /// The products of a tower at int8 on `kernel`: bf16 where the kernel is AVX-512 and the CPU has
    /// AVX-512 BF16, else `f32`.
    pub fn for_int8(kernel: Kernel) -> Self {
        #[cfg(target_arch = "x86_64")]
        if kernel == Kernel::Avx512 && tiles_bf16::available() {
            return Self::Bf16;
        }
        let _ = kernel;
        Self::F32
    }
}

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
/// If `qkv` does not hold `sum(lengths) * 3 * heads * head_dim` values, a sequence is empty, or `products`
/// is bf16 on a CPU without AVX-512 BF16.
pub fn attention(
    kernel: Kernel,
    products: AttentionProducts,
    qkv: &[f32],
    lengths: &[usize],
    (heads, head_dim): (usize, usize),
    causal: bool,
    queries: Queries,
) -> Vec<f32> {
    let hidden = heads * head_dim;
    let rows_in: usize = lengths.iter().sum();
    assert_eq!(qkv.len(), rows_in * 3 * hidden, "qkv shape");
    // The variant is public: checked here, so that no caller reaches the bf16 tile on a CPU without it.
    #[cfg(target_arch = "x86_64")]
    assert!(
        products == AttentionProducts::F32 || tiles_bf16::available(),
        "bf16 attention products on a CPU without AVX-512 BF16 (use AttentionProducts::for_int8)"
    );
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
            // Sequences shorter than one panel of the bf16 tile (captions) keep the `f32` products:
            // there converting and packing the operands cost what the products save (CLIP captions
            // of 3-17 tokens ran 18% slower end to end with them).
            #[cfg(target_arch = "x86_64")]
            if products == AttentionProducts::Bf16 && tokens >= tiles_bf16::NR {
                // SAFETY: the CPU runs the bf16 tile (checked above); task (s, h) alone
                // writes columns col..col + head_dim of sequence s's `asked` output rows (stride
                // `hidden`), which lie inside `out`.
                unsafe {
                    head_bf16(
                        scratch,
                        rows,
                        (tokens, first_query),
                        (hidden, col, head_dim),
                        causal,
                        out_ptr.add(out_row * hidden + col),
                    )
                };
                return;
            }
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

/// One (sequence, head) of [`attention`] with bf16 products: `rows` are the sequence's q/k/v rows
/// (`3 * hidden` values each), `tokens` of them, the queries from `first_query` on; the head's columns
/// start at `col`; its output rows go to `out`, `hidden` values apart.
///
/// # Safety
/// The CPU runs [`tiles_bf16`] ([`tiles_bf16::available`]); `out` has `tokens - first_query` rows of
/// `head_dim` writable values, `hidden` apart.
#[cfg(target_arch = "x86_64")]
unsafe fn head_bf16(
    scratch: &mut Scratch,
    rows: &[f32],
    (tokens, first_query): (usize, usize),
    (hidden, col, head_dim): (usize, usize, usize),
    causal: bool,
    out: *mut f32,
) {
    use tiles_bf16::{MR, NR};
    let stride = 3 * hidden;
    let asked = tokens - first_query;
    // Words of a q or k row (pairs of its values).
    let words = head_dim.div_ceil(2);
    // k's rows as words, then transposed into panels of NR tokens (the `f32` packing moves bits).
    scratch.keys_words.resize(tokens * words, 0.0);
    for t in 0..tokens {
        let k = &rows[t * stride + hidden + col..][..head_dim];
        // SAFETY: row t's `words` words lie inside `keys_words`.
        unsafe { tiles_bf16::pairs(k, scratch.keys_words.as_mut_ptr().add(t * words).cast()) };
    }
    pack_panels_whole(
        Kernel::Avx512,
        (tokens, words),
        &scratch.keys_words,
        words,
        &mut scratch.keys,
    );
    // v as panels of NR of its columns, two tokens a step.
    let (value_steps, value_panels) = (tokens.div_ceil(2), head_dim.div_ceil(NR));
    scratch.values.resize(value_panels * value_steps * NR, 0);
    let value = &rows[2 * hidden + col..];
    for (j, panel) in scratch
        .values
        .chunks_exact_mut(value_steps * NR)
        .enumerate()
    {
        let columns = (head_dim - j * NR).min(NR);
        // SAFETY: the `tokens` rows of v, `stride` apart from column j * NR, hold `columns` values
        // of this head each inside `rows`.
        unsafe {
            tiles_bf16::value_panel(value[j * NR..].as_ptr(), stride, (tokens, columns), panel)
        };
    }
    // Score rows span whole panels, as in the `f32` products.
    let width = tokens.div_ceil(NR) * NR;
    scratch.scores.resize(asked * width, 0.0);
    scratch.lhs.resize(MR * words.max(width / 2), 0);
    for (r0, count) in row_blocks(asked, MR) {
        let reach = if causal {
            first_query + r0 + count
        } else {
            tokens
        };
        let lhs = scratch.lhs.as_mut_ptr();
        for i in 0..count {
            let q = &rows[(first_query + r0 + i) * stride + col..][..head_dim];
            // SAFETY: `lhs` holds MR rows of `words` words.
            unsafe { tiles_bf16::pairs(q, lhs.add(i * words)) };
        }
        for j in 0..reach.div_ceil(NR) {
            // SAFETY: `lhs` holds the block's q rows, `words` words each; the keys' panel j holds
            // `words` steps of NR words; score rows r0.. hold `width` values, columns j * NR ..
            // (j + 1) * NR <= width of them.
            unsafe {
                tiles_bf16::run(
                    count,
                    words,
                    (lhs, words),
                    scratch.keys[j * words * NR..].as_ptr().cast(),
                    (scratch.scores.as_mut_ptr().add(r0 * width + j * NR), width),
                    NR,
                )
            };
        }
        let span = reach.div_ceil(vmath::SOFTMAX_LANES) * vmath::SOFTMAX_LANES;
        for i in r0..r0 + count {
            let seen = if causal { first_query + i + 1 } else { tokens };
            vmath::softmax_padded(
                Kernel::Avx512,
                &mut scratch.scores[i * width..][..span],
                seen,
            );
        }
        // The probabilities as words, up to `reach` (the value past an odd `reach` is a zero of the
        // padding, so v's row there, or the zero row after the last token, adds nothing).
        let steps = reach.div_ceil(2);
        for i in 0..count {
            let p = &scratch.scores[(r0 + i) * width..][..2 * steps];
            // SAFETY: `lhs` holds MR rows of `width / 2 >= steps` words.
            unsafe { tiles_bf16::pairs(p, lhs.add(i * steps)) };
        }
        for (j, panel) in scratch.values.chunks_exact(value_steps * NR).enumerate() {
            // SAFETY: `lhs` holds the block's probability rows, `steps` words each; v's panel j holds
            // `value_steps >= steps` steps; output rows r0.. of this head have its columns j * NR ..
            // head_dim, as the caller promises.
            unsafe {
                tiles_bf16::run(
                    count,
                    steps,
                    (lhs, steps),
                    panel.as_ptr(),
                    (out.add(r0 * hidden + j * NR), hidden),
                    (head_dim - j * NR).min(NR),
                )
            };
        }
    }
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
    /// bf16 products: k's rows as words (pairs of bf16), before they are packed into `keys`.
    keys_words: Vec<f32>,
    /// bf16 products: v as panels of words.
    values: Vec<u32>,
    /// bf16 products: a block's q rows, then its probability rows, as words.
    lhs: Vec<u32>,
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
        candle_attention_rounded(qkv, (b, n), (heads, d), causal, Operands::F32)
    }

    /// What the products' operands are rounded to before they are multiplied, in [`candle_attention_rounded`].
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Operands {
        F32,
        /// q, k, v and the probabilities rounded to the nearest bf16 (as `vcvtne2ps2bf16` rounds), the
        /// products and sums in `f32`.
        Bf16,
    }

    /// [`candle_attention`] with the products' operands rounded as `operands` says.
    fn candle_attention_rounded(
        qkv: &Tensor,
        (b, n): (usize, usize),
        (heads, d): (usize, usize),
        causal: bool,
        operands: Operands,
    ) -> candle_core::Result<Vec<f32>> {
        let round = |x: Tensor| match operands {
            Operands::F32 => Ok(x),
            Operands::Bf16 => x
                .to_dtype(candle_core::DType::BF16)?
                .to_dtype(candle_core::DType::F32),
        };
        let t = qkv
            .reshape((b, n, 3, heads, d))?
            .permute((2, 0, 3, 1, 4))?
            .contiguous()?;
        let (q, k, v) = (round(t.get(0)?)?, round(t.get(1)?)?, round(t.get(2)?)?);
        let mut scores = q.matmul(&k.t()?)?;
        if causal {
            let mask: Vec<f32> = (0..n)
                .flat_map(|i| (0..n).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 }))
                .collect();
            scores = scores.broadcast_add(&Tensor::from_vec(mask, (1, 1, n, n), qkv.device())?)?;
        }
        round(candle_nn::ops::softmax_last_dim(&scores)?)?
            .matmul(&v)?
            .transpose(1, 2)?
            .reshape((b * n, heads * d))?
            .flatten_all()?
            .to_vec1::<f32>()
    }

    /// [`candle_attention`] on each of the packed sequences of `lengths` alone: every query's rows, and
    /// each sequence's last row.
    fn candle_each_sequence(
        qkv: &Tensor,
        lengths: &[usize],
        (heads, d): (usize, usize),
        causal: bool,
        operands: Operands,
    ) -> candle_core::Result<(Vec<f32>, Vec<f32>)> {
        let hidden = heads * d;
        let (mut all, mut last, mut row) = (Vec::new(), Vec::new(), 0);
        for &n in lengths {
            // Sequences shorter than a bf16 panel keep `f32` products (as `attention` does).
            let operands = if n < tiles_bf16::NR {
                Operands::F32
            } else {
                operands
            };
            let sequence = qkv.narrow(0, row, n)?;
            let one = candle_attention_rounded(&sequence, (1, n), (heads, d), causal, operands)?;
            last.extend_from_slice(&one[(n - 1) * hidden..]);
            all.extend(one);
            row += n;
        }
        Ok((all, last))
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
                let (all, last) =
                    candle_each_sequence(&qkv, &lengths, (heads, d), causal, Operands::F32)?;
                for (queries, want) in [(Queries::All, &all), (Queries::Last, &last)] {
                    let got = attention(
                        kernel,
                        AttentionProducts::F32,
                        &data,
                        &lengths,
                        (heads, d),
                        causal,
                        queries,
                    );
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

    /// bf16 products against candle's ops twice: on operands rounded to bf16 as the kernel rounds them
    /// (q, k, v and the probabilities; products and sums in `f32`), which they must equal but for the
    /// rare probability that rounds the other way (the two softmaxes differ in their last bits), and on
    /// `f32` operands, which they must match within bf16's rounding (8 significant bits a value). Packed
    /// sequences of odd lengths, every query and the last ones, causal or not, head_dim in whole and
    /// partial panels and odd word counts; q scaled by 1/sqrt(head_dim) as the towers fold it. The
    /// inputs are seeded, so that a run's worst case is every run's.
    #[test]
    fn bf16_products_match_candle_ops_within_bf16_rounding() -> candle_core::Result<()> {
        use rand::{Rng, SeedableRng};
        let dev = Device::Cpu;
        let what = "attention products, vdpbf16ps (AVX-512 BF16)";
        if !vsearch_testkit::kernels::runs(what, "avx512", tiles_bf16::available()) {
            return Ok(());
        }
        let products = AttentionProducts::for_int8(Kernel::Avx512);
        assert_eq!(products, AttentionProducts::Bf16);
        let mut rng = rand::rngs::StdRng::seed_from_u64(0xbf16);
        for &(ref lengths, heads, d) in &[
            (vec![50, 50], 12, 64),
            (vec![5, 1, 13, 7], 4, 16),
            (vec![77, 9], 8, 64),
            (vec![9, 33], 2, 72),
            (vec![33], 3, 20),
            (vec![197], 2, 64),
        ] {
            let hidden = heads * d;
            let total: usize = lengths.iter().sum();
            for causal in [true, false] {
                // Standard normal values (Box-Muller), q's columns scaled by 1/sqrt(head_dim).
                let data: Vec<f32> = (0..total * 3 * hidden)
                    .map(|i| {
                        let (u, v): (f32, f32) = (1.0 - rng.gen::<f32>(), rng.gen());
                        let normal = (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos();
                        let q = i % (3 * hidden) < hidden;
                        if q {
                            normal * (d as f32).powf(-0.5)
                        } else {
                            normal
                        }
                    })
                    .collect();
                let qkv = Tensor::from_slice(&data, (total, 3 * hidden), &dev)?;
                let exact = candle_each_sequence(&qkv, lengths, (heads, d), causal, Operands::F32)?;
                let rounded =
                    candle_each_sequence(&qkv, lengths, (heads, d), causal, Operands::Bf16)?;
                for (queries, exact, rounded) in [
                    (Queries::All, &exact.0, &rounded.0),
                    (Queries::Last, &exact.1, &rounded.1),
                ] {
                    let got = attention(
                        Kernel::Avx512,
                        products,
                        &data,
                        lengths,
                        (heads, d),
                        causal,
                        queries,
                    );
                    let case = format!("{lengths:?} h{heads} d{d} causal {causal} {queries:?}");
                    // A probability rounded the other way moves an output by at most one bf16 step of
                    // it (2^-8 of 1) times a value of v (|v| < 5 here): rare, so the mean stays small.
                    let (worst, mean) = (
                        crate::cpu::testing::max_abs_diff(&got, rounded),
                        crate::cpu::testing::rms_diff(&got, rounded),
                    );
                    assert!(
                        worst < 2e-2 && mean < 5e-4,
                        "{case}: against bf16 operands, worst {worst}, rms {mean}"
                    );
                    // bf16's rounding of q, k, v and p: about 1e-3 rms on outputs of about 1.
                    let mean = crate::cpu::testing::rms_diff(&got, exact);
                    assert!(mean < 4e-3, "{case}: against f32 operands, rms {mean}");
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
                let got = attention(
                    kernel,
                    AttentionProducts::F32,
                    &data,
                    &vec![n; b],
                    (heads, d),
                    causal,
                    Queries::All,
                );
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
