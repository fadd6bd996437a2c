//! `y = x W^T + b` on the CPU with `W` packed once, at load time, into column panels laid out in the
//! order the tile kernels read them (each panel `k x NR`, row after row), so no call repacks weights.
//!
//! A call packs the activations into row blocks of at most `MR` rows (`k x R`, column after column),
//! then splits the weight panels among rayon's threads; each thread fills its columns of the output with
//! the bias (and the residual, [`Epilogue::AddTo`]), and accumulates `KC`-deep slices of the product into
//! them tile by tile, the panel slice staying in L1 while the row blocks of up to `MC_ROWS` rows pass over
//! it. [`Epilogue::Silu`] is applied to each finished block while it is still in cache.

use super::{vmath, Kernel, SharedMut};
use rayon::prelude::*;

/// Depth of one pass over the weight panels: a panel slice is `KC x NR` floats (32 KiB at NR = 32).
const KC: usize = 256;
/// Rows of activations that one panel slice meets before the next slice is loaded.
const MC_ROWS: usize = 240;

/// What happens to the product before it is returned.
#[derive(Debug, Clone, Copy)]
pub enum Epilogue<'a> {
    /// `x W^T + b`.
    None,
    /// `silu(x W^T + b)`.
    Silu,
    /// `r + x W^T + b`, `r` holding `m x n` values (a residual stream).
    AddTo(&'a [f32]),
}

/// A linear layer's weights packed for the CPU tile kernels of one [`Kernel`] level.
pub struct PackedLinear {
    kernel: Kernel,
    /// Output features.
    n: usize,
    /// Input features.
    k: usize,
    /// `ceil(n / NR)` panels of `k x NR` (the last padded with zeros).
    panels: Vec<f32>,
    /// `n` values (zeros for a layer without bias).
    bias: Vec<f32>,
}

impl std::fmt::Debug for PackedLinear {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackedLinear")
            .field("kernel", &self.kernel)
            .field("in_features", &self.k)
            .field("out_features", &self.n)
            .finish()
    }
}

impl Kernel {
    /// Columns of a weight panel.
    fn nr(self) -> usize {
        #[cfg(target_arch = "x86_64")]
        match self {
            Kernel::Avx512 => super::tiles_avx512::NR,
            Kernel::Avx2 => super::tiles_avx2::NR,
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("no CPU kernel level exists off x86-64 ({self:?})")
    }

    /// Most rows of one tile.
    fn mr(self) -> usize {
        #[cfg(target_arch = "x86_64")]
        match self {
            Kernel::Avx512 => super::tiles_avx512::MR,
            Kernel::Avx2 => super::tiles_avx2::MR,
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("no CPU kernel level exists off x86-64 ({self:?})")
    }

    /// One tile: `rows` (1..=mr) rows by `nr` columns, `kc` deep.
    ///
    /// # Safety
    /// As the level's `tile`: `a` holds `kc * rows` values, `b` `kc * nr`, and `c`'s `rows` rows (stride
    /// `ldc`) `nr` writable values each.
    unsafe fn tile(
        self,
        rows: usize,
        kc: usize,
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            macro_rules! by_rows {
                ($module:ident: $($r:literal)*) => {
                    match rows {
                        $($r => super::$module::tile::<$r>(kc, a, b, c, ldc),)*
                        _ => unreachable!("a tile has 1 to {} rows, not {rows}", super::$module::MR),
                    }
                };
            }
            match self {
                Kernel::Avx512 => by_rows!(tiles_avx512: 1 2 3 4 5 6 7 8 9 10 11 12),
                Kernel::Avx2 => by_rows!(tiles_avx2: 1 2 3 4 5 6),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (rows, kc, a, b, c, ldc);
            unreachable!("no CPU kernel level exists off x86-64 ({self:?})")
        }
    }
}

/// `m` rows cut into blocks of at most `mr` rows, as even as possible: `(first row, rows)`.
fn row_blocks(m: usize, mr: usize) -> Vec<(usize, usize)> {
    if m == 0 {
        return Vec::new();
    }
    let count = m.div_ceil(mr);
    let (base, extra) = (m / count, m % count);
    let mut first = 0;
    (0..count)
        .map(|i| {
            let rows = base + usize::from(i < extra);
            let block = (first, rows);
            first += rows;
            block
        })
        .collect()
}

impl PackedLinear {
    /// Packs `weight` (`n x k`, row-major: `n` output features of `k` inputs, as stored by PyTorch and
    /// candle) and `bias` (`n` values) for `kernel`.
    ///
    /// # Panics
    /// If `weight` does not hold `n * k` values or `bias` not `n`: the caller read both from one layer.
    pub fn new(kernel: Kernel, weight: &[f32], bias: Option<&[f32]>, n: usize, k: usize) -> Self {
        assert_eq!(weight.len(), n * k, "weight is not {n} x {k}");
        let nr = kernel.nr();
        let mut panels = vec![0f32; n.div_ceil(nr) * k * nr];
        for (j, panel) in panels.chunks_exact_mut(k * nr).enumerate() {
            let cols = (n - j * nr).min(nr);
            for (p, row) in panel.chunks_exact_mut(nr).enumerate() {
                for (c, v) in row[..cols].iter_mut().enumerate() {
                    *v = weight[(j * nr + c) * k + p];
                }
            }
        }
        let bias = match bias {
            Some(b) => {
                assert_eq!(b.len(), n, "bias is not {n} values");
                b.to_vec()
            }
            None => vec![0.0; n],
        };
        Self {
            kernel,
            n,
            k,
            panels,
            bias,
        }
    }

    /// The SIMD level the weights are packed for.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// Input features.
    pub fn in_features(&self) -> usize {
        self.k
    }

    /// Output features.
    pub fn out_features(&self) -> usize {
        self.n
    }

    /// `x` (`m x k`, row-major) through the layer and `epilogue`: `m x n` values.
    ///
    /// # Panics
    /// If `x` is not a whole number of `k`-value rows, or an [`Epilogue::AddTo`] residual is not `m x n`.
    pub fn forward(&self, x: &[f32], epilogue: Epilogue<'_>) -> Vec<f32> {
        let (n, k, nr) = (self.n, self.k, self.kernel.nr());
        assert!(k > 0 && x.len().is_multiple_of(k), "input is not rows of {k} values");
        let m = x.len() / k;
        if let Epilogue::AddTo(r) = epilogue {
            assert_eq!(r.len(), m * n, "residual is not {m} x {n}");
        }
        let blocks = row_blocks(m, self.kernel.mr());
        let packed = pack_rows(x, k, &blocks);
        let mut out = vec![0f32; m * n];
        let panels = n.div_ceil(nr);
        let threads = rayon::current_num_threads().clamp(1, panels.max(1));
        let out_ptr = SharedMut(out.as_mut_ptr());
        (0..threads).into_par_iter().for_each(|t| {
            let (j0, j1) = (t * panels / threads, (t + 1) * panels / threads);
            // SAFETY: task t writes only columns [j0 * nr, j1 * nr) of `out`, and the ranges of the
            // tasks do not overlap; `out` outlives the parallel loop.
            unsafe { self.columns(out_ptr, m, (j0, j1), &packed, &blocks, epilogue) };
        });
        out
    }

    /// Computes the output's columns of panels `j0..j1`.
    ///
    /// # Safety
    /// `out` points to `m x n` values that no other thread writes in these columns.
    unsafe fn columns(
        &self,
        out: SharedMut,
        m: usize,
        (j0, j1): (usize, usize),
        packed: &[f32],
        blocks: &[(usize, usize)],
        epilogue: Epilogue<'_>,
    ) {
        let (n, k, nr, kernel) = (self.n, self.k, self.kernel.nr(), self.kernel);
        let (c0, c1) = (j0 * nr, (j1 * nr).min(n));
        if c0 >= c1 {
            return;
        }
        for row in 0..m {
            // SAFETY: row `row`, columns c0..c1 are inside `out` and this task's own.
            let dst = unsafe { std::slice::from_raw_parts_mut(out.add(row * n + c0), c1 - c0) };
            dst.copy_from_slice(&self.bias[c0..c1]);
            if let Epilogue::AddTo(r) = epilogue {
                for (d, r) in dst.iter_mut().zip(&r[row * n + c0..row * n + c1]) {
                    *d += r;
                }
            }
        }
        // Row blocks per pass over a panel slice.
        let chunk = (MC_ROWS / kernel.mr()).max(1);
        let mut spill = vec![0f32; kernel.mr() * nr];
        for kb in (0..k).step_by(KC) {
            let kc = KC.min(k - kb);
            let last = kb + kc == k;
            for group in blocks.chunks(chunk) {
                for j in j0..j1 {
                    let panel = &self.panels[j * k * nr + kb * nr..][..kc * nr];
                    let cols = nr.min(n - j * nr);
                    for &(r0, rows) in group {
                        let a = &packed[r0 * k + kb * rows..][..kc * rows];
                        // SAFETY: rows r0..r0+rows of `out` exist and these `cols` columns are this
                        // task's; a full panel writes `nr` columns in place, a partial one goes through
                        // `spill`, which holds mr x nr values.
                        unsafe {
                            let c = out.add(r0 * n + j * nr);
                            if cols == nr {
                                kernel.tile(rows, kc, a.as_ptr(), panel.as_ptr(), c, n);
                            } else {
                                for r in 0..rows {
                                    let s = &mut spill[r * nr..(r + 1) * nr];
                                    s[..cols].copy_from_slice(std::slice::from_raw_parts(
                                        c.add(r * n),
                                        cols,
                                    ));
                                    s[cols..].fill(0.0);
                                }
                                kernel.tile(
                                    rows,
                                    kc,
                                    a.as_ptr(),
                                    panel.as_ptr(),
                                    spill.as_mut_ptr(),
                                    nr,
                                );
                                for r in 0..rows {
                                    std::slice::from_raw_parts_mut(c.add(r * n), cols)
                                        .copy_from_slice(&spill[r * nr..r * nr + cols]);
                                }
                            }
                        }
                    }
                    if last && matches!(epilogue, Epilogue::Silu) {
                        for &(r0, rows) in group {
                            for r in r0..r0 + rows {
                                // SAFETY: as above: this task's columns of row r.
                                let dst = unsafe {
                                    std::slice::from_raw_parts_mut(out.add(r * n + j * nr), cols)
                                };
                                vmath::silu(kernel, dst);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Packs `x` (`m x k`) into `blocks`: block `(r0, rows)` holds `k x rows` values, column after column,
/// at offset `r0 * k`. Blocks are spread over rayon's threads.
fn pack_rows(x: &[f32], k: usize, blocks: &[(usize, usize)]) -> Vec<f32> {
    let mut packed = vec![0f32; x.len()];
    let mut parts = Vec::with_capacity(blocks.len());
    let mut rest = packed.as_mut_slice();
    for &(r0, rows) in blocks {
        let (part, tail) = rest.split_at_mut(rows * k);
        parts.push((part, r0, rows));
        rest = tail;
    }
    parts.into_par_iter().for_each(|(part, r0, rows)| {
        for r in 0..rows {
            let src = &x[(r0 + r) * k..(r0 + r + 1) * k];
            for (p, &v) in src.iter().enumerate() {
                part[p * rows + r] = v;
            }
        }
    });
    packed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(x: &[f32], w: &[f32], b: &[f32], m: usize, n: usize, k: usize) -> Vec<f32> {
        let mut y = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let s: f64 = (0..k)
                    .map(|p| f64::from(x[i * k + p]) * f64::from(w[j * k + p]))
                    .sum();
                y[i * n + j] = s as f32 + b[j];
            }
        }
        y
    }

    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len)
            .map(|i| (((i * 7919 + seed * 104_729) % 2001) as f32 / 1000.0) - 1.0)
            .collect()
    }

    /// Every level, odd shapes (partial panels, ragged row blocks, several KC slices), each epilogue.
    #[test]
    fn packed_linear_matches_the_plain_product() {
        for kernel in Kernel::available() {
            for &(m, n, k) in &[
                (1, 1, 1),
                (5, 7, 3),
                (50, 96, 300),
                (77, 40, 513),
                (250, 33, 64),
            ] {
                let (x, w, b) = (values(m * k, 1), values(n * k, 2), values(n, 3));
                let layer = PackedLinear::new(kernel, &w, Some(&b), n, k);
                let want = reference(&x, &w, &b, m, n, k);
                let tol = 1e-5 * k as f32;
                let close = |got: &[f32], want: &[f32], what: &str| {
                    for (i, (g, w)) in got.iter().zip(want).enumerate() {
                        assert!(
                            (g - w).abs() <= tol,
                            "{kernel:?} {m}x{n}x{k} {what}: [{i}] {g} vs {w}"
                        );
                    }
                };
                close(&layer.forward(&x, Epilogue::None), &want, "plain");
                let silu: Vec<f32> = want.iter().map(|v| v / (1.0 + (-v).exp())).collect();
                close(&layer.forward(&x, Epilogue::Silu), &silu, "silu");
                let r = values(m * n, 4);
                let added: Vec<f32> = want.iter().zip(&r).map(|(v, r)| v + r).collect();
                close(&layer.forward(&x, Epilogue::AddTo(&r)), &added, "residual");
            }
        }
    }

    #[test]
    fn row_blocks_are_even_and_cover_every_row() {
        assert_eq!(
            row_blocks(50, 12),
            vec![(0, 10), (10, 10), (20, 10), (30, 10), (40, 10)]
        );
        assert_eq!(row_blocks(13, 12), vec![(0, 7), (7, 6)]);
        assert!(row_blocks(0, 12).is_empty());
        let b = row_blocks(1600, 12);
        assert_eq!(b.iter().map(|b| b.1).sum::<usize>(), 1600);
        assert!(b.iter().all(|b| b.1 <= 12));
    }
}
