//! Exact search: every query is compared with every stored vector.
//!
//! Single queries use the [`crate::distance`] kernels (AVX-512, AVX2 or portable, chosen at run time) and
//! split large scans over threads; batches are computed as a matrix product (`gemm`, which picks its own
//! kernels at run time) over blocks of the base, with a bounded top-k heap per query. This is the ground truth the approximate indexes are measured against.

use crate::config::{IndexConfig, SearchParams};
use crate::error::{IndexError, Result};
use crate::id_filter::IdFilter;
use crate::kind::IndexKind;
use crate::persist::{self, Manifest};
use crate::topk::TopK;
use crate::vector_index::{check_query, check_vectors, Hit, Metric, VectorIndex};
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::Path;
use vsearch_core::codec;

/// Rows scanned per block in batched search (bounds the score matrix to `queries x BLOCK`).
const BLOCK_ROWS: usize = 512;
/// Below this many `rows * dim` values a single query is scanned on one thread.
const PARALLEL_SCAN_MIN: usize = 1 << 20;
/// A filter allowing fewer than `len / LOOKUP_FILTER_RATIO` ids is searched by looking its ids up
/// (one hash lookup each) rather than testing every row against it.
const LOOKUP_FILTER_RATIO: usize = 32;

/// Exact index: a row-major matrix with an id per row.
#[derive(Debug, Clone)]
pub struct FlatIndex {
    dim: usize,
    metric: Metric,
    ids: Vec<u64>,
    data: Vec<f32>,
    /// Squared norms of rows (used by batched L2).
    norms: Vec<f32>,
    positions: HashMap<u64, usize>,
}

impl FlatIndex {
    /// An empty index.
    pub fn new(dim: usize, metric: Metric) -> Result<Self> {
        if dim == 0 {
            return Err(IndexError::InvalidParams {
                reason: "dimension must be at least 1".into(),
            });
        }
        Ok(Self {
            dim,
            metric,
            ids: Vec::new(),
            data: Vec::new(),
            norms: Vec::new(),
            positions: HashMap::new(),
        })
    }

    /// Builds from `(ids, vectors)`.
    pub fn build(dim: usize, metric: Metric, ids: &[u64], vectors: &[f32]) -> Result<Self> {
        let mut index = Self::new(dim, metric)?;
        index.add(ids, vectors)?;
        Ok(index)
    }

    /// The stored (normalised, for cosine) vector of `id`.
    pub fn vector(&self, id: u64) -> Option<&[f32]> {
        self.positions
            .get(&id)
            .map(|&p| &self.data[p * self.dim..(p + 1) * self.dim])
    }

    /// Ids in storage order.
    pub fn ids(&self) -> &[u64] {
        &self.ids
    }

    /// Scores `query` against the `rows` whose id `keep` accepts (similarity for cosine, squared distance
    /// for L2), keeping the best `k`. Rows refused are skipped before scoring.
    #[inline(always)]
    fn scan(
        &self,
        query: &[f32],
        rows: std::ops::Range<usize>,
        k: usize,
        keep: impl Fn(u64) -> bool,
    ) -> TopK {
        let score = self.metric.score_kernel();
        let mut top = TopK::new(k, self.metric);
        for row in rows {
            let id = self.ids[row];
            if !keep(id) {
                continue;
            }
            let v = &self.data[row * self.dim..(row + 1) * self.dim];
            top.push(id, score(query, v));
        }
        top
    }

    /// The best `k` rows whose id `keep` accepts, one thread for small scans, split over threads otherwise.
    fn scan_all(&self, query: &[f32], k: usize, keep: impl Fn(u64) -> bool + Sync) -> Vec<Hit> {
        let n = self.len();
        if n * self.dim < PARALLEL_SCAN_MIN {
            return self.scan(query, 0..n, k, keep).into_sorted();
        }
        let chunk = n.div_ceil(rayon::current_num_threads().max(1));
        let merged = (0..n)
            .step_by(chunk)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|start| self.scan(query, start..(start + chunk).min(n), k, &keep))
            .reduce(|| TopK::new(k, self.metric), TopK::merge);
        merged.into_sorted()
    }

    /// Loads an index saved by [`VectorIndex::save`].
    pub fn load(dir: &Path, manifest: &Manifest) -> Result<Self> {
        persist::expect_kind(dir, manifest, IndexKind::Flat)?;
        let ids = persist::read_values(dir, manifest, "ids.bin")?;
        let data = persist::read_values(dir, manifest, "vectors.bin")?;
        if data.len() != ids.len() * manifest.dim {
            return Err(IndexError::Format {
                path: dir.to_path_buf(),
                reason: "vector file does not match the id count".into(),
            });
        }
        let mut index = Self::new(manifest.dim, manifest.metric)?;
        index.norms = data.chunks_exact(manifest.dim).map(|v| dot(v, v)).collect();
        index.positions = ids.iter().enumerate().map(|(i, &id)| (id, i)).collect();
        index.ids = ids;
        index.data = data;
        Ok(index)
    }
}

impl VectorIndex for FlatIndex {
    fn dim(&self) -> usize {
        self.dim
    }

    fn metric(&self) -> Metric {
        self.metric
    }

    fn len(&self) -> usize {
        self.ids.len()
    }

    fn config(&self) -> IndexConfig {
        IndexConfig::Flat
    }

    fn memory_bytes(&self) -> usize {
        self.data.capacity() * 4
            + self.norms.capacity() * 4
            + self.ids.capacity() * 8
            + self.positions.capacity() * (8 + 8 + 8)
    }

    fn add(&mut self, ids: &[u64], vectors: &[f32]) -> Result<()> {
        let prepared = check_vectors(self.dim, self.metric, ids, vectors)?;
        let mut seen = std::collections::HashSet::with_capacity(ids.len());
        for &id in ids {
            if self.positions.contains_key(&id) || !seen.insert(id) {
                return Err(IndexError::DuplicateId { id });
            }
        }
        self.data.reserve(prepared.len());
        for (&id, v) in ids.iter().zip(prepared.chunks_exact(self.dim)) {
            self.positions.insert(id, self.ids.len());
            self.ids.push(id);
            self.norms.push(dot(v, v));
            self.data.extend_from_slice(v);
        }
        Ok(())
    }

    fn remove(&mut self, ids: &[u64]) -> Result<()> {
        if let Some(&missing) = ids.iter().find(|id| !self.positions.contains_key(id)) {
            return Err(IndexError::UnknownId { id: missing });
        }
        for &id in ids {
            let Some(pos) = self.positions.remove(&id) else {
                continue;
            };
            let last = self.ids.len() - 1;
            if pos != last {
                let moved = self.ids[last];
                self.ids[pos] = moved;
                self.norms[pos] = self.norms[last];
                self.data
                    .copy_within(last * self.dim..(last + 1) * self.dim, pos * self.dim);
                self.positions.insert(moved, pos);
            }
            self.ids.pop();
            self.norms.pop();
            self.data.truncate(last * self.dim);
        }
        Ok(())
    }

    fn search(&self, query: &[f32], k: usize, _params: &SearchParams) -> Result<Vec<Hit>> {
        let query = check_query(self.dim, self.metric, self.len(), query, k)?;
        Ok(self.scan_all(&query, k, |_| true))
    }

    /// Exact search among the allowed ids: rows the filter refuses are skipped before scoring. A filter
    /// much smaller than the index is looked up id by id instead of testing every row.
    fn search_filtered(
        &self,
        query: &[f32],
        k: usize,
        _params: &SearchParams,
        filter: &IdFilter,
    ) -> Result<Vec<Hit>> {
        let query = check_query(self.dim, self.metric, self.len(), query, k)?;
        if filter.is_empty() {
            return Ok(Vec::new());
        }
        if filter.len().saturating_mul(LOOKUP_FILTER_RATIO) < self.len() {
            let score = self.metric.score_kernel();
            let mut top = TopK::new(k, self.metric);
            for id in filter.ids() {
                if let Some(&row) = self.positions.get(&id) {
                    top.push(
                        id,
                        score(&query, &self.data[row * self.dim..(row + 1) * self.dim]),
                    );
                }
            }
            return Ok(top.into_sorted());
        }
        Ok(self.scan_all(&query, k, |id| filter.contains(id)))
    }

    fn search_batch(
        &self,
        queries: &[f32],
        k: usize,
        _params: &SearchParams,
    ) -> Result<Vec<Vec<Hit>>> {
        if !queries.len().is_multiple_of(self.dim) {
            return Err(IndexError::Dimension {
                expected: self.dim,
                got: queries.len() % self.dim,
            });
        }
        let nq = queries.len() / self.dim;
        let prepared: Vec<Vec<f32>> = queries
            .chunks_exact(self.dim)
            .map(|q| check_query(self.dim, self.metric, self.len(), q, k))
            .collect::<Result<_>>()?;
        if nq == 0 {
            return Ok(Vec::new());
        }
        // Queries are split over threads in groups; each group runs blocked matrix products over the base.
        let group = nq
            .div_ceil(rayon::current_num_threads().max(1))
            .clamp(1, 1024);
        let results: Vec<Vec<Hit>> = prepared
            .par_chunks(group)
            .flat_map_iter(|qs| self.search_group(qs, k))
            .collect();
        Ok(results)
    }

    fn save(&self, dir: &Path) -> Result<()> {
        let manifest = Manifest::new(
            IndexKind::Flat,
            self.dim,
            self.metric,
            IndexConfig::Flat,
            self.len(),
        );
        let ids = codec::to_le_bytes(&self.ids);
        let data = codec::to_le_bytes(&self.data);
        persist::save_dir(dir, manifest, &[("ids.bin", &ids), ("vectors.bin", &data)])
    }
}

impl FlatIndex {
    /// Exact top-k for a group of prepared queries via blocked `Q x B^T` products.
    fn search_group(&self, queries: &[Vec<f32>], k: usize) -> Vec<Vec<Hit>> {
        let nq = queries.len();
        let dim = self.dim;
        let q: Vec<f32> = queries.iter().flatten().copied().collect();
        let q_norms: Vec<f32> = queries.iter().map(|v| dot(v, v)).collect();
        let mut tops: Vec<TopK> = (0..nq).map(|_| TopK::new(k, self.metric)).collect();
        let n = self.len();
        let mut scores = vec![0f32; nq * BLOCK_ROWS.min(n.max(1))];
        let mut start = 0;
        while start < n {
            let rows = BLOCK_ROWS.min(n - start);
            let block = &self.data[start * dim..(start + rows) * dim];
            let out = &mut scores[..nq * rows];
            // SAFETY: all pointers cover the stated shapes: q is nq x dim (row-major), block is rows x dim
            // (row-major, read as its transpose dim x rows), out is nq x rows (row-major).
            unsafe {
                gemm::gemm(
                    nq,
                    rows,
                    dim,
                    out.as_mut_ptr(),
                    1,
                    rows as isize,
                    false,
                    q.as_ptr(),
                    1,
                    dim as isize,
                    block.as_ptr(),
                    dim as isize,
                    1,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
            let (ids, norms) = (
                &self.ids[start..start + rows],
                &self.norms[start..start + rows],
            );
            for ((top, row), &qn) in tops
                .iter_mut()
                .zip(out.chunks_exact_mut(rows))
                .zip(&q_norms)
            {
                // Scores become badness in place (one vectorised pass), then only those within the
                // selection's bound are offered to it.
                match self.metric {
                    Metric::Cosine => row.iter_mut().for_each(|s| *s = -*s),
                    Metric::L2 => row
                        .iter_mut()
                        .zip(norms)
                        .for_each(|(s, &n)| *s = (qn + n - 2.0 * *s).max(0.0)),
                }
                let mut bound = top.bound();
                for (&id, &badness) in ids.iter().zip(row.iter()) {
                    if badness <= bound {
                        top.push_badness(id, badness);
                        bound = top.bound();
                    }
                }
            }
            start += rows;
        }
        tops.into_iter().map(TopK::into_sorted).collect()
    }
}

/// The distance kernels, kept here under their old path.
pub use crate::distance::{dot, l2_squared};
