//! AVX-512F kernels: 16 lanes, four independent accumulators to hide the FMA latency, and the tail (fewer
//! than 16 values) read with a masked load instead of a scalar loop.
//!
//! The safe wrappers are handed out only by [`super::kernels`] after it has checked the CPU.

use std::arch::x86_64::*;

/// Inner product. Call only where AVX-512F is present.
pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: reachable only through `kernels(SimdLevel::Avx512)`, which checks AVX-512F first.
    unsafe { dot_avx512(a, b) }
}

/// Squared Euclidean distance. Call only where AVX-512F is present.
pub(super) fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: reachable only through `kernels(SimdLevel::Avx512)`, which checks AVX-512F first.
    unsafe { l2_avx512(a, b) }
}

/// Mask of the low `rest` lanes (`rest < 16`).
#[inline(always)]
fn tail_mask(rest: usize) -> __mmask16 {
    ((1u32 << rest) - 1) as __mmask16
}

#[target_feature(enable = "avx512f")]
unsafe fn dot_avx512(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm512_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY (all loads): full loads read offsets below `n`; the masked load reads only lanes below `n`.
    while i + 64 <= n {
        for (j, slot) in acc.iter_mut().enumerate() {
            let x = _mm512_loadu_ps(pa.add(i + 16 * j));
            let y = _mm512_loadu_ps(pb.add(i + 16 * j));
            *slot = _mm512_fmadd_ps(x, y, *slot);
        }
        i += 64;
    }
    while i + 16 <= n {
        acc[0] = _mm512_fmadd_ps(
            _mm512_loadu_ps(pa.add(i)),
            _mm512_loadu_ps(pb.add(i)),
            acc[0],
        );
        i += 16;
    }
    if i < n {
        let mask = tail_mask(n - i);
        let x = _mm512_maskz_loadu_ps(mask, pa.add(i));
        let y = _mm512_maskz_loadu_ps(mask, pb.add(i));
        acc[1] = _mm512_fmadd_ps(x, y, acc[1]);
    }
    let sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
    _mm512_reduce_add_ps(sum)
}

#[target_feature(enable = "avx512f")]
unsafe fn l2_avx512(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm512_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY (all loads): full loads read offsets below `n`; the masked load reads only lanes below `n`.
    while i + 64 <= n {
        for (j, slot) in acc.iter_mut().enumerate() {
            let d = _mm512_sub_ps(
                _mm512_loadu_ps(pa.add(i + 16 * j)),
                _mm512_loadu_ps(pb.add(i + 16 * j)),
            );
            *slot = _mm512_fmadd_ps(d, d, *slot);
        }
        i += 64;
    }
    while i + 16 <= n {
        let d = _mm512_sub_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)));
        acc[0] = _mm512_fmadd_ps(d, d, acc[0]);
        i += 16;
    }
    if i < n {
        let mask = tail_mask(n - i);
        let d = _mm512_sub_ps(
            _mm512_maskz_loadu_ps(mask, pa.add(i)),
            _mm512_maskz_loadu_ps(mask, pb.add(i)),
        );
        acc[1] = _mm512_fmadd_ps(d, d, acc[1]);
    }
    let sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
    _mm512_reduce_add_ps(sum)
}
