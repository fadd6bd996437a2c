//! Element-wise math of the CPU transformer kernels, written as plain loops over `f32` that the compiler
//! vectorises for the instruction set of the calling kernel (each public function is compiled once per
//! [`Kernel`] level and dispatched on it).

use super::Kernel;
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

pub(super) const LOG2_E: f32 = std::f32::consts::LOG2_E;
// ln 2 split in two so that `x - n ln2` stays exact for the n of f32's range (Cephes' expf constants).
pub(super) const LN2_HI: f32 = 0.693_359_4;
pub(super) const LN2_LO: f32 = -2.121_944_4e-4;
/// Above this `exp` would leave f32's range; clamping keeps the scale factor a normal power of two.
pub(super) const EXP_MAX: f32 = 88.0;
/// Below this `exp` is under f32's smallest normal.
pub(super) const EXP_MIN: f32 = -87.0;
/// Cephes' degree-6 polynomial for `e^r`, `|r| <= ln2 / 2`: `e^r = p(r) r^2 + r + 1`, with `p`'s
/// coefficients here from the highest power down (evaluated by Horner's rule).
pub(super) const EXP_POLY: [f32; 6] = [
    1.987_569_1e-4,
    1.398_199_9e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    1.666_666_5e-1,
    0.5,
];
/// `1.5 * 2^23`: added to a small integer-valued `f32`, leaves the integer in the low mantissa bits.
const EXP_SHIFTER: f32 = 12_582_912.0;

/// `e^x` to about 2 ulp for `x` in `[EXP_MIN, EXP_MAX]` (clamped outside): `2^n * p(r)` with
/// `x = n ln2 + r`, `|r| <= ln2 / 2`, and Cephes' degree-6 polynomial for `e^r`. Branch-free, so loops
/// over it vectorise.
#[inline(always)]
fn exp(x: f32) -> f32 {
    let x = x.clamp(EXP_MIN, EXP_MAX);
    let n = (x * LOG2_E + 0.5).floor();
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = EXP_POLY[0];
    for c in &EXP_POLY[1..] {
        p = p * r + c;
    }
    let e = p * r * r + r + 1.0;
    // n is an integer in [-126, 127]: 2^n is a normal power of two. Its exponent bits come from n's
    // two's complement, which `n + 1.5 * 2^23` holds in its low mantissa bits: integer operations that
    // vectorise, where `n as i32` (a saturating conversion) compiled to one scalar conversion per lane.
    let n_bits = (n + EXP_SHIFTER)
        .to_bits()
        .wrapping_sub(EXP_SHIFTER.to_bits());
    e * f32::from_bits(n_bits.wrapping_add(127) << 23)
}

#[inline(always)]
fn silu_body(x: &mut [f32]) {
    for v in x {
        *v /= 1.0 + exp(-*v);
    }
}

/// `sqrt(2 / pi)`, the tanh GELU's scale.
pub(super) const GELU_TANH_SCALE: f32 = 0.797_884_6;
/// The tanh GELU's cubic coefficient.
pub(super) const GELU_TANH_CUBIC: f32 = 0.044_715;

/// The tanh-approximated GELU, `x/2 (1 + tanh(u))` with `u = sqrt(2/pi) (x + 0.044715 x^3)`, computed as
/// `x sigmoid(2u) = x / (1 + e^{-2u})` (the same function: `(1 + tanh u) / 2 = sigmoid(2u)`) with the
/// vectorised [`exp`]: libm's `tanhf` is scalar. Large negative `x` give `x / (1 + e^88)`, a tiny
/// negative value; large positive ones `x`.
#[inline(always)]
fn gelu_tanh_body(x: &mut [f32]) {
    for v in x {
        let u = GELU_TANH_SCALE * (*v + GELU_TANH_CUBIC * *v * *v * *v);
        *v /= 1.0 + exp(-2.0 * u);
    }
}

/// ReLU6 in place, as portable code (also the body the levels compile).
#[inline(always)]
pub(super) fn relu6_body(x: &mut [f32]) {
    for v in x {
        *v = v.clamp(0.0, 6.0);
    }
}

/// Defines `$vis fn $name(kernel, args...)`, at the visibility given, that runs `$body` compiled for the
/// kernel's level; the second form names the body each level runs (e.g. a generic kernel at 16 or 8 lanes).
macro_rules! per_level {
    ($(#[$doc:meta])* $vis:vis $name:ident($($arg:ident: $ty:ty),*) => $body:ident) => {
        $crate::cpu::vmath::per_level!(
            $(#[$doc])* $vis $name($($arg: $ty),*) => avx512: $body, avx2: $body
        );
    };
    ($(#[$doc:meta])* $vis:vis $name:ident($($arg:ident: $ty:ty),*) => avx512: $b512:expr, avx2: $b2:expr) => {
        $(#[$doc])*
        $vis fn $name(kernel: Kernel, $($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn avx512($($arg: $ty),*) {
                    $b512($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) {
                    $b2($($arg),*)
                }
                match kernel {
                    // SAFETY: a `Kernel` level is only made after the CPU was checked for it.
                    Kernel::Avx512 => unsafe { avx512($($arg),*) },
                    // SAFETY: as above.
                    Kernel::Avx2 => unsafe { avx2($($arg),*) },
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            {
                let _ = kernel;
                $b2($($arg),*)
            }
        }
    };
}
pub(crate) use per_level;

/// Lanes of [`softmax_padded`]'s chunks.
pub(super) const SOFTMAX_LANES: usize = 16;

/// `e^x` in 16 lanes: [`exp`] in registers, the power of two applied by `vscalefps`.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f")]
pub(super) fn exp_avx512(x: __m512) -> __m512 {
    let x = _mm512_min_ps(
        _mm512_max_ps(x, _mm512_set1_ps(EXP_MIN)),
        _mm512_set1_ps(EXP_MAX),
    );
    // Round to nearest (0x08: no exceptions), as `floor(x log2 e + 0.5)` does but for exact halves.
    let n = _mm512_roundscale_ps::<0x08>(_mm512_mul_ps(x, _mm512_set1_ps(LOG2_E)));
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), x);
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
    let mut p = _mm512_set1_ps(EXP_POLY[0]);
    for &c in &EXP_POLY[1..] {
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
    }
    let e = _mm512_fmadd_ps(
        _mm512_mul_ps(p, r),
        r,
        _mm512_add_ps(r, _mm512_set1_ps(1.0)),
    );
    _mm512_scalef_ps(e, n)
}

/// `e^x` in 8 lanes: [`exp`] in registers, `2^n` built in the exponent bits (`n + 127` is 1..=254
/// after the clamp).
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(super) fn exp_avx2(x: __m256) -> __m256 {
    let x = _mm256_min_ps(
        _mm256_max_ps(x, _mm256_set1_ps(EXP_MIN)),
        _mm256_set1_ps(EXP_MAX),
    );
    let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(
        x,
        _mm256_set1_ps(LOG2_E),
    ));
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), x);
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    let mut p = _mm256_set1_ps(EXP_POLY[0]);
    for &c in &EXP_POLY[1..] {
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
    }
    let e = _mm256_fmadd_ps(
        _mm256_mul_ps(p, r),
        r,
        _mm256_add_ps(r, _mm256_set1_ps(1.0)),
    );
    let power = _mm256_slli_epi32::<23>(_mm256_add_epi32(
        _mm256_cvtps_epi32(n),
        _mm256_set1_epi32(127),
    ));
    _mm256_mul_ps(e, _mm256_castsi256_ps(power))
}

/// Softmax of `x[..valid]` in place, and `x[valid..]` set to zero; `x` is whole chunks of
/// [`SOFTMAX_LANES`] values (a row of attention scores padded to whole panels), each done in registers
/// at `kernel`'s level (the plain loop over 50 values, vectorised 64 at a time, ran in its scalar
/// remainder).
///
/// # Panics
/// If `x` is not whole chunks or `valid` is not in `1..=x.len()`.
pub(crate) fn softmax_padded(kernel: Kernel, x: &mut [f32], valid: usize) {
    assert!(
        x.len().is_multiple_of(SOFTMAX_LANES) && (1..=x.len()).contains(&valid),
        "softmax over {valid} of {} values",
        x.len()
    );
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a `Kernel` level is only made after the CPU was checked for it.
    unsafe {
        match kernel {
            Kernel::Avx512 => softmax_padded_avx512(x, valid),
            Kernel::Avx2 => softmax_padded_avx2(x, valid),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = kernel;
        let max = x[..valid].iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let sum: f32 = x[..valid]
            .iter_mut()
            .map(|v| {
                *v = exp(*v - max);
                *v
            })
            .sum();
        x[..valid].iter_mut().for_each(|v| *v /= sum);
        x[valid..].fill(0.0);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn softmax_padded_avx512(x: &mut [f32], valid: usize) {
    let lanes = |i: usize| -> __mmask16 {
        match valid.saturating_sub(i * 16) {
            0 => 0,
            left @ 1..16 => ((1u32 << left) - 1) as __mmask16,
            _ => 0xffff,
        }
    };
    let mut max = _mm512_set1_ps(f32::NEG_INFINITY);
    for (i, c) in x.chunks_exact(16).enumerate() {
        // SAFETY: `c` holds 16 values.
        let v = unsafe { _mm512_loadu_ps(c.as_ptr()) };
        max = _mm512_mask_max_ps(max, lanes(i), max, v);
    }
    let max = _mm512_set1_ps(_mm512_reduce_max_ps(max));
    let mut sum = _mm512_setzero_ps();
    for (i, c) in x.chunks_exact_mut(16).enumerate() {
        // SAFETY: `c` holds 16 values.
        unsafe {
            let e = exp_avx512(_mm512_sub_ps(_mm512_loadu_ps(c.as_ptr()), max));
            let e = _mm512_maskz_mov_ps(lanes(i), e);
            sum = _mm512_add_ps(sum, e);
            _mm512_storeu_ps(c.as_mut_ptr(), e);
        }
    }
    let inv = _mm512_set1_ps(1.0 / _mm512_reduce_add_ps(sum));
    for c in x.chunks_exact_mut(16) {
        // SAFETY: `c` holds 16 values.
        unsafe {
            _mm512_storeu_ps(
                c.as_mut_ptr(),
                _mm512_mul_ps(_mm512_loadu_ps(c.as_ptr()), inv),
            )
        };
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn softmax_padded_avx2(x: &mut [f32], valid: usize) {
    // Lane l of the vector at `at` is one of the `valid` values when valid - at > l.
    let steps = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let lanes = |at: usize| {
        let left = _mm256_set1_epi32(valid.saturating_sub(at).min(8) as i32);
        _mm256_castsi256_ps(_mm256_cmpgt_epi32(left, steps))
    };
    let minus_infinity = _mm256_set1_ps(f32::NEG_INFINITY);
    let mut max = minus_infinity;
    for (i, c) in x.chunks_exact(8).enumerate() {
        // SAFETY: `c` holds 8 values.
        let v = unsafe { _mm256_loadu_ps(c.as_ptr()) };
        max = _mm256_max_ps(max, _mm256_blendv_ps(minus_infinity, v, lanes(i * 8)));
    }
    let mut top = [0f32; 8];
    // SAFETY: `top` holds 8 values.
    unsafe { _mm256_storeu_ps(top.as_mut_ptr(), max) };
    let max = _mm256_set1_ps(top.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)));
    let mut sum = _mm256_setzero_ps();
    for (i, c) in x.chunks_exact_mut(8).enumerate() {
        // SAFETY: `c` holds 8 values.
        unsafe {
            let e = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(c.as_ptr()), max));
            let e = _mm256_and_ps(e, lanes(i * 8));
            sum = _mm256_add_ps(sum, e);
            _mm256_storeu_ps(c.as_mut_ptr(), e);
        }
    }
    let mut sums = [0f32; 8];
    // SAFETY: `sums` holds 8 values.
    unsafe { _mm256_storeu_ps(sums.as_mut_ptr(), sum) };
    let inv = _mm256_set1_ps(1.0 / sums.iter().sum::<f32>());
    for c in x.chunks_exact_mut(8) {
        // SAFETY: `c` holds 8 values.
        unsafe {
            _mm256_storeu_ps(
                c.as_mut_ptr(),
                _mm256_mul_ps(_mm256_loadu_ps(c.as_ptr()), inv),
            )
        };
    }
}

per_level!(
    /// `x <- x * sigmoid(x)` (SiLU) in place.
    pub(crate) silu(x: &mut [f32]) => silu_body
);
per_level!(
    /// `x <- gelu_tanh(x)` (transformers' `gelu_pytorch_tanh` and `gelu_new`) in place.
    pub(crate) gelu_tanh(x: &mut [f32]) => gelu_tanh_body
);
per_level!(
    /// `x <- min(max(x, 0), 6)` (ReLU6) in place.
    pub(crate) relu6(x: &mut [f32]) => relu6_body
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_a_few_ulp_of_std() {
        let mut worst = 0f32;
        let mut x = -87.0f32;
        while x < 88.0 {
            let (got, want) = (exp(x), x.exp());
            worst = worst.max(((got - want) / want).abs());
            x += 0.0137;
        }
        assert!(worst < 4.0 * f32::EPSILON, "worst relative error {worst}");
        assert!(exp(-1000.0) >= 0.0 && exp(-1000.0) < 1e-37);
        assert!(exp(1000.0).is_finite());
    }

    #[test]
    fn silu_and_softmax_match_their_definitions() {
        for kernel in crate::cpu::testing::levels("embed silu and softmax") {
            let mut x: Vec<f32> = (0..101).map(|i| (i as f32 - 50.0) * 0.37).collect();
            let want: Vec<f32> = x.iter().map(|v| v / (1.0 + (-v).exp())).collect();
            silu(kernel, &mut x);
            for (g, w) in x.iter().zip(&want) {
                assert!(
                    (g - w).abs() <= 1e-5 * w.abs().max(1.0),
                    "{kernel:?}: {g} vs {w}"
                );
            }
            // Softmax over the first `valid` values of 80 (five whole chunks), zeros after them: every
            // count across a chunk's lanes, and garbage (huge, infinite) in the padding.
            for valid in [1, 7, 16, 17, 33, 50, 77, 80] {
                let mut s: Vec<f32> = (0..80)
                    .map(|i| ((i * 37 % 19) as f32 - 9.0) * 0.8)
                    .collect();
                s[valid..].iter_mut().for_each(|v| *v = f32::INFINITY);
                let max = s[..valid].iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                let total: f32 = s[..valid].iter().map(|v| (v - max).exp()).sum();
                let mut want: Vec<f32> =
                    s[..valid].iter().map(|v| (v - max).exp() / total).collect();
                want.resize(80, 0.0);
                softmax_padded(kernel, &mut s, valid);
                for (g, w) in s.iter().zip(&want) {
                    assert!((g - w).abs() <= 1e-6, "{kernel:?} {valid}: {g} vs {w}");
                }
            }
        }
    }

    /// The tanh GELU against its definition computed in f64 (PyTorch's `gelu(approximate="tanh")`),
    /// over the range activations take and far outside it.
    #[test]
    fn gelu_tanh_matches_its_definition() {
        let definition = |x: f64| {
            let u = (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x);
            0.5 * x * (1.0 + u.tanh())
        };
        assert_eq!(crate::cpu::testing::gelu_tanh(1.5), definition(1.5) as f32);
        for kernel in crate::cpu::testing::levels("embed gelu_tanh") {
            let mut x: Vec<f32> = (0..4001).map(|i| (i as f32 - 2000.0) * 0.005).collect();
            x.extend([
                -1e30, -1e6, -100.0, -30.0, 30.0, 100.0, 1e6, 1e30, 0.0, -0.0,
            ]);
            let want: Vec<f64> = x.iter().map(|&v| definition(v as f64)).collect();
            gelu_tanh(kernel, &mut x);
            for (g, w) in x.iter().zip(&want) {
                assert!(g.is_finite(), "{kernel:?}: {g}");
                let err = (*g as f64 - w).abs();
                assert!(
                    err <= 1e-6 * w.abs().max(1.0),
                    "{kernel:?}: {g} vs {w} (error {err:e})"
                );
            }
        }
    }
}
