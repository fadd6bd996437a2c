//! AVX2 tile of the int8 matrix product ([`super::linear_int8`]): `R` rows (up to [`MR`]) of 7-bit
//! unsigned activations by [`NR`] columns of 7-bit signed weights, summed over the whole depth in 2 x `R`
//! ymm registers of `i32`, then turned back into `f32` with the rows' and columns' scales.
//!
//! `vpmaddubsw` multiplies 32 byte pairs and adds neighbours into 16 `i16`; two of them (8 depths) are
//! added in `i16` before one `vpmaddwd` widens the sums to `i32`, so 64 products cost three multiplies.
//! That is why both sides have 7 bits: `4 x 127 x 64 = 32512` stays below `i16::MAX`.
//!
//! The tile ends the layer itself ([`Output`]): its values go from registers straight into the layer's
//! output, through the activation ([`Finish`]: SiLU, the tanh GELU, with `vmath`'s `exp` in registers)
//! or the residual addition on the way, with no buffer between them and no second pass over the output.
//!
//! Reached only after the CPU was checked for AVX2 ([`super::linear_int8::QuantizedLinear::new`]).

use super::vmath::{self, GELU_TANH_CUBIC, GELU_TANH_SCALE};
use std::arch::x86_64::*;

/// Columns of a weight panel (two ymm vectors of `i32` sums).
pub(crate) const NR: usize = 16;
/// Most rows of one tile: 2 x 4 accumulators + 4 weight vectors + 2 broadcasts + a constant.
pub(crate) const MR: usize = 4;
/// Depths that one step of the tile consumes.
pub(crate) const DEPTH_STEP: usize = 8;

/// What happens to a tile's values between its registers and the output ([`super::linear::Epilogue`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Finish {
    /// Stored as they are.
    None,
    /// `silu(v)`.
    Silu,
    /// `gelu_tanh(v)`.
    GeluTanh,
    /// `r + v`, `r` read at the same place and stride as the output is written.
    Add(*const f32),
}

/// Where a tile's `R` rows go: row `r`'s first [`Output::columns`] values at `at + r * stride`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    /// The tile's first value in the output.
    pub(crate) at: *mut f32,
    /// Values from one output row to the next.
    pub(crate) stride: usize,
    /// Values written per row, at most the tile's panels x [`NR`] (a layer's last panel may be partial).
    pub(crate) columns: usize,
    /// What is done to the values on the way.
    pub(crate) finish: Finish,
}

/// The scales that turn a row's or column's integer sums back into values.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RowScale {
    /// Value of one step of the row's quantised activations.
    pub(crate) scale: f32,
    /// The quantised value that stands for 0.
    pub(crate) zero: i32,
}

/// One panel's per-column data, [`NR`] values each (padding columns zero).
pub(crate) struct PanelColumns<'a> {
    /// Value of one step of each column's weights.
    pub(crate) scales: &'a [f32],
    /// Sum of each column's quantised weights (for the rows' zero points).
    pub(crate) sums: &'a [i32],
    /// Bias of each column.
    pub(crate) bias: &'a [f32],
}

/// `out[r][c] = finish((sum_p (a[r][p] - zero_r) w[c][p]) * scale_r * scale_c + bias_c)` for `r < R`,
/// `c < out.columns`.
///
/// `a`: `R` rows of `steps * 8` bytes (stride `lda`); `b`: the panel, for each step 128 bytes: columns
/// 0-7 at depths 0-3 (4 bytes a column), columns 8-15 at depths 0-3, then the same at depths 4-7.
///
/// # Safety
/// The CPU has AVX2; `a` and `b` hold what is described above; `rows` has `R` values; the columns' slices
/// hold [`NR`] values each; `out` names `R` rows of `out.columns` (at most [`NR`]) writable values (and,
/// for [`Finish::Add`], as many readable ones at the same offsets).
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn tile<const R: usize>(
    steps: usize,
    a: *const u8,
    lda: usize,
    b: *const i8,
    rows: &[RowScale],
    columns: &PanelColumns<'_>,
    out: Output,
) {
    let ones = _mm256_set1_epi16(1);
    let mut acc = [[_mm256_setzero_si256(); 2]; R];
    let (mut a, mut b) = (a, b);
    for _ in 0..steps {
        let b0 = _mm256_loadu_si256(b.cast());
        let b1 = _mm256_loadu_si256(b.add(32).cast());
        let b2 = _mm256_loadu_si256(b.add(64).cast());
        let b3 = _mm256_loadu_si256(b.add(96).cast());
        for (r, row) in acc.iter_mut().enumerate() {
            let x = _mm256_set1_epi32(a.add(r * lda).cast::<i32>().read_unaligned());
            let y = _mm256_set1_epi32(a.add(r * lda + 4).cast::<i32>().read_unaligned());
            let lo = _mm256_add_epi16(_mm256_maddubs_epi16(x, b0), _mm256_maddubs_epi16(y, b2));
            let hi = _mm256_add_epi16(_mm256_maddubs_epi16(x, b1), _mm256_maddubs_epi16(y, b3));
            row[0] = _mm256_add_epi32(row[0], _mm256_madd_epi16(lo, ones));
            row[1] = _mm256_add_epi32(row[1], _mm256_madd_epi16(hi, ones));
        }
        a = a.add(DEPTH_STEP);
        b = b.add(DEPTH_STEP * NR);
    }
    end_rows(&acc, rows, columns, out);
}

/// The sums of [`tile`]'s rows turned into values and written out. Kept out of line: the loop above uses
/// all 16 ymm registers, and the constants of `exp` inlined beside it made the compiler spill an
/// accumulator in the loop.
#[inline(never)]
#[target_feature(enable = "avx2,fma")]
unsafe fn end_rows<const R: usize>(
    acc: &[[__m256i; 2]; R],
    rows: &[RowScale],
    columns: &PanelColumns<'_>,
    out: Output,
) {
    let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for h in 0..2 {
        let at = h * 8;
        let count = out.columns.saturating_sub(at).min(8);
        if count == 0 {
            continue;
        }
        // Lanes below `count` (a partial panel's last columns are not the output's).
        let mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(count as i32), lanes);
        let column_sums = _mm256_loadu_si256(columns.sums.as_ptr().add(at).cast());
        let column_scales = _mm256_loadu_ps(columns.scales.as_ptr().add(at));
        let bias = _mm256_loadu_ps(columns.bias.as_ptr().add(at));
        for (r, row) in acc.iter().enumerate() {
            let zero = _mm256_set1_epi32(rows[r].zero);
            let scales = _mm256_mul_ps(_mm256_set1_ps(rows[r].scale), column_scales);
            let exact = _mm256_sub_epi32(row[h], _mm256_mullo_epi32(zero, column_sums));
            let value = _mm256_fmadd_ps(_mm256_cvtepi32_ps(exact), scales, bias);
            let offset = r * out.stride + at;
            let value = match out.finish {
                Finish::None => value,
                Finish::Silu => _mm256_div_ps(
                    value,
                    one_plus_exp(_mm256_sub_ps(_mm256_setzero_ps(), value)),
                ),
                Finish::GeluTanh => {
                    // x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3): as `vmath::gelu_tanh`.
                    let cube = _mm256_mul_ps(_mm256_mul_ps(value, value), value);
                    let inner = _mm256_fmadd_ps(_mm256_set1_ps(GELU_TANH_CUBIC), cube, value);
                    let minus_2u = _mm256_mul_ps(_mm256_set1_ps(-2.0 * GELU_TANH_SCALE), inner);
                    _mm256_div_ps(value, one_plus_exp(minus_2u))
                }
                Finish::Add(residual) if count == 8 => {
                    _mm256_add_ps(value, _mm256_loadu_ps(residual.add(offset)))
                }
                Finish::Add(residual) => {
                    _mm256_add_ps(value, _mm256_maskload_ps(residual.add(offset), mask))
                }
            };
            // Whole stores where the 8 columns are the output's: AMD's masked stores are slow.
            if count == 8 {
                _mm256_storeu_ps(out.at.add(offset), value);
            } else {
                _mm256_maskstore_ps(out.at.add(offset), mask, value);
            }
        }
    }
}

/// `1 + e^x` in 8 lanes ([`vmath::exp_avx2`]).
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn one_plus_exp(x: __m256) -> __m256 {
    _mm256_add_ps(vmath::exp_avx2(x), _mm256_set1_ps(1.0))
}
