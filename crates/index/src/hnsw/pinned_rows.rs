//! The vectors hnsw_rs's graph borrows instead of copying them point by point
//! (`Hnsw::insert_borrowed`, vendor/hnsw_rs/PATCHES.md): each batch of rows is one 64-byte-aligned block
//! that never moves, grows or shrinks until the store is dropped. Rows of a batch lie one after the other
//! and, when `dim` is a multiple of 16, each starts on a cache line, which is what the build's distances
//! read (a copy per point is a separate allocation, 16 bytes off a line, its loads split across two).

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ptr::NonNull;

/// The alignment of a block: one cache line.
const ALIGN: usize = 64;

/// Rows the graph borrows; see the module documentation.
#[derive(Default)]
pub(super) struct PinnedRows {
    blocks: Vec<Block>,
}

impl PinnedRows {
    /// Copies `values` into a new block and returns the copy.
    ///
    /// # Safety
    /// The returned slice must not be used after `self` is dropped (the owner of the graph that borrows
    /// it keeps the store declared after the graph, so that the graph is dropped first).
    pub(super) unsafe fn pin(&mut self, values: &[f32]) -> &'static [f32] {
        if values.is_empty() {
            return &[];
        }
        let block = Block::copy_of(values);
        // SAFETY: the block's allocation stays where it is until the block is dropped with `self` (a
        // `Vec` of blocks moves the `Block` handles, never the memory they point to); the caller
        // promises not to use the slice after that. Nothing writes to a block after `copy_of`.
        let pinned = unsafe { std::slice::from_raw_parts(block.ptr.as_ptr(), block.len) };
        self.blocks.push(block);
        pinned
    }
}

/// One aligned allocation of `len` values.
struct Block {
    ptr: NonNull<f32>,
    len: usize,
}

impl Block {
    fn layout(len: usize) -> Layout {
        match Layout::from_size_align(len * std::mem::size_of::<f32>(), ALIGN) {
            Ok(layout) => layout,
            Err(_) => panic!("a block of {len} f32 values exceeds the address space"),
        }
    }

    /// An aligned copy of `values` (not empty).
    fn copy_of(values: &[f32]) -> Self {
        let layout = Self::layout(values.len());
        // SAFETY: the layout's size is not zero (`values` is not empty).
        let raw = unsafe { alloc(layout) }.cast::<f32>();
        let Some(ptr) = NonNull::new(raw) else {
            handle_alloc_error(layout)
        };
        // SAFETY: `ptr` is a fresh allocation of `values.len()` f32 values, which cannot overlap `values`.
        unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), ptr.as_ptr(), values.len()) };
        Self {
            ptr,
            len: values.len(),
        }
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        // SAFETY: allocated in `copy_of` with this same layout, freed only here.
        unsafe { dealloc(self.ptr.as_ptr().cast(), Self::layout(self.len)) };
    }
}

// SAFETY: a block owns its allocation alone and is never written after `copy_of`; sharing or moving the
// handle across threads shares immutable f32 values.
unsafe impl Send for Block {}
// SAFETY: as above.
unsafe impl Sync for Block {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_rows_are_aligned_copies_that_stay_put() {
        let mut store = PinnedRows::default();
        let a: Vec<f32> = (0..784).map(|i| i as f32).collect();
        // SAFETY: the slices are used only while `store` lives.
        let (pa, pb, empty) = unsafe { (store.pin(&a), store.pin(&a[..16]), store.pin(&[])) };
        assert_eq!(pa, &a[..]);
        assert_eq!(pb, &a[..16]);
        assert!(empty.is_empty());
        assert_eq!(pa.as_ptr() as usize % ALIGN, 0);
        assert_eq!(pb.as_ptr() as usize % ALIGN, 0);
        let before = pa.as_ptr();
        for _ in 0..100 {
            // SAFETY: as above.
            let _ = unsafe { store.pin(&a) };
        }
        assert_eq!(pa.as_ptr(), before);
        assert_eq!(pa[783], 783.0);
        assert_eq!(store.blocks.len(), 102);
    }
}
