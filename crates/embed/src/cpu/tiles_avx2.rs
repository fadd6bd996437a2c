//! AVX2+FMA tile of the packed matrix product: `R` rows (up to [`MR`]) by [`NR`] columns, accumulated in
//! 2 x `R` ymm registers beside the panel's two weight vectors and one broadcast activation.
//!
//! Reached only through [`super::Kernel::Avx2`], chosen after the CPU was checked.

use std::arch::x86_64::*;

/// Columns of a weight panel (two ymm vectors).
pub(crate) const NR: usize = 16;
/// Most rows of one tile: 2 x 6 accumulators + 2 weight vectors + 1 broadcast of the 16 registers.
pub(crate) const MR: usize = 6;

/// `c[r][0..NR] += sum_p a[p * R + r] * b[p * NR ..][0..NR]` for `r < R`, `p < kc`.
///
/// # Safety
/// The CPU has AVX2 and FMA; `a` holds `kc * R` values, `b` holds `kc * NR`, and each of the `R` rows of
/// `c` (stride `ldc`) holds `NR` writable values.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn tile<const R: usize>(
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
) {
    let mut acc = [[_mm256_setzero_ps(); 2]; R];
    for (r, row) in acc.iter_mut().enumerate() {
        row[0] = _mm256_loadu_ps(c.add(r * ldc));
        row[1] = _mm256_loadu_ps(c.add(r * ldc + 8));
    }
    let (mut a, mut b) = (a, b);
    for _ in 0..kc {
        let b0 = _mm256_loadu_ps(b);
        let b1 = _mm256_loadu_ps(b.add(8));
        for (r, row) in acc.iter_mut().enumerate() {
            let x = _mm256_broadcast_ss(&*a.add(r));
            row[0] = _mm256_fmadd_ps(x, b0, row[0]);
            row[1] = _mm256_fmadd_ps(x, b1, row[1]);
        }
        a = a.add(R);
        b = b.add(NR);
    }
    for (r, row) in acc.iter().enumerate() {
        _mm256_storeu_ps(c.add(r * ldc), row[0]);
        _mm256_storeu_ps(c.add(r * ldc + 8), row[1]);
    }
}
