//! Which ids a search may return: a bitmap over ids, built by the caller from its own filter.
//!
//! Indexes search *through* the filter: HNSW walks non-matching nodes but never returns them, FAISS gets
//! the bitmap as an `IDSelectorBitmap`, exact search skips non-matching vectors before scoring. So a
//! selective filter still returns `k` results when `k` vectors match.

/// A set of allowed ids, one bit per id from 0 to the largest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdFilter {
    /// Bit `id % 8` of byte `id / 8` (FAISS's `IDSelectorBitmap` layout).
    bits: Vec<u8>,
    count: usize,
}

impl IdFilter {
    /// The filter allowing exactly `ids`.
    pub fn from_ids(ids: impl IntoIterator<Item = u64>) -> Self {
        let mut filter = Self::default();
        for id in ids {
            filter.insert(id);
        }
        filter
    }

    /// Allows `id`.
    pub fn insert(&mut self, id: u64) {
        let Ok(byte) = usize::try_from(id / 8) else {
            return;
        };
        if byte >= self.bits.len() {
            self.bits.resize(byte + 1, 0);
        }
        let mask = 1u8 << (id % 8);
        if self.bits[byte] & mask == 0 {
            self.bits[byte] |= mask;
            self.count += 1;
        }
    }

    /// Whether `id` is allowed.
    #[inline]
    pub fn contains(&self, id: u64) -> bool {
        usize::try_from(id / 8)
            .ok()
            .and_then(|byte| self.bits.get(byte))
            .is_some_and(|b| b & (1u8 << (id % 8)) != 0)
    }

    /// Number of allowed ids.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no id is allowed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The bitmap, `ceil((max id + 1) / 8)` bytes (FAISS's `IDSelectorBitmap` layout).
    pub fn bitmap(&self) -> &[u8] {
        &self.bits
    }

    /// The allowed ids, ascending.
    pub fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.bits.iter().enumerate().flat_map(|(byte, &b)| {
            (0..8u64)
                .filter(move |bit| b & (1u8 << bit) != 0)
                .map(move |bit| byte as u64 * 8 + bit)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::IdFilter;

    #[test]
    fn holds_exactly_the_ids_given() {
        let f = IdFilter::from_ids([3, 17, 3, 0, 64]);
        assert_eq!(f.len(), 4);
        assert_eq!(f.ids().collect::<Vec<_>>(), [0, 3, 17, 64]);
        assert!(f.contains(17) && !f.contains(16) && !f.contains(65) && !f.contains(u64::MAX));
        assert_eq!(f.bitmap().len(), 9);
        assert!(IdFilter::default().is_empty());
    }
}
