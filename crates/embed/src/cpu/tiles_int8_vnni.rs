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
//! Like the AVX2 tile, it ends the layer itself ([`Output`]), here with AVX-512's masked loads and stores
//! for a partial panel and `vscalefps` for the powers of two of `exp`.
//!
//! Reached only after the CPU was checked for AVX-512F and AVX-512 VNNI
//! ([`super::linear_int8::Int8Tile::detect`]).

use super::tiles_int8_avx2::{Finish, Output, PanelColumns, RowScale, DEPTH_STEP, NR};
use super::vmath::{self, GELU_TANH_CUBIC, GELU_TANH_SCALE};
use std::arch::x86_64::*;

/// Most rows of one tile: 8 x 2 accumulators + 4 weight vectors + 2 broadcasts, of 32 zmm registers.
pub(crate) const MR: usize = 8;
/// Most panels one tile reads side by side ([`NR`] columns each): each broadcast of a row's activations
/// then feeds two `vpdpbusd`.
pub(crate) const PANELS: usize = 2;

/// `out[r][c] = finish((sum_p (a[r][p] - zero_r) w[c][p]) * scale_r * scale_c + bias_c)` for `r < R`,
/// `c < out.columns`, over `P` panels (`P * NR` columns) at `b`, `b + panel_stride`, ...: with
/// [`Finish::None`], the bits [`super::tiles_int8_avx2::tile`] computes from the same arguments, panel by
/// panel.
///
/// # Safety
/// The CPU has AVX-512F and AVX-512 VNNI; `steps`, `a`, `lda`, `rows` are as
/// [`super::tiles_int8_avx2::tile`] asks, `b` holds `P` panels as it asks, `panel_stride` bytes apart,
/// and `columns`' slices `P * NR` values each; `out` names `R` rows of `out.columns` (at most `P * NR`)
/// writable values (and, for [`Finish::Add`], as many readable ones at the same offsets).
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f,avx512vnni")]
pub(crate) unsafe fn tile<const R: usize, const P: usize>(
    steps: usize,
    a: *const u8,
    lda: usize,
    b: *const i8,
    panel_stride: usize,
    rows: &[RowScale],
    columns: &PanelColumns<'_>,
    out: Output,
) {
    let mut acc = [[_mm512_setzero_si512(); P]; R];
    let (mut a, mut b) = (a, b);
    for _ in 0..steps {
        let mut low = [_mm512_setzero_si512(); P];
        let mut high = [_mm512_setzero_si512(); P];
        for h in 0..P {
            low[h] = _mm512_loadu_si512(b.add(h * panel_stride).cast());
            high[h] = _mm512_loadu_si512(b.add(h * panel_stride + 64).cast());
        }
        for (r, sums) in acc.iter_mut().enumerate() {
            let x = _mm512_set1_epi32(a.add(r * lda).cast::<i32>().read_unaligned());
            let y = _mm512_set1_epi32(a.add(r * lda + 4).cast::<i32>().read_unaligned());
            for h in 0..P {
                sums[h] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(sums[h], x, low[h]), y, high[h]);
            }
        }
        a = a.add(DEPTH_STEP);
        b = b.add(DEPTH_STEP * NR);
    }
    for h in 0..P {
        let at = h * NR;
        let column_sums = _mm512_loadu_si512(columns.sums.as_ptr().add(at).cast());
        let column_scales = _mm512_loadu_ps(columns.scales.as_ptr().add(at));
        let bias = _mm512_loadu_ps(columns.bias.as_ptr().add(at));
        let mask: __mmask16 = match out.columns.saturating_sub(at) {
            0 => continue,
            c if c >= NR => !0,
            c => (1u16 << c) - 1,
        };
        for (r, sums) in acc.iter().enumerate() {
            let zero = _mm512_set1_epi32(rows[r].zero);
            let scales = _mm512_mul_ps(_mm512_set1_ps(rows[r].scale), column_scales);
            let exact = _mm512_sub_epi32(sums[h], _mm512_mullo_epi32(zero, column_sums));
            let value = _mm512_fmadd_ps(_mm512_cvtepi32_ps(exact), scales, bias);
            let offset = r * out.stride + at;
            let value = match out.finish {
                Finish::None => value,
                Finish::Silu => _mm512_div_ps(
                    value,
                    one_plus_exp(_mm512_sub_ps(_mm512_setzero_ps(), value)),
                ),
                Finish::GeluTanh => {
                    // x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3): as `vmath::gelu_tanh`.
                    let cube = _mm512_mul_ps(_mm512_mul_ps(value, value), value);
                    let inner = _mm512_fmadd_ps(_mm512_set1_ps(GELU_TANH_CUBIC), cube, value);
                    let minus_2u = _mm512_mul_ps(_mm512_set1_ps(-2.0 * GELU_TANH_SCALE), inner);
                    _mm512_div_ps(value, one_plus_exp(minus_2u))
                }
                Finish::Add(residual) => {
                    _mm512_add_ps(value, _mm512_maskz_loadu_ps(mask, residual.add(offset)))
                }
            };
            _mm512_mask_storeu_ps(out.at.add(offset), mask, value);
        }
    }
}

/// `1 + e^x` in 16 lanes ([`vmath::exp_avx512`]).
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn one_plus_exp(x: __m512) -> __m512 {
    _mm512_add_ps(vmath::exp_avx512(x), _mm512_set1_ps(1.0))
}
