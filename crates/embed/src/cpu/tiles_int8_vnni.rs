//! AVX-512 VNNI tile of the int8 matrix product ([`super::linear_int8`]): the same panels, activations,
//! scales and result as the AVX2 tile ([`super::tiles_int8_avx2::tile`]), with one `vpdpbusd` per row
//! for each 64 products instead of three multiplies and their additions.
//!
//! A panel's step (8 depths of [`NR`] = 16 columns) is two zmm vectors: its first 64 bytes hold columns
//! 0-15 at depths 0-3, 4 bytes a column, which is the layout `vpdpbusd` multiplies against a broadcast of
//! a row's 4 activation bytes; the next 64 bytes are depths 4-7. Each row sums into one zmm of 16 `i32`
//! (the AVX2 tile needs two ymm). The sums are exact in both tiles (7-bit operands: no saturation), and the
//! conversion back to `f32` does the same operations in the same order, so both tiles give the same bits.
//!
//! Reached only after the CPU was checked for AVX-512F and AVX-512 VNNI
//! ([`super::linear_int8::Int8Tile::detect`]).

use super::tiles_int8_avx2::{PanelColumns, RowScale, DEPTH_STEP, NR};
use std::arch::x86_64::*;

/// Most rows of one tile: 8 accumulators + 2 weight vectors + 2 broadcasts, of 32 zmm registers.
pub(crate) const MR: usize = 8;

/// `out[r][c] = (sum_p (a[r][p] - zero_r) w[c][p]) * scale_r * scale_c + bias_c` for `r < R`, `c < NR`:
/// what [`super::tiles_int8_avx2::tile`] computes, from the same arguments.
///
/// # Safety
/// The CPU has AVX-512F and AVX-512 VNNI; the arguments are as [`super::tiles_int8_avx2::tile`] asks.
#[target_feature(enable = "avx512f,avx512vnni")]
pub(crate) unsafe fn tile<const R: usize>(
    steps: usize,
    a: *const u8,
    lda: usize,
    b: *const i8,
    rows: &[RowScale],
    columns: &PanelColumns<'_>,
    out: *mut f32,
) {
    let mut acc = [_mm512_setzero_si512(); R];
    let (mut a, mut b) = (a, b);
    for _ in 0..steps {
        let low = _mm512_loadu_si512(b.cast());
        let high = _mm512_loadu_si512(b.add(64).cast());
        for (r, sums) in acc.iter_mut().enumerate() {
            let x = _mm512_set1_epi32(a.add(r * lda).cast::<i32>().read_unaligned());
            let y = _mm512_set1_epi32(a.add(r * lda + 4).cast::<i32>().read_unaligned());
            *sums = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(*sums, x, low), y, high);
        }
        a = a.add(DEPTH_STEP);
        b = b.add(DEPTH_STEP * NR);
    }
    let column_sums = _mm512_loadu_si512(columns.sums.as_ptr().cast());
    let column_scales = _mm512_loadu_ps(columns.scales.as_ptr());
    let bias = _mm512_loadu_ps(columns.bias.as_ptr());
    for (r, sums) in acc.iter().enumerate() {
        let zero = _mm512_set1_epi32(rows[r].zero);
        let scales = _mm512_mul_ps(_mm512_set1_ps(rows[r].scale), column_scales);
        let exact = _mm512_sub_epi32(*sums, _mm512_mullo_epi32(zero, column_sums));
        let value = _mm512_fmadd_ps(_mm512_cvtepi32_ps(exact), scales, bias);
        _mm512_storeu_ps(out.add(r * NR), value);
    }
}
