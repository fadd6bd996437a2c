//! AVX2+FMA kernels: 8 lanes, four independent accumulators to hide the FMA latency, scalar tail.
//!
//! The safe wrappers are handed out only by [`super::kernels`] after it has checked the CPU.

use std::arch::x86_64::*;

/// Inner product. Call only where AVX2 and FMA are present.
pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: reachable only through `kernels(SimdLevel::Avx2)`, which checks AVX2 and FMA first.
    unsafe { dot_avx2(a, b) }
}

/// Squared Euclidean distance. Call only where AVX2 and FMA are present.
pub(super) fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: reachable only through `kernels(SimdLevel::Avx2)`, which checks AVX2 and FMA first.
    unsafe { l2_avx2(a, b) }
}

/// Inner product of signed bytes, exact for values in -127..=127 (int8 codes). Call only where AVX2 is
/// present.
pub(super) fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    // SAFETY: reachable only through `ByteDot::kernel`, which hands this kernel out only after checking
    // AVX2 and FMA (`SimdLevel::Avx2.is_supported`).
    unsafe { dot_i8_avx2(a, b) }
}

#[target_feature(enable = "avx2,fma")]
fn hsum(v: __m256) -> f32 {
    let lo = _mm256_castps256_ps128(v);
    let hi = _mm256_extractf128_ps(v, 1);
    let s = _mm_add_ps(lo, hi);
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    _mm_cvtss_f32(s)
}

#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY (all loads): every offset read is below `n`, the length of both slices.
    while i + 32 <= n {
        for (j, slot) in acc.iter_mut().enumerate() {
            let x = _mm256_loadu_ps(pa.add(i + 8 * j));
            let y = _mm256_loadu_ps(pb.add(i + 8 * j));
            *slot = _mm256_fmadd_ps(x, y, *slot);
        }
        i += 32;
    }
    while i + 8 <= n {
        acc[0] = _mm256_fmadd_ps(
            _mm256_loadu_ps(pa.add(i)),
            _mm256_loadu_ps(pb.add(i)),
            acc[0],
        );
        i += 8;
    }
    let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let mut total = hsum(sum);
    while i < n {
        total += *pa.add(i) * *pb.add(i);
        i += 1;
    }
    total
}

#[target_feature(enable = "avx2,fma")]
unsafe fn l2_avx2(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY (all loads): every offset read is below `n`, the length of both slices.
    while i + 32 <= n {
        for (j, slot) in acc.iter_mut().enumerate() {
            let d = _mm256_sub_ps(
                _mm256_loadu_ps(pa.add(i + 8 * j)),
                _mm256_loadu_ps(pb.add(i + 8 * j)),
            );
            *slot = _mm256_fmadd_ps(d, d, *slot);
        }
        i += 32;
    }
    while i + 8 <= n {
        let d = _mm256_sub_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)));
        acc[0] = _mm256_fmadd_ps(d, d, acc[0]);
        i += 8;
    }
    let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let mut total = hsum(sum);
    while i < n {
        let d = *pa.add(i) - *pb.add(i);
        total += d * d;
        i += 1;
    }
    total
}

/// 32 bytes at a time: `|a|` as unsigned bytes (`vpabsb`) times `b` given `a`'s sign (`vpsignb`), so
/// each product keeps its sign; `vpmaddubsw` adds adjacent products into 16-bit lanes and `vpmaddwd`
/// by ones widens them into 8 `i32` lanes. A pair sum is at most 2 * 127 * 127 = 32,258 in magnitude
/// for codes in -127..=127 (the quantizer's range), inside `i16`, so nothing saturates and the result
/// is exact; against sign-extending to 16 bits first, it handles twice the bytes per instruction.
/// A 16-byte remainder is sign-extended (`vpmovsxbw` + `vpmaddwd`), the rest added one by one.
#[target_feature(enable = "avx2")]
unsafe fn dot_i8_avx2(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let ones = _mm256_set1_epi16(1);
    let mut acc = [_mm256_setzero_si256(); 2];
    let mut i = 0;
    // SAFETY (all loads): each 32- or 16-byte load reads offsets `i..i + 32` or `i..i + 16` below `n`.
    while i + 64 <= n {
        for (j, slot) in acc.iter_mut().enumerate() {
            let x = _mm256_loadu_si256(pa.add(i + 32 * j) as *const __m256i);
            let y = _mm256_loadu_si256(pb.add(i + 32 * j) as *const __m256i);
            let pairs = _mm256_maddubs_epi16(_mm256_abs_epi8(x), _mm256_sign_epi8(y, x));
            *slot = _mm256_add_epi32(*slot, _mm256_madd_epi16(pairs, ones));
        }
        i += 64;
    }
    if i + 32 <= n {
        let x = _mm256_loadu_si256(pa.add(i) as *const __m256i);
        let y = _mm256_loadu_si256(pb.add(i) as *const __m256i);
        let pairs = _mm256_maddubs_epi16(_mm256_abs_epi8(x), _mm256_sign_epi8(y, x));
        acc[0] = _mm256_add_epi32(acc[0], _mm256_madd_epi16(pairs, ones));
        i += 32;
    }
    if i + 16 <= n {
        let x = _mm256_cvtepi8_epi16(_mm_loadu_si128(pa.add(i) as *const __m128i));
        let y = _mm256_cvtepi8_epi16(_mm_loadu_si128(pb.add(i) as *const __m128i));
        acc[1] = _mm256_add_epi32(acc[1], _mm256_madd_epi16(x, y));
        i += 16;
    }
    let sum = _mm256_add_epi32(acc[0], acc[1]);
    let s = _mm_add_epi32(
        _mm256_castsi256_si128(sum),
        _mm256_extracti128_si256::<1>(sum),
    );
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    let mut total = _mm_cvtsi128_si32(s);
    while i < n {
        total += i32::from(*pa.add(i)) * i32::from(*pb.add(i));
        i += 1;
    }
    total
}
