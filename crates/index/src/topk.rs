//! Bounded best-k selection for both metrics.

use crate::vector_index::{Hit, Metric};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A hit ordered so that the heap's top is the WORST kept result.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Score mapped so that larger is worse.
    badness: f32,
    id: u64,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.badness
            .total_cmp(&other.badness)
            .then(self.id.cmp(&other.id))
    }
}

/// Keeps the best `k` of the hits pushed into it; ties broken by smaller id.
#[derive(Debug, Clone)]
pub struct TopK {
    k: usize,
    metric: Metric,
    heap: BinaryHeap<Entry>,
}

impl TopK {
    pub fn new(k: usize, metric: Metric) -> Self {
        Self {
            k,
            metric,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    fn badness(&self, score: f32) -> f32 {
        match self.metric {
            Metric::Cosine => -score,
            Metric::L2 => score,
        }
    }

    /// Offers one hit.
    #[inline]
    pub fn push(&mut self, id: u64, score: f32) {
        self.push_badness(id, self.badness(score));
    }

    /// The largest badness (the distance for L2, the negated score for cosine) a hit may have and still be
    /// kept: infinite until `k` hits are held. A hit whose badness is above it can be skipped unseen.
    #[inline]
    pub fn bound(&self) -> f32 {
        match self.heap.peek() {
            Some(worst) if self.heap.len() >= self.k => worst.badness,
            _ if self.k == 0 => f32::NEG_INFINITY,
            _ => f32::INFINITY,
        }
    }

    /// Offers one hit by its badness (see [`TopK::bound`]).
    #[inline]
    pub fn push_badness(&mut self, id: u64, badness: f32) {
        if self.k == 0 {
            return;
        }
        let entry = Entry { badness, id };
        if self.heap.len() < self.k {
            self.heap.push(entry);
        } else if let Some(worst) = self.heap.peek() {
            if entry < *worst {
                self.heap.pop();
                self.heap.push(entry);
            }
        }
    }

    /// Union of two selections.
    pub fn merge(mut self, other: Self) -> Self {
        for e in other.heap {
            let score = match self.metric {
                Metric::Cosine => -e.badness,
                Metric::L2 => e.badness,
            };
            self.push(e.id, score);
        }
        self
    }

    /// The kept hits, best first.
    pub fn into_sorted(self) -> Vec<Hit> {
        let metric = self.metric;
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|e| Hit {
                id: e.id,
                score: match metric {
                    Metric::Cosine => -e.badness,
                    Metric::L2 => e.badness,
                },
            })
            .collect()
    }
}
