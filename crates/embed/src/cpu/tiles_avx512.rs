//! AVX-512F tile of the matrix product: `R` rows (up to [`MR`]) by [`NR`] columns, accumulated in 2 x `R`
//! zmm registers; the weight panel's two vectors per step are loaded once and every activation value is
//! broadcast straight from memory into its FMA.
//!
//! Reached only through [`super::Kernel::Avx512`], chosen after the CPU was checked.

use super::tile_operands::{Lhs, Start};
use std::arch::x86_64::*;

/// Columns of a weight panel (two zmm vectors).
pub(crate) const NR: usize = 32;
/// Most rows of one tile: 2 x 12 accumulators + 2 weight vectors of the 32 registers.
pub(crate) const MR: usize = 12;
/// Depth of one pass over the weight panels: a panel slice of 64 KiB, read from L2, and a group of
/// row blocks (240 rows, 480 KiB) beside it in the 1-2 MiB L2 of the CPUs with AVX-512. Each pass
/// loads and stores every output tile once, so a deeper pass spends less on that: 512 against 128 (a
/// slice in L1) took the packed products at ViT-B/32's and the text tower's shapes from 71-91% to
/// 79-93% of the FMA ceiling on a Zen 4, 1.01-1.24x at each shape (`linear_gflops --packed`, `fma_peak`).
pub(crate) const KC: usize = 512;

/// `c[r][0..NR] (+)= sum_p a(r, p) * b[p * ldb ..][0..NR]` for `r < R`, `p < kc`.
///
/// # Safety
/// The CPU has AVX-512F; `a` reads `R` rows `kc` deep, `b` holds `kc` rows of `NR` values `ldb` apart,
/// and each of the `R` rows of `c` (stride `ldc`) holds `NR` writable values (readable too for
/// [`Start::Load`]).
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn tile<const R: usize, A: Lhs>(
    kc: usize,
    a: A,
    (b, ldb): (*const f32, usize),
    c: *mut f32,
    ldc: usize,
    start: Start,
) {
    let mut acc = [[_mm512_setzero_ps(); 2]; R];
    if start == Start::Load {
        for (r, row) in acc.iter_mut().enumerate() {
            row[0] = _mm512_loadu_ps(c.add(r * ldc));
            row[1] = _mm512_loadu_ps(c.add(r * ldc + 16));
        }
    }
    let mut b = b;
    for p in 0..kc {
        let b0 = _mm512_loadu_ps(b);
        let b1 = _mm512_loadu_ps(b.add(16));
        for (r, row) in acc.iter_mut().enumerate() {
            let x = _mm512_set1_ps(*a.at::<R>(r, p));
            row[0] = _mm512_fmadd_ps(x, b0, row[0]);
            row[1] = _mm512_fmadd_ps(x, b1, row[1]);
        }
        b = b.add(ldb);
    }
    for (r, row) in acc.iter().enumerate() {
        _mm512_storeu_ps(c.add(r * ldc), row[0]);
        _mm512_storeu_ps(c.add(r * ldc + 16), row[1]);
    }
}
