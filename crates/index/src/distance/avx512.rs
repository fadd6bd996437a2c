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

/// Inner product of signed bytes (exact). Call only where AVX-512F and AVX-512BW are present.
pub(super) fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    // SAFETY: reachable only through `ByteDot::kernel`, which hands this kernel out only after checking
    // AVX-512F and AVX-512BW ([`has_byte_ops`]).
    unsafe { dot_i8_avx512(a, b) }
}

/// Inner product of signed bytes (exact) by VNNI's `vpdpbusd`. Call only where AVX-512F, AVX-512BW and
/// AVX-512 VNNI are present.
pub(super) fn dot_i8_vnni(a: &[i8], b: &[i8]) -> i32 {
    // SAFETY: reachable only through `ByteDot::kernel`, which hands this kernel out only after checking
    // AVX-512F, AVX-512BW and AVX-512 VNNI.
    unsafe { dot_i8_avx512_vnni(a, b) }
}

/// Whether this CPU has the byte instructions [`dot_i8`] needs (every AVX-512 CPU since Skylake-SP).
pub(super) fn has_byte_ops() -> bool {
    is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw")
}

/// Whether this CPU has what [`dot_i8_vnni`] needs: the byte instructions and AVX-512 VNNI (Ice Lake,
/// Zen 4 and later).
pub(super) fn has_vnni() -> bool {
    has_byte_ops() && is_x86_feature_detected!("avx512vnni")
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

/// Sign-extends 32 bytes to 16-bit lanes, multiplies pairwise and adds adjacent pairs into 16 `i32` lanes;
/// the tail (fewer than 32 bytes) is read with a masked load.
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn dot_i8_avx512(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm512_setzero_si512(); 2];
    let mut i = 0;
    // SAFETY (all loads): full loads read offsets below `n`; the masked load reads only bytes below `n`.
    while i + 64 <= n {
        for (j, slot) in acc.iter_mut().enumerate() {
            let x = _mm512_cvtepi8_epi16(_mm256_loadu_si256(pa.add(i + 32 * j) as *const __m256i));
            let y = _mm512_cvtepi8_epi16(_mm256_loadu_si256(pb.add(i + 32 * j) as *const __m256i));
            *slot = _mm512_add_epi32(*slot, _mm512_madd_epi16(x, y));
        }
        i += 64;
    }
    while i < n {
        let rest = (n - i).min(32);
        let mask: __mmask32 = if rest == 32 {
            u32::MAX
        } else {
            (1u32 << rest) - 1
        };
        let x = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(mask, pa.add(i)));
        let y = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(mask, pb.add(i)));
        acc[1] = _mm512_add_epi32(acc[1], _mm512_madd_epi16(x, y));
        i += rest;
    }
    _mm512_reduce_add_epi32(_mm512_add_epi32(acc[0], acc[1]))
}

/// 64 bytes a step by `vpdpbusd`, which multiplies unsigned bytes by signed ones and adds each four
/// products into an `i32` lane. `a`'s bytes are made unsigned by flipping their top bit (`a ^ 0x80`,
/// read unsigned, is `a + 128`), so one `vpdpbusd` sums `(a + 128) * b` and a second, of 128 by `b`,
/// sums the `128 * b` to take away: `sum a * b` exactly, for any signed bytes (each lane's partial sums
/// stay far inside `i32`: at most 255 * 128 per product). Two steps in flight, each with its own
/// accumulators, hide the instruction's latency; the tail (fewer than 64 bytes) is read with a masked
/// load, whose zero bytes add nothing to either sum.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn dot_i8_avx512_vnni(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let flip = _mm512_set1_epi8(i8::MIN);
    let mut products = [_mm512_setzero_si512(); 2];
    let mut offsets = [_mm512_setzero_si512(); 2];
    let mut i = 0;
    // SAFETY (all loads): full loads read offsets below `n`; the masked load reads only bytes below `n`.
    while i + 128 <= n {
        for (j, (product, offset)) in products.iter_mut().zip(&mut offsets).enumerate() {
            let x = _mm512_loadu_si512(pa.add(i + 64 * j) as *const __m512i);
            let y = _mm512_loadu_si512(pb.add(i + 64 * j) as *const __m512i);
            *product = _mm512_dpbusd_epi32(*product, _mm512_xor_si512(x, flip), y);
            *offset = _mm512_dpbusd_epi32(*offset, flip, y);
        }
        i += 128;
    }
    while i < n {
        let rest = (n - i).min(64);
        let mask: __mmask64 = if rest == 64 {
            u64::MAX
        } else {
            (1u64 << rest) - 1
        };
        let x = _mm512_maskz_loadu_epi8(mask, pa.add(i));
        let y = _mm512_maskz_loadu_epi8(mask, pb.add(i));
        products[0] = _mm512_dpbusd_epi32(products[0], _mm512_xor_si512(x, flip), y);
        offsets[0] = _mm512_dpbusd_epi32(offsets[0], flip, y);
        i += rest;
    }
    let products = _mm512_add_epi32(products[0], products[1]);
    let offsets = _mm512_add_epi32(offsets[0], offsets[1]);
    _mm512_reduce_add_epi32(_mm512_sub_epi32(products, offsets))
}
