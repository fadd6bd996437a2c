//! The full vectors of a search layout, slot by slot: on the heap, or mapped from the index's vectors
//! file (a quantized index opened for search only walks its codes and reads these only to re-score).

use memmap2::Mmap;
use vsearch_core::codec;

/// Row-major `f32` vectors in slot order.
#[derive(Debug)]
pub(crate) enum Rows {
    Owned(Vec<f32>),
    /// A little-endian `f32` file mapped read-only, page-aligned; pages come in as re-scoring reads them.
    Mapped(Mmap),
}

/// Why a vectors file cannot be read as rows.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RowsError {
    #[error(
        "the vectors file holds {bytes} bytes, expected {expected} ({slots} slots of {dim} f32)"
    )]
    Length {
        bytes: usize,
        expected: usize,
        slots: usize,
        dim: usize,
    },
    #[error("the vectors file cannot be decoded: {0}")]
    Decode(#[from] codec::LengthError),
}

impl Default for Rows {
    fn default() -> Self {
        Rows::Owned(Vec::new())
    }
}

impl PartialEq for Rows {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Rows {
    /// Rows read from a mapped little-endian `f32` file of `slots` vectors of `dim` values (on a big-endian
    /// CPU, or a mapping not aligned for `f32`, the values are copied instead).
    pub(crate) fn mapped(map: Mmap, slots: usize, dim: usize) -> Result<Self, RowsError> {
        let expected = slots * dim * 4;
        if map.len() != expected {
            return Err(RowsError::Length {
                bytes: map.len(),
                expected,
                slots,
                dim,
            });
        }
        if cfg!(target_endian = "big")
            || !(map.as_ptr() as usize).is_multiple_of(std::mem::align_of::<f32>())
        {
            return Ok(Rows::Owned(codec::from_le_bytes(&map)?));
        }
        #[cfg(unix)]
        {
            // Re-scoring reads scattered rows: no read-ahead.
            let _ = map.advise(memmap2::Advice::Random);
        }
        Ok(Rows::Mapped(map))
    }

    /// Drops the mapped pages read so far (the checksum's, the load's checks) from the process's resident
    /// set: what a search needs comes back from the page cache as it is read. A no-op for rows on the heap.
    pub(crate) fn release_pages(&self) {
        #[cfg(unix)]
        if let Rows::Mapped(map) = self {
            // SAFETY: the mapping is read-only and file-backed; dropping its pages only makes later reads
            // fetch them again from the file, which is never modified while mapped (persist::map_file).
            let _ = unsafe { map.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
        }
    }

    /// The values, `slots * dim` of them.
    #[inline]
    pub(crate) fn as_slice(&self) -> &[f32] {
        match self {
            Rows::Owned(v) => v,
            // SAFETY: `mapped` checked the length (a multiple of 4 bytes) and the alignment of the mapping,
            // and that the CPU is little-endian like the file; every bit pattern is a valid f32.
            Rows::Mapped(map) => unsafe {
                std::slice::from_raw_parts(map.as_ptr().cast::<f32>(), map.len() / 4)
            },
        }
    }

    /// The values on the heap, to fill in (empty for mapped rows).
    pub(crate) fn owned_mut(&mut self) -> &mut [f32] {
        match self {
            Rows::Owned(v) => v,
            Rows::Mapped(_) => &mut [],
        }
    }

    /// Heap bytes held (0 for mapped rows).
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            Rows::Owned(v) => v.capacity() * 4,
            Rows::Mapped(_) => 0,
        }
    }

    /// Bytes mapped from the file (0 for rows on the heap).
    pub(crate) fn mapped_bytes(&self) -> usize {
        match self {
            Rows::Owned(_) => 0,
            Rows::Mapped(map) => map.len(),
        }
    }
}
