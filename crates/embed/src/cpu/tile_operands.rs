//! What the `f32` tiles of every level read and how they start: where a tile finds its rows of `A`
//! ([`Lhs`]: a packed row block or rows as they lie) and what its sums start from ([`Start`]).

/// Where a tile reads its rows of `A`: the address of row `r`'s value at depth `p`.
pub(crate) trait Lhs: Copy {
    /// # Safety
    /// `r` and `p` lie inside the rows and depth the tile was given.
    unsafe fn at<const R: usize>(self, r: usize, p: usize) -> *const f32;
}

/// A packed row block of `R` rows ([`super::gemm::pack_block`]): value `(r, p)` at `a[p * R + r]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Block(pub(crate) *const f32);

impl Lhs for Block {
    #[inline(always)]
    unsafe fn at<const R: usize>(self, r: usize, p: usize) -> *const f32 {
        // SAFETY: as the caller promises.
        unsafe { self.0.add(p * R + r) }
    }
}

/// Rows as they lie in memory, `lda` values apart: value `(r, p)` at `a[r * lda + p]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rows {
    pub(crate) a: *const f32,
    pub(crate) lda: usize,
}

impl Lhs for Rows {
    #[inline(always)]
    unsafe fn at<const R: usize>(self, r: usize, p: usize) -> *const f32 {
        // SAFETY: as the caller promises.
        unsafe { self.a.add(r * self.lda + p) }
    }
}

/// What a tile's sums start from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// The values in `c` (the product is added to them).
    Load,
    /// Zero (the product is written over `c`, which need not be initialised).
    Zero,
}
