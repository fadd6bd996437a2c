//! AVX2+FMA tile of the matrix product: `R` rows (up to [`MR`]) by [`NR`] columns, accumulated in 2 x `R`
//! ymm registers beside the panel's two weight vectors and one broadcast activation; and an 8 x 8
//! transpose, for packing panels from rows (both levels run it).
//!
//! Reached only through [`super::Kernel::Avx2`], chosen after the CPU was checked.

use super::tile_operands::{Lhs, Start};
use std::arch::x86_64::*;

/// Columns of a weight panel (two ymm vectors).
pub(crate) const NR: usize = 16;
/// Most rows of one tile: 2 x 6 accumulators + 2 weight vectors + 1 broadcast of the 16 registers.
pub(crate) const MR: usize = 6;
/// Depth of one pass over the weight panels: a panel slice of 16 KiB, half of L1, and a group of row
/// blocks (240 rows, 240 KiB) in the 512 KiB L2 of a Zen 2 or Zen 3.
pub(crate) const KC: usize = 256;

/// `c[r][0..NR] (+)= sum_p a(r, p) * b[p * ldb ..][0..NR]` for `r < R`, `p < kc`.
///
/// # Safety
/// The CPU has AVX2 and FMA; `a` reads `R` rows `kc` deep, `b` holds `kc` rows of `NR` values `ldb`
/// apart, and each of the `R` rows of `c` (stride `ldc`) holds `NR` writable values (readable too for
/// [`Start::Load`]).
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn tile<const R: usize, A: Lhs>(
    kc: usize,
    a: A,
    (b, ldb): (*const f32, usize),
    c: *mut f32,
    ldc: usize,
    start: Start,
) {
    let mut acc = [[_mm256_setzero_ps(); 2]; R];
    if start == Start::Load {
        for (r, row) in acc.iter_mut().enumerate() {
            row[0] = _mm256_loadu_ps(c.add(r * ldc));
            row[1] = _mm256_loadu_ps(c.add(r * ldc + 8));
        }
    }
    let mut b = b;
    for p in 0..kc {
        let b0 = _mm256_loadu_ps(b);
        let b1 = _mm256_loadu_ps(b.add(8));
        for (r, row) in acc.iter_mut().enumerate() {
            let x = _mm256_broadcast_ss(&*a.at::<R>(r, p));
            row[0] = _mm256_fmadd_ps(x, b0, row[0]);
            row[1] = _mm256_fmadd_ps(x, b1, row[1]);
        }
        b = b.add(ldb);
    }
    for (r, row) in acc.iter().enumerate() {
        _mm256_storeu_ps(c.add(r * ldc), row[0]);
        _mm256_storeu_ps(c.add(r * ldc + 8), row[1]);
    }
}

/// Writes the transpose of the 8 x 8 block at `src` (rows `lds` apart) to `dst` (rows `ldd` apart):
/// `dst[i][j] = src[j][i]`.
///
/// # Safety
/// The CPU has AVX; both blocks lie inside their buffers.
#[target_feature(enable = "avx")]
pub(crate) unsafe fn transpose8(src: *const f32, lds: usize, dst: *mut f32, ldd: usize) {
    let r: [__m256; 8] = std::array::from_fn(|i| _mm256_loadu_ps(src.add(i * lds)));
    let t = [
        _mm256_unpacklo_ps(r[0], r[1]),
        _mm256_unpackhi_ps(r[0], r[1]),
        _mm256_unpacklo_ps(r[2], r[3]),
        _mm256_unpackhi_ps(r[2], r[3]),
        _mm256_unpacklo_ps(r[4], r[5]),
        _mm256_unpackhi_ps(r[4], r[5]),
        _mm256_unpacklo_ps(r[6], r[7]),
        _mm256_unpackhi_ps(r[6], r[7]),
    ];
    let u = [
        _mm256_shuffle_ps::<0x44>(t[0], t[2]),
        _mm256_shuffle_ps::<0xEE>(t[0], t[2]),
        _mm256_shuffle_ps::<0x44>(t[1], t[3]),
        _mm256_shuffle_ps::<0xEE>(t[1], t[3]),
        _mm256_shuffle_ps::<0x44>(t[4], t[6]),
        _mm256_shuffle_ps::<0xEE>(t[4], t[6]),
        _mm256_shuffle_ps::<0x44>(t[5], t[7]),
        _mm256_shuffle_ps::<0xEE>(t[5], t[7]),
    ];
    for i in 0..4 {
        _mm256_storeu_ps(
            dst.add(i * ldd),
            _mm256_permute2f128_ps::<0x20>(u[i], u[i + 4]),
        );
        _mm256_storeu_ps(
            dst.add((i + 4) * ldd),
            _mm256_permute2f128_ps::<0x31>(u[i], u[i + 4]),
        );
    }
}
