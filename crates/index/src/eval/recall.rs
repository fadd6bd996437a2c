//! Recall@k: the share of the true k nearest neighbours an index returns among its first k results.

use crate::vector_index::Hit;

/// A search result that names a neighbour: a bare id or a [`Hit`].
pub trait Neighbour {
    /// The neighbour's id.
    fn neighbour_id(&self) -> u64;
}

impl Neighbour for u64 {
    fn neighbour_id(&self) -> u64 {
        *self
    }
}

impl Neighbour for Hit {
    fn neighbour_id(&self) -> u64 {
        self.id
    }
}

/// Mean over queries of |found\[..k\] ∩ truth\[..k\]| / k. Queries without truth (past the end of `truth`)
/// are skipped; 0.0 when none is left or `k` is 0.
pub fn recall_at_k<N: Neighbour>(found: &[Vec<N>], truth: &[Vec<u64>], k: usize) -> f64 {
    if k == 0 {
        return 0.0;
    }
    let mut hits = 0usize;
    let mut n = 0usize;
    for (f, t) in found.iter().zip(truth) {
        let t = &t[..t.len().min(k)];
        hits += f
            .iter()
            .take(k)
            .filter(|h| t.contains(&h.neighbour_id()))
            .count();
        n += 1;
    }
    if n == 0 {
        0.0
    } else {
        hits as f64 / (n * k) as f64
    }
}
