//! The packed matrix product `C (+)= A B^T` that the linear layers and the attention share: `B` (`n x k`,
//! one row per output column) packed into column panels in the order the tile kernels read them, `A`
//! (`m x k`) into row blocks of at most `MR` rows, and a loop over tiles of the output.
//!
//! Panels are `NR` columns wide and stored slice-major: for each `kc`-deep slice of `k` (the level's
//! `KC`), every panel's `kc x NR` block, panel after panel, so that a pass over the panels reads memory
//! front to back and a slice stays in cache while up to [`MC_ROWS`] rows of `A` pass over it. Row blocks
//! are `k x R` values, column after column.

pub(crate) use super::tile_operands::{Block, Lhs, Rows, Start};
use super::{vmath, write_all, write_each, Kernel, SharedMut};

/// Rows of `A` that one panel slice meets before the next slice is loaded.
const MC_ROWS: usize = 240;

impl Kernel {
    /// The level's f32 tile: its panel's columns (`NR`), its most rows (`MR`) and the depth of one pass
    /// over the weight panels (`KC`).
    fn tile_shape(self) -> (usize, usize, usize) {
        #[cfg(target_arch = "x86_64")]
        match self {
            Kernel::Avx512 => {
                use super::tiles_avx512::{KC, MR, NR};
                (NR, MR, KC)
            }
            Kernel::Avx2 => {
                use super::tiles_avx2::{KC, MR, NR};
                (NR, MR, KC)
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("no CPU kernel level exists off x86-64 ({self:?})")
    }

    /// Columns of a weight panel.
    pub(crate) fn nr(self) -> usize {
        self.tile_shape().0
    }

    /// Depth of one pass over the weight panels.
    pub(crate) fn kc(self) -> usize {
        self.tile_shape().2
    }

    /// Most rows of one tile.
    pub(crate) fn mr(self) -> usize {
        self.tile_shape().1
    }

    /// One tile: `rows` (1..=mr) rows by `nr` columns, `kc` deep: `c (+)= a b`, `b`'s rows `ldb` apart.
    ///
    /// # Safety
    /// As the level's `tile`: `a` reads `rows` rows `kc` deep, `b` holds `kc` rows of `nr` values `ldb`
    /// apart, and `c`'s `rows` rows (stride `ldc`) `nr` writable values each (readable for
    /// [`Start::Load`]).
    #[allow(clippy::too_many_arguments)]
    pub(crate) unsafe fn tile(
        self,
        rows: usize,
        kc: usize,
        a: impl Lhs,
        b: (*const f32, usize),
        c: *mut f32,
        ldc: usize,
        start: Start,
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            macro_rules! by_rows {
                ($module:ident: $($r:literal)*) => {
                    match rows {
                        $($r => super::$module::tile::<$r, _>(kc, a, b, c, ldc, start),)*
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
            let _ = (rows, kc, a, b, c, ldc, start);
            unreachable!("no CPU kernel level exists off x86-64 ({self:?})")
        }
    }
}

/// `m` rows cut into blocks of at most `mr` rows, as even as possible: `(first row, rows)`.
pub(crate) fn row_blocks(m: usize, mr: usize) -> Vec<(usize, usize)> {
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

/// Packs `B` (`n x k`, element `(j, p)` read by `get`) into `panels` (resized to fit), slice-major.
pub(crate) fn pack_panels(
    kernel: Kernel,
    dims: (usize, usize),
    get: impl Fn(usize, usize) -> f32,
    panels: &mut Vec<f32>,
) {
    pack_panels_by(kernel, dims, panels, |j0, p, row| {
        for (c, v) in row.iter_mut().enumerate() {
            *v = get(j0 + c, p);
        }
    });
}

/// [`pack_panels`] for a `B` whose rows lie in `src` one after the other, `stride` apart: element
/// `(column j, depth p)` is `src[p * stride + j]` (a 1x1 convolution's input planes, attention's v), so
/// that each panel row is one copy.
pub(crate) fn pack_panels_strided(
    kernel: Kernel,
    dims: (usize, usize),
    src: &[f32],
    stride: usize,
    panels: &mut Vec<f32>,
) {
    pack_panels_by(kernel, dims, panels, |j0, p, row| {
        let at = p * stride + j0;
        row.copy_from_slice(&src[at..at + row.len()]);
    });
}

/// `B` (`n x k`) as panels each `k` deep in one piece (not sliced by `kc`: panel `j` is `k` rows of `nr`
/// values at `j * k * nr`), for a `B` whose rows lie in `src` `stride` apart (element `(j, p)` at
/// `src[j * stride + p]`: attention's keys), transposed 8 x 8 in registers. `panels` is resized to fit;
/// the padding columns of a partial last panel keep what they held (whatever they compute is not read).
///
/// # Panics
/// If `src` does not hold `n` rows of `k` values `stride` apart.
pub(crate) fn pack_panels_whole(
    kernel: Kernel,
    (n, k): (usize, usize),
    src: &[f32],
    stride: usize,
    panels: &mut Vec<f32>,
) {
    let nr = kernel.nr();
    if n == 0 || k == 0 {
        return;
    }
    assert!(src.len() >= (n - 1) * stride + k, "rows outside the source");
    panels.resize(n.div_ceil(nr) * k * nr, 0.0);
    let at = |j: usize, p: usize| (j / nr) * k * nr + p * nr + j % nr;
    // 8 rows of `src` at a time (the last ones copied into a zero-padded block first: the panel is
    // whole vectors wide, so its 8 columns are there), 8 depths per transpose, a scalar depth tail.
    let depth8 = k / 8 * 8;
    let mut tail = [0f32; 64];
    for j0 in (0..n).step_by(8) {
        let rows = (n - j0).min(8);
        #[cfg(target_arch = "x86_64")]
        for p0 in (0..depth8).step_by(8) {
            let (block, lds) = if rows == 8 {
                (&src[j0 * stride + p0..], stride)
            } else {
                for (r, out) in tail.chunks_exact_mut(8).enumerate() {
                    match src.get((j0 + r) * stride + p0..) {
                        Some(row) if r < rows => out.copy_from_slice(&row[..8]),
                        _ => out.fill(0.0),
                    }
                }
                (&tail[..], 8)
            };
            // SAFETY: every level has AVX; `block` holds 8 rows of 8 values `lds` apart (8 rows of
            // `src` inside it, as checked above, or the 8 x 8 `tail`), and the panel's rows p0..p0 + 8,
            // columns j0 % nr .. + 8, lie inside `panels` (8 divides `nr`).
            unsafe {
                super::tiles_avx2::transpose8(
                    block.as_ptr(),
                    lds,
                    panels.as_mut_ptr().add(at(j0, p0)),
                    nr,
                )
            };
        }
        let first_scalar = if cfg!(target_arch = "x86_64") {
            depth8
        } else {
            0
        };
        for j in j0..j0 + rows {
            for p in first_scalar..k {
                panels[at(j, p)] = src[j * stride + p];
            }
        }
    }
}

/// The panel layout of `B` (`n x k`) in `panels` (resized to fit, padding columns zero): `fill(j0, p,
/// row)` writes columns `j0..j0 + row.len()` of depth `p`.
fn pack_panels_by(
    kernel: Kernel,
    (n, k): (usize, usize),
    panels: &mut Vec<f32>,
    mut fill: impl FnMut(usize, usize, &mut [f32]),
) {
    let (nr, kc) = (kernel.nr(), kernel.kc());
    let count = n.div_ceil(nr);
    panels.clear();
    panels.resize(count * k * nr, 0.0);
    for kb in (0..k).step_by(kc) {
        let depth = kc.min(k - kb);
        let slices = &mut panels[kb * count * nr..][..count * depth * nr];
        for (j, slice) in slices.chunks_exact_mut(depth * nr).enumerate() {
            let cols = (n - j * nr).min(nr);
            for (p, row) in slice.chunks_exact_mut(nr).enumerate() {
                fill(j * nr, kb + p, &mut row[..cols]);
            }
        }
    }
}

/// Packs rows `r0..r0 + rows` of `A` (element `(i, p)` read by `get`, `k` columns) into `block`
/// (`k x rows` values, column after column).
pub(crate) fn pack_block(
    k: usize,
    (r0, rows): (usize, usize),
    get: impl Fn(usize, usize) -> f32,
    block: &mut [f32],
) {
    for (p, column) in block[..k * rows].chunks_exact_mut(rows).enumerate() {
        for (r, v) in column.iter_mut().enumerate() {
            *v = get(r0 + r, p);
        }
    }
}

/// What [`Product::columns`] writes into each output value before the product is added to it (the
/// first write of an [`super::Unfilled`] output).
#[derive(Debug, Clone, Copy)]
pub(crate) enum OutputStart<'a> {
    /// One value per row of `C` (a convolution's bias per output channel).
    PerRow(&'a [f32]),
    /// One value per column of `C` (a linear layer's bias per output feature).
    PerColumn(&'a [f32]),
}

/// What [`Product::columns`] applies to each output value once its sum is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutputActivation {
    /// Nothing.
    None,
    /// `x * sigmoid(x)`.
    Silu,
    /// The tanh-approximated GELU ([`vmath::gelu_tanh`]).
    GeluTanh,
    /// `min(max(x, 0), 6)`.
    Relu6,
}

/// A product ready to run: packed `A` row blocks and `B` panels of one kernel level.
pub(crate) struct Product<'a> {
    pub(crate) kernel: Kernel,
    /// Row blocks of `A`, block `(r0, rows)` at offset `r0 * k`.
    pub(crate) a: &'a [f32],
    pub(crate) blocks: &'a [(usize, usize)],
    /// Panels of `B` ([`pack_panels`]).
    pub(crate) panels: &'a [f32],
    /// Columns of `C` (rows of `B`).
    pub(crate) n: usize,
    /// Depth of the product.
    pub(crate) k: usize,
}

impl Product<'_> {
    /// Accumulates the product into columns `j0 * NR .. j1 * NR` (clipped to `n`) of `C` (row stride
    /// `ldc`), group of row blocks after group: `start` is written into each row's columns `c0..` first,
    /// then `then(row, c0, dst)` may change them (add a residual), the product is added, and
    /// `activation` is applied to the finished values.
    ///
    /// # Safety
    /// `c` points to the rows of `blocks` with stride `ldc >= n` (their values may be uninitialised:
    /// `start` is their first write), and no other thread reads or writes these columns of them while
    /// this runs. `start`'s values cover the rows (`PerRow`) or columns (`PerColumn`) of `C`.
    pub(crate) unsafe fn columns(
        &self,
        c: *mut f32,
        ldc: usize,
        (j0, j1): (usize, usize),
        start: OutputStart<'_>,
        then: impl Fn(usize, usize, &mut [f32]),
        activation: OutputActivation,
    ) {
        let (n, k, kernel) = (self.n, self.k, self.kernel);
        let (nr, depth, count) = (kernel.nr(), kernel.kc(), n.div_ceil(kernel.nr()));
        let (c0, c1) = (j0 * nr, (j1 * nr).min(n));
        if c0 >= c1 {
            return;
        }
        let chunk = (MC_ROWS / kernel.mr()).max(1);
        // Taken only by a partial panel.
        let mut spill = Vec::new();
        // Group by group, so that the group's part of C stays in cache over the passes.
        for group in self.blocks.chunks(chunk) {
            for row in group.iter().flat_map(|b| b.0..b.0 + b.1) {
                // SAFETY: row `row`, columns c0..c1 are inside C and this caller's own.
                let slots = unsafe { SharedMut(c).slots(row * ldc + c0, c1 - c0) };
                let dst = match start {
                    OutputStart::PerRow(values) => write_each(slots, values[row]),
                    OutputStart::PerColumn(values) => write_all(slots, &values[c0..c1]),
                };
                then(row, c0, dst);
            }
            for kb in (0..k).step_by(depth) {
                let kc = depth.min(k - kb);
                for j in j0..j1 {
                    let panel = &self.panels[kb * count * nr + j * kc * nr..][..kc * nr];
                    let cols = nr.min(n - j * nr);
                    for &(r0, rows) in group {
                        let a = &self.a[r0 * k + kb * rows..][..kc * rows];
                        // SAFETY: rows r0..r0+rows of C exist and these `cols` columns are the
                        // caller's; a full panel writes `nr` columns in place, a partial one goes
                        // through `spill`, mr x nr values (sized at the first such panel).
                        unsafe {
                            let c = c.add(r0 * ldc + j * nr);
                            if cols == nr {
                                kernel.tile(
                                    rows,
                                    kc,
                                    Block(a.as_ptr()),
                                    (panel.as_ptr(), nr),
                                    c,
                                    ldc,
                                    Start::Load,
                                );
                            } else {
                                spill.resize(kernel.mr() * nr, 0.0);
                                for r in 0..rows {
                                    let s = &mut spill[r * nr..(r + 1) * nr];
                                    s[..cols].copy_from_slice(std::slice::from_raw_parts(
                                        c.add(r * ldc),
                                        cols,
                                    ));
                                    s[cols..].fill(0.0);
                                }
                                kernel.tile(
                                    rows,
                                    kc,
                                    Block(a.as_ptr()),
                                    (panel.as_ptr(), nr),
                                    spill.as_mut_ptr(),
                                    nr,
                                    Start::Load,
                                );
                                for r in 0..rows {
                                    std::slice::from_raw_parts_mut(c.add(r * ldc), cols)
                                        .copy_from_slice(&spill[r * nr..r * nr + cols]);
                                }
                            }
                        }
                    }
                    if activation != OutputActivation::None && kb + kc == k {
                        for row in group.iter().flat_map(|b| b.0..b.0 + b.1) {
                            // SAFETY: as above: the caller's columns of this row.
                            let dst = unsafe {
                                std::slice::from_raw_parts_mut(c.add(row * ldc + j * nr), cols)
                            };
                            match activation {
                                OutputActivation::Silu => vmath::silu(kernel, dst),
                                OutputActivation::GeluTanh => vmath::gelu_tanh(kernel, dst),
                                OutputActivation::Relu6 => vmath::relu6(kernel, dst),
                                OutputActivation::None => {}
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
