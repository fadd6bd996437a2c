//! AVX2 tile of the int8 matrix product ([`super::linear_int8`]): `R` rows (up to [`MR`]) of 7-bit
//! unsigned activations by [`NR`] columns of 7-bit signed weights, summed over the whole depth in 2 x `R`
//! ymm registers of `i32`, then turned back into `f32` with the rows' and columns' scales.
//!
//! `vpmaddubsw` multiplies 32 byte pairs and adds neighbours into 16 `i16`; two of them (8 depths) are
//! added in `i16` before one `vpmaddwd` widens the sums to `i32`, so 64 products cost three multiplies.
//! That is why both sides have 7 bits: `4 x 127 x 64 = 32512` stays below `i16::MAX`.
//!
//! Reached only after the CPU was checked for AVX2 ([`super::linear_int8::QuantizedLinear::new`]).

use std::arch::x86_64::*;

/// Columns of a weight panel (two ymm vectors of `i32` sums).
pub(crate) const NR: usize = 16;
/// Most rows of one tile: 2 x 4 accumulators + 4 weight vectors + 2 broadcasts + a constant.
pub(crate) const MR: usize = 4;
/// Depths that one step of the tile consumes.
pub(crate) const DEPTH_STEP: usize = 8;

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

/// `out[r][c] = (sum_p (a[r][p] - zero_r) w[c][p]) * scale_r * scale_c + bias_c` for `r < R`, `c < NR`.
///
/// `a`: `R` rows of `steps * 8` bytes (stride `lda`); `b`: the panel, for each step 128 bytes: columns
/// 0-7 at depths 0-3 (4 bytes a column), columns 8-15 at depths 0-3, then the same at depths 4-7.
///
/// # Safety
/// The CPU has AVX2; `a` and `b` hold what is described above; `rows` has `R` values; the columns' slices
/// hold [`NR`] values each; `out` holds `R x NR` writable values.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn tile<const R: usize>(
    steps: usize,
    a: *const u8,
    lda: usize,
    b: *const i8,
    rows: &[RowScale],
    columns: &PanelColumns<'_>,
    out: *mut f32,
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
    for (r, row) in acc.iter().enumerate() {
        let zero = _mm256_set1_epi32(rows[r].zero);
        let scale = _mm256_set1_ps(rows[r].scale);
        for (h, sums) in row.iter().enumerate() {
            let at = h * 8;
            let column_sums = _mm256_loadu_si256(columns.sums.as_ptr().add(at).cast());
            let exact = _mm256_sub_epi32(*sums, _mm256_mullo_epi32(zero, column_sums));
            let scales = _mm256_mul_ps(scale, _mm256_loadu_ps(columns.scales.as_ptr().add(at)));
            let bias = _mm256_loadu_ps(columns.bias.as_ptr().add(at));
            let value = _mm256_fmadd_ps(_mm256_cvtepi32_ps(exact), scales, bias);
            _mm256_storeu_ps(out.add(r * NR + at), value);
        }
    }
}
