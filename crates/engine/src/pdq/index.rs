//! Finding every hash of a large set within a Hamming distance of a query: multi-index hashing (Norouzi,
//! Punjani and Fleet, "Fast search in Hamming space with multi-index hashing", CVPR 2012).
//!
//! The 256 bits are cut into 16 chunks of 16 bits. Two hashes within `r` bits of each other differ, in
//! at least one chunk, by at most `r / 16` bits (were every chunk `r / 16 + 1` bits apart or more, they
//! would be `16 (r / 16 + 1) > r` apart). So the index keeps, per chunk, the set's hashes grouped by that
//! chunk's 16-bit value (one table of 65,536 buckets per chunk), and a query looks up, in every chunk,
//! the buckets of the values within `r / 16` bits of its own: at PDQ's match distance 31 that is the
//! value itself and its 16 one-bit neighbours, 272 buckets in all. Every hash found is checked with its
//! full distance; nothing within `r` is missed (the benchmark, `benches/pdq_match.rs`, measures recall
//! on planted matches and the unit tests compare it with a full scan). Past 63 bits (4 flipped bits a
//! chunk, thousands of buckets) the index scans the whole set instead.

use super::PdqHash;

/// Chunks a hash is cut into.
const CHUNKS: usize = 16;

/// Buckets per chunk table (16-bit values).
const BUCKETS: usize = 1 << 16;

/// Above this distance a query scans every hash instead of probing buckets.
const MAX_PROBED_DISTANCE: u32 = 63;

/// A set of PDQ hashes, indexed for [`PdqIndex::within`].
#[derive(Debug, Clone, Default)]
pub struct PdqIndex {
    /// The hashes, by position.
    hashes: Vec<PdqHash>,
    /// Per chunk, where each bucket starts in `positions` (`BUCKETS + 1` offsets a chunk).
    starts: Vec<u32>,
    /// Per chunk, the positions of the hashes, grouped by the chunk's value (`hashes.len()` a chunk).
    positions: Vec<u32>,
}

/// The 16-bit value of chunk `c` of `hash`.
#[inline]
fn chunk(hash: &PdqHash, c: usize) -> usize {
    ((hash.words[c / 4] >> ((c % 4) * 16)) & 0xffff) as usize
}

impl PdqIndex {
    /// Indexes `hashes` (positions are their order). At most `u32::MAX` hashes.
    pub fn new(hashes: Vec<PdqHash>) -> Self {
        let n = hashes.len();
        assert!(
            n < u32::MAX as usize,
            "a PDQ index holds fewer than 2^32 hashes"
        );
        let mut starts = vec![0u32; CHUNKS * (BUCKETS + 1)];
        let mut positions = vec![0u32; CHUNKS * n];
        for c in 0..CHUNKS {
            let starts = &mut starts[c * (BUCKETS + 1)..(c + 1) * (BUCKETS + 1)];
            for h in &hashes {
                starts[chunk(h, c) + 1] += 1;
            }
            for b in 0..BUCKETS {
                starts[b + 1] += starts[b];
            }
            let mut next: Vec<u32> = starts[..BUCKETS].to_vec();
            let positions = &mut positions[c * n..(c + 1) * n];
            for (p, h) in hashes.iter().enumerate() {
                let slot = &mut next[chunk(h, c)];
                positions[*slot as usize] = p as u32;
                *slot += 1;
            }
        }
        Self {
            hashes,
            starts,
            positions,
        }
    }

    /// The number of hashes.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether it holds no hash.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// The hash at `position`.
    pub fn get(&self, position: usize) -> Option<&PdqHash> {
        self.hashes.get(position)
    }

    /// Bytes the index holds on the heap (its hashes and tables).
    pub fn heap_bytes(&self) -> usize {
        self.hashes.capacity() * std::mem::size_of::<PdqHash>()
            + (self.starts.capacity() + self.positions.capacity()) * std::mem::size_of::<u32>()
    }

    /// Every hash within `max_distance` bits of `query`: (position, distance), nearest first (then by
    /// position).
    pub fn within(&self, query: &PdqHash, max_distance: u32) -> Vec<(usize, u32)> {
        let mut found = Vec::new();
        if max_distance > MAX_PROBED_DISTANCE {
            for (p, h) in self.hashes.iter().enumerate() {
                let d = h.distance(query);
                if d <= max_distance {
                    found.push((p, d));
                }
            }
        } else {
            let flips = max_distance as usize / CHUNKS;
            let n = self.hashes.len();
            for c in 0..CHUNKS {
                let starts = &self.starts[c * (BUCKETS + 1)..(c + 1) * (BUCKETS + 1)];
                let positions = &self.positions[c * n..(c + 1) * n];
                for_each_within(chunk(query, c) as u16, flips, &mut |value| {
                    let bucket = value as usize;
                    for &p in &positions[starts[bucket] as usize..starts[bucket + 1] as usize] {
                        let d = self.hashes[p as usize].distance(query);
                        if d <= max_distance {
                            found.push((p as usize, d));
                        }
                    }
                });
            }
            // A hash near in several chunks is found once per chunk.
            found.sort_unstable();
            found.dedup();
        }
        found.sort_unstable_by_key(|&(p, d)| (d, p));
        found
    }
}

/// Calls `visit` with every 16-bit value within `flips` bits of `value` (itself included).
fn for_each_within(value: u16, flips: usize, visit: &mut impl FnMut(u16)) {
    fn go(value: u16, from: u32, flips: usize, visit: &mut impl FnMut(u16)) {
        visit(value);
        if flips == 0 {
            return;
        }
        for bit in from..16 {
            go(value ^ (1 << bit), bit + 1, flips - 1, visit);
        }
    }
    go(value, 0, flips, visit);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn random_hash(rng: &mut impl Rng) -> PdqHash {
        PdqHash {
            words: [rng.gen(), rng.gen(), rng.gen(), rng.gen()],
        }
    }

    /// `hash` with `bits` distinct random bits flipped.
    fn flipped(hash: &PdqHash, bits: usize, rng: &mut impl Rng) -> PdqHash {
        let mut out = *hash;
        for k in rand::seq::index::sample(rng, 256, bits) {
            out.words[k / 64] ^= 1 << (k % 64);
        }
        out
    }

    #[test]
    fn probes_cover_every_value_within_the_flips() {
        let mut seen = Vec::new();
        for_each_within(0b1010, 2, &mut |v| seen.push(v));
        assert_eq!(seen.len(), 1 + 16 + 120);
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 137);
        assert!(seen.iter().all(|v| (v ^ 0b1010).count_ones() <= 2));
    }

    #[test]
    fn matches_a_full_scan_on_random_hashes_and_planted_neighbours() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut hashes: Vec<PdqHash> = (0..20_000).map(|_| random_hash(&mut rng)).collect();
        let queries: Vec<PdqHash> = (0..50).map(|_| random_hash(&mut rng)).collect();
        // Planted near copies of each query at distances 0..=40 (some within, some past 31).
        for (i, q) in queries.iter().enumerate() {
            for bits in [i % 41, (i * 7) % 32, 31] {
                hashes.push(flipped(q, bits, &mut rng));
            }
        }
        let index = PdqIndex::new(hashes.clone());
        for max in [0, 10, 31, 47, 63, 64, 100] {
            for q in &queries {
                let mut truth: Vec<(usize, u32)> = hashes
                    .iter()
                    .enumerate()
                    .map(|(p, h)| (p, h.distance(q)))
                    .filter(|&(_, d)| d <= max)
                    .collect();
                truth.sort_unstable_by_key(|&(p, d)| (d, p));
                assert_eq!(index.within(q, max), truth, "max distance {max}");
            }
        }
    }

    #[test]
    fn an_empty_index_finds_nothing() {
        let index = PdqIndex::new(Vec::new());
        assert!(index.is_empty());
        assert!(index.within(&PdqHash::default(), 31).is_empty());
    }
}
