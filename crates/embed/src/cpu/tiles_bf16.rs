//! AVX-512 BF16 tile of attention's two products where the towers run at int8 ([`super::attention`],
//! [`super::AttentionProducts::Bf16`]): `vdpbf16ps` adds two products of bf16 pairs into each `f32` lane,
//! twice an FMA's multiply-adds an instruction, with the sums in `f32`. The operands are rounded to bf16
//! (8 significant bits, about the int8 layers' own precision); the scores' softmax stays `f32`.
//!
//! The layout is the `f32` AVX-512 tile's ([`super::tiles_avx512`]) with each value replaced by a pair of
//! consecutive depths in one 32-bit word: `A`'s rows are words (a row of `f32` values rounded to bf16 is
//! its own word row, [`pairs`]), and a panel step is [`NR`] words, one per column. For q k^T the panel is
//! k's rows as words, transposed like the `f32` keys; for p v it is v's rows two tokens at a time,
//! interleaved ([`value_panel`]).
//!
//! Reached only after the CPU was checked for AVX-512F, AVX-512BW and AVX-512 BF16 ([`available`]).

use std::arch::x86_64::*;

/// Columns of a panel: two zmm of 16 sums.
pub(crate) const NR: usize = 32;
/// Most rows of one tile: 2 x 12 accumulators + 2 panel vectors + a broadcast, of 32 registers.
pub(crate) const MR: usize = 12;

/// Whether this CPU runs the tile and the conversions.
pub(crate) fn available() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512bf16")
}

/// The lanes of the 16 from index `at` that are below `columns` (the first `columns` values are the ones
/// to read or write; pointers to masked-off lanes may lie past a buffer's end: they are formed with
/// `wrapping_add` and never read or written).
fn lanes(columns: usize, at: usize) -> __mmask16 {
    match columns.saturating_sub(at) {
        0 => 0,
        c if c >= 16 => !0,
        c => (1u16 << c) - 1,
    }
}

/// `c[r][j] = sum_s a[r][s] . b[s][j]` for `r < R`, `j < columns`, over `steps` words: each word of `a`
/// (rows `lda` words apart) and of `b` (rows of [`NR`] words) a pair of bf16, the two products of a pair
/// summed in `f32`.
///
/// # Safety
/// The CPU has AVX-512F and AVX-512 BF16; `a` holds `R` rows of `steps` words `lda` apart, `b` holds
/// `steps` rows of [`NR`] words, and each of the `R` rows of `c` (stride `ldc`) has `columns` (at most
/// [`NR`]) writable values.
#[target_feature(enable = "avx512f,avx512bf16")]
pub(crate) unsafe fn tile<const R: usize>(
    steps: usize,
    (a, lda): (*const u32, usize),
    b: *const u32,
    (c, ldc): (*mut f32, usize),
    columns: usize,
) {
    let mut acc = [[_mm512_setzero_ps(); 2]; R];
    let (mut a, mut b) = (a, b);
    for _ in 0..steps {
        // SAFETY (this loop): the reads stay inside `a`'s rows and `b`'s steps, as the caller promises;
        // a zmm of 16 words is a zmm of 32 bf16 (both plain 64-byte vectors).
        let b0: __m512bh = unsafe { std::mem::transmute(_mm512_loadu_si512(b.cast())) };
        let b1: __m512bh = unsafe { std::mem::transmute(_mm512_loadu_si512(b.add(16).cast())) };
        for (r, row) in acc.iter_mut().enumerate() {
            let word = unsafe { a.add(r * lda).read_unaligned() } as i32;
            let x: __m512bh = unsafe { std::mem::transmute(_mm512_set1_epi32(word)) };
            row[0] = _mm512_dpbf16_ps(row[0], x, b0);
            row[1] = _mm512_dpbf16_ps(row[1], x, b1);
        }
        a = a.wrapping_add(1);
        b = b.wrapping_add(NR);
    }
    let (low, high) = (lanes(columns, 0), lanes(columns, 16));
    for (r, row) in acc.iter().enumerate() {
        // SAFETY: row r of `c` has `columns` writable values; the masks store no others.
        unsafe {
            _mm512_mask_storeu_ps(c.add(r * ldc), low, row[0]);
            _mm512_mask_storeu_ps(c.wrapping_add(r * ldc + 16), high, row[1]);
        }
    }
}

/// [`tile`] for `rows` (1 to [`MR`]) rows.
///
/// # Safety
/// As [`tile`].
pub(crate) unsafe fn run(
    rows: usize,
    steps: usize,
    a: (*const u32, usize),
    b: *const u32,
    c: (*mut f32, usize),
    columns: usize,
) {
    macro_rules! by_rows {
        ($($r:literal),*) => {
            match rows {
                // SAFETY: as the caller promises.
                $($r => unsafe { tile::<$r>(steps, a, b, c, columns) },)*
                _ => unreachable!("a bf16 tile has 1 to {MR} rows, not {rows}"),
            }
        };
    }
    by_rows!(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)
}

/// `x` rounded to bf16 (to nearest, ties to even) as `x.len().div_ceil(2)` words at `words`: value `2i`
/// in the low half of word `i`, `2i + 1` in the high half (zero past the end of `x`).
///
/// # Safety
/// The CPU has AVX-512F and AVX-512 BF16; `words` has `x.len().div_ceil(2)` writable words.
#[target_feature(enable = "avx512f,avx512bf16")]
pub(crate) unsafe fn pairs(x: &[f32], words: *mut u32) {
    let count = x.len().div_ceil(2);
    for (chunk, at) in (0..x.len()).step_by(2 * 16).enumerate() {
        let left = x.len() - at;
        // SAFETY: the masks read only values of `x` and write only the `count` words.
        unsafe {
            let low = _mm512_maskz_loadu_ps(lanes(left, 0), x.as_ptr().add(at));
            let high = _mm512_maskz_loadu_ps(lanes(left, 16), x.as_ptr().wrapping_add(at + 16));
            // Elements 0-15 from `low`, 16-31 from `high`: in memory, value 2i and 2i + 1 make word i.
            let both: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(high, low));
            _mm512_mask_storeu_epi32(words.add(16 * chunk).cast(), lanes(count, 16 * chunk), both);
        }
    }
}

/// Columns `0..columns` (at most [`NR`]) of `tokens` rows of v (the first at `v`, the rows `stride`
/// values apart) as a p v panel: `tokens.div_ceil(2)` steps of [`NR`] words into `out`, word `j` of step
/// `t` the bf16 pair (v[2t][j], v[2t + 1][j]); a missing token or column is zero.
///
/// # Safety
/// The CPU has AVX-512F, AVX-512BW and AVX-512 BF16; the `tokens` rows' first `columns` values are
/// readable; `out` holds the steps.
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
pub(crate) unsafe fn value_panel(
    v: *const f32,
    stride: usize,
    (tokens, columns): (usize, usize),
    out: &mut [u32],
) {
    assert!(out.len() >= tokens.div_ceil(2) * NR, "the panel is short");
    // Word j of the result: bf16 j (first row) then bf16 16 + j (second row).
    let interleave = _mm512_set_epi16(
        31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21, 5, 20, 4,
        19, 3, 18, 2, 17, 1, 16, 0,
    );
    for (t, step) in out
        .chunks_exact_mut(NR)
        .take(tokens.div_ceil(2))
        .enumerate()
    {
        let second = 2 * t + 1 < tokens;
        for half in 0..2 {
            let mask = lanes(columns, 16 * half);
            // SAFETY: the masks read only the rows' first `columns` values; row 2t + 1 only if it
            // exists; `step` holds NR words.
            unsafe {
                let first = _mm512_maskz_loadu_ps(mask, v.wrapping_add(2 * t * stride + 16 * half));
                let next = if second {
                    _mm512_maskz_loadu_ps(mask, v.wrapping_add((2 * t + 1) * stride + 16 * half))
                } else {
                    _mm512_setzero_ps()
                };
                let both: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(next, first));
                let words = _mm512_permutexvar_epi16(interleave, both);
                _mm512_storeu_si512(step.as_mut_ptr().add(16 * half).cast(), words);
            }
        }
    }
}
