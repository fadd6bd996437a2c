//! The set of deleted slots, as a bitmap: one bit per slot, tested on the search's hot path.

/// Deleted slots of an [`super::HnswIndex`]; a tombstoned slot stays in the graph (it is traversed) but is
/// never returned.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tombstones {
    bits: Vec<u64>,
    count: usize,
}

impl Tombstones {
    /// Marks `slot` deleted; returns false when it already was.
    pub(crate) fn insert(&mut self, slot: usize) -> bool {
        let (word, bit) = (slot / 64, 1u64 << (slot % 64));
        if word >= self.bits.len() {
            self.bits.resize(word + 1, 0);
        }
        let fresh = self.bits[word] & bit == 0;
        self.bits[word] |= bit;
        self.count += usize::from(fresh);
        fresh
    }

    #[inline]
    pub(crate) fn contains(&self, slot: usize) -> bool {
        self.bits
            .get(slot / 64)
            .is_some_and(|w| w & (1u64 << (slot % 64)) != 0)
    }

    /// Number of deleted slots.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Deleted slots in increasing order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.bits.iter().enumerate().flat_map(|(w, &word)| {
            (0..64)
                .filter(move |b| word & (1u64 << b) != 0)
                .map(move |b| w * 64 + b)
        })
    }

    /// Heap bytes held.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.bits.capacity() * 8
    }
}

impl FromIterator<usize> for Tombstones {
    fn from_iter<I: IntoIterator<Item = usize>>(slots: I) -> Self {
        let mut set = Self::default();
        for slot in slots {
            set.insert(slot);
        }
        set
    }
}
