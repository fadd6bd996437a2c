//! Training and changing an IVF index: parameter and input checks, the training sample, [`IvfIndex::build`],
//! and adding and removing vectors.

use super::ffi::{faiss_err, faiss_metric, probe_every_list_unless_told, to_idx};
// Up to mod.rs: this file adds methods to the IvfIndex defined there.
use super::{default_rerank_factor, invalid, threads, IvfIndex};
use crate::config::{
    default_nlist, default_pq4fs_m, default_pq_m, IvfCodes, IvfParams, FAST_SCAN_BITS,
    MIN_POINTS_PER_LIST,
};
use crate::error::{IndexError, Result};
use crate::vector_index::Metric;
use faiss::selector::IdSelector;
use faiss::Index;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use vsearch_core::vector::normalize_rows;

/// Checks the parameters that do not depend on the data.
pub(super) fn check_params(params: &IvfParams, dim: usize) -> Result<()> {
    if dim == 0 {
        return Err(invalid("dimension must be at least 1"));
    }
    if params.nprobe == 0 {
        return Err(invalid("nprobe must be at least 1"));
    }
    if params.nlist == Some(0) {
        return Err(invalid("nlist must be at least 1"));
    }
    if params.train_size == Some(0) {
        return Err(invalid(
            "train_size must be at least 1 (or unset to train on all vectors)",
        ));
    }
    match params.codes {
        IvfCodes::Pq { m, bits } => {
            if m == 0 || !dim.is_multiple_of(m) {
                return Err(invalid(format!(
                    "PQ m = {m} must divide the dimension {dim}; try m = {}",
                    default_pq_m(dim)
                )));
            }
            if !(1..=16).contains(&bits) {
                return Err(invalid(format!(
                    "PQ bits = {bits} must be between 1 and 16 (8 is the usual choice)"
                )));
            }
        }
        // FAISS 1.12's fast-scan takes any m (an odd one is padded to m + 1 in its blocks of 32 codes) but,
        // like every PQ, needs it to divide the dimension.
        IvfCodes::PqFastScan { m } => {
            if m == 0 || !dim.is_multiple_of(m) {
                return Err(invalid(format!(
                    "PQ fast-scan m = {m} must divide the dimension {dim}; try m = {}",
                    default_pq4fs_m(dim)
                )));
            }
        }
        IvfCodes::Flat | IvfCodes::Sq8 => {}
    }
    Ok(())
}

/// Validates ids and vectors for an add: lengths, finiteness, id range, duplicates within the batch and
/// against `existing`.
fn check_input(
    dim: usize,
    ids: &[u64],
    vectors: &[f32],
    existing: &HashMap<u64, usize>,
) -> Result<()> {
    if vectors.len() != ids.len() * dim {
        if ids.is_empty() || !vectors.len().is_multiple_of(ids.len()) {
            return Err(invalid(format!(
                "{} ids but {} values: expected ids.len() * {dim} values",
                ids.len(),
                vectors.len()
            )));
        }
        return Err(IndexError::Dimension {
            expected: dim,
            got: vectors.len() / ids.len(),
        });
    }
    let mut seen = HashSet::with_capacity(ids.len());
    for (i, &id) in ids.iter().enumerate() {
        if id >= 1 << 63 {
            return Err(invalid(format!(
                "id {id} is too large: IVF (FAISS) ids must be below 2^63"
            )));
        }
        if existing.contains_key(&id) || !seen.insert(id) {
            return Err(IndexError::DuplicateId { id });
        }
        if vectors[i * dim..(i + 1) * dim]
            .iter()
            .any(|x| !x.is_finite())
        {
            return Err(IndexError::NonFinite { id });
        }
    }
    Ok(())
}

/// A uniform sample of `take` row indices out of `n`, deterministic (SplitMix64, fixed seed), sorted.
fn sample_rows(n: usize, take: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    let mut state: u64 = 0x5EED_1DF0_0D15_EA5E;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    for i in 0..take {
        let j = i + (next() % (n - i) as u64) as usize;
        idx.swap(i, j);
    }
    idx.truncate(take);
    idx.sort_unstable();
    idx
}

/// `vectors` as FAISS stores them: normalised for cosine (a copy), as given for L2 (borrowed).
fn as_stored(metric: Metric, dim: usize, vectors: &[f32]) -> Cow<'_, [f32]> {
    match metric {
        Metric::Cosine => {
            let mut data = vectors.to_vec();
            normalize_rows(&mut data, dim);
            Cow::Owned(data)
        }
        Metric::L2 => Cow::Borrowed(vectors),
    }
}

impl IvfIndex {
    /// Trains an IVF index on `vectors` (or a uniform sample of `params.train_size` of them) and adds them.
    ///
    /// Errors: bad parameters (nprobe or nlist 0, PQ or fast-scan `m` not dividing `dim`, `bits` outside
    /// 1..=16), wrong vector length, NaN/infinite components, duplicate ids, or too few vectors to train
    /// (fewer than nlist, or fewer than `2^bits` for PQ, 16 for fast-scan).
    pub fn build(
        params: &IvfParams,
        dim: usize,
        metric: Metric,
        ids: &[u64],
        vectors: &[f32],
    ) -> Result<IvfIndex> {
        check_params(params, dim)?;
        check_input(dim, ids, vectors, &HashMap::new())?;
        let n = ids.len();
        if n == 0 {
            return Err(invalid(
                "cannot train an IVF index on 0 vectors; add vectors or use the flat index",
            ));
        }
        let nlist = params.nlist.unwrap_or_else(|| default_nlist(n));
        let train_n = params.train_size.map_or(n, |t| t.min(n));
        if train_n < nlist {
            return Err(invalid(format!(
                "too few vectors to train IVF: nlist = {nlist} needs at least {nlist} training vectors \
                 ({} recommended), got {train_n}; lower nlist or use the flat index",
                nlist * MIN_POINTS_PER_LIST
            )));
        }
        let pq_bits = match params.codes {
            IvfCodes::Pq { bits, .. } => Some(bits),
            IvfCodes::PqFastScan { .. } => Some(FAST_SCAN_BITS),
            IvfCodes::Flat | IvfCodes::Sq8 => None,
        };
        if let Some(bits) = pq_bits {
            if train_n < 1 << bits {
                return Err(invalid(format!(
                    "too few vectors to train PQ with {bits} bits: needs at least {} training vectors, got \
                     {train_n}; use fewer bits, IVF-SQ8 or IVF-Flat",
                    1usize << bits
                )));
            }
        }
        let description = match params.codes {
            IvfCodes::Flat => format!("IVF{nlist},Flat"),
            // `np`: no polysemous training (simulated annealing for Hamming filtering, which we do not use;
            // it dominates training time).
            IvfCodes::Pq { m, bits } => format!("IVF{nlist},PQ{m}x{bits}np"),
            // Encoded relative to the residual of the list's centroid, 8 bits per dimension.
            IvfCodes::Sq8 => format!("IVF{nlist},SQ8"),
            // FAISS's default block size (32 codes) and no residual encoding (`x4fs`, not `x4fsr`): one look-up
            // table per query rather than one per visited list; re-ranking recovers the precision.
            IvfCodes::PqFastScan { m } => format!("IVF{nlist},PQ{m}x4fs"),
        };
        let data = as_stored(metric, dim, vectors);
        let mut faiss = faiss::index_factory(dim as u32, &description, faiss_metric(metric))
            .map_err(faiss_err)?;
        threads::apply();
        let started = std::time::Instant::now();
        if train_n < n {
            let mut sample = Vec::with_capacity(train_n * dim);
            for r in sample_rows(n, train_n) {
                sample.extend_from_slice(&data[r * dim..(r + 1) * dim]);
            }
            faiss.train(&sample).map_err(faiss_err)?;
        } else if nlist == 1
            && matches!(params.codes, IvfCodes::Flat | IvfCodes::Sq8)
            && n < MIN_POINTS_PER_LIST
        {
            // One list: its centroid is the mean whatever k-means does. Repeating the rows keeps the mean (and
            // SQ8's per-dimension ranges) and spares small collections FAISS's "please provide at least 39
            // training points" warning on stderr.
            let copies = MIN_POINTS_PER_LIST.div_ceil(n);
            faiss.train(&data.repeat(copies)).map_err(faiss_err)?;
        } else {
            faiss.train(&data).map_err(faiss_err)?;
        }
        faiss.add_with_ids(&data, &to_idx(ids)).map_err(faiss_err)?;
        probe_every_list_unless_told(&mut faiss);
        tracing::debug!(%description, n, train_n, secs = started.elapsed().as_secs_f64(), "built IVF index");
        let rows = ids.iter().enumerate().map(|(i, &id)| (id, i)).collect();
        Ok(IvfIndex {
            params: IvfParams {
                nlist: Some(nlist),
                ..*params
            },
            dim,
            metric,
            faiss,
            ids: ids.to_vec(),
            raw: if params.codes.keeps_raw() {
                data.into_owned()
            } else {
                Vec::new()
            },
            rows,
            rerank_factor: default_rerank_factor(params.codes),
        })
    }

    /// Adds vectors ([`crate::VectorIndex::add`]): checked, stored as FAISS stores them, under their ids.
    pub(super) fn add_vectors(&mut self, ids: &[u64], vectors: &[f32]) -> Result<()> {
        check_input(self.dim, ids, vectors, &self.rows)?;
        if ids.is_empty() {
            return Ok(());
        }
        let data = as_stored(self.metric, self.dim, vectors);
        threads::apply();
        self.faiss
            .add_with_ids(&data, &to_idx(ids))
            .map_err(faiss_err)?;
        for &id in ids {
            self.rows.insert(id, self.ids.len());
            self.ids.push(id);
        }
        if self.params.codes.keeps_raw() {
            self.raw.extend_from_slice(&data);
        }
        Ok(())
    }

    /// Removes ids ([`crate::VectorIndex::remove`]); the last row moves into each freed one.
    ///
    /// Flat, PQ and SQ8: FAISS's `remove_ids`. PQ fast-scan: FAISS's lists are emptied (`reset`, which keeps
    /// the training) and the remaining raw vectors re-added, so a removal costs as much as adding the whole
    /// collection again (remove in batches). FAISS 1.12's `remove_ids` on fast-scan's block lists cannot be
    /// used: it moves each list's last code into the freed slot but leaves the old bits in the vacated
    /// slot, and its packing ORs later codes into those bits, so vectors added after a removal get corrupt
    /// codes (and are not found); it also reports 0 removed, leaving `ntotal` stale.
    pub(super) fn remove_ids(&mut self, ids: &[u64]) -> Result<()> {
        let mut unique = Vec::with_capacity(ids.len());
        let mut seen = HashSet::with_capacity(ids.len());
        for &id in ids {
            if !self.rows.contains_key(&id) {
                return Err(IndexError::UnknownId { id });
            }
            if seen.insert(id) {
                unique.push(id);
            }
        }
        if unique.is_empty() {
            return Ok(());
        }
        let readd = matches!(self.params.codes, IvfCodes::PqFastScan { .. });
        threads::apply();
        if !readd {
            let selector = IdSelector::batch(&to_idx(&unique)).map_err(faiss_err)?;
            let removed = self.faiss.remove_ids(&selector).map_err(faiss_err)?;
            if removed != unique.len() {
                return Err(IndexError::Faiss { reason: format!(
                    "FAISS removed {removed} vectors, expected {}; the index is inconsistent, rebuild it",
                    unique.len()
                ) });
            }
        }
        let dim = self.dim;
        let raw = self.params.codes.keeps_raw();
        for id in unique {
            let Some(row) = self.rows.remove(&id) else {
                continue;
            };
            let last = self.ids.len() - 1;
            if row != last {
                self.ids.swap(row, last);
                if raw {
                    self.raw
                        .copy_within(last * dim..(last + 1) * dim, row * dim);
                }
                self.rows.insert(self.ids[row], row);
            }
            self.ids.pop();
            if raw {
                self.raw.truncate(last * dim);
            }
        }
        if readd {
            let inconsistent = |e: faiss::error::Error| IndexError::Faiss {
                reason: format!(
                    "re-adding the vectors left after a removal failed ({e}); rebuild the index"
                ),
            };
            self.faiss.reset().map_err(inconsistent)?;
            if !self.ids.is_empty() {
                self.faiss
                    .add_with_ids(&self.raw, &to_idx(&self.ids))
                    .map_err(inconsistent)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_is_uniform_subset() {
        let s = sample_rows(1000, 100);
        assert_eq!(s.len(), 100);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        assert!(*s.last().unwrap() < 1000);
    }
}
