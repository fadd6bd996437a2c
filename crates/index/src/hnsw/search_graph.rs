//! The compact search layout of an HNSW graph, and its search (the layout and loop of hnswlib).
//!
//! hnsw_rs builds and persists the graph; its own search pays for its layout (a heap allocation per
//! vector, neighbour lists behind `Arc<RwLock<..>>`, a `HashMap` visited set and `Arc` allocations per
//! candidate, one hop per upper layer). [`SearchGraph`] is the same graph flattened, indexed by slot:
//!
//! - layer 0: one block of `1 + degree0` `u32` per slot (neighbour count, then the neighbours), like
//!   hnswlib's level-0 block;
//! - upper layers: for the few slots above layer 0, one block of `1 + degree_upper` `u32` per layer;
//! - the vectors in one row-major matrix, in slot order.
//!
//! The search descends the upper layers greedily until no neighbour improves (hnswlib's `searchKnn`),
//! then runs the ef-bounded beam search on layer 0 (`searchBaseLayerST`). Which slots may be returned is
//! one predicate, [`Returnable`]: [`Tombstones`] (live slots, the unfiltered search) or [`LiveAllowed`]
//! (live slots whose id a filter allows). Slots it refuses are traversed (they still guide the walk) but
//! never enter the results, and the search goes on until `ef` returnable results are held. The search is
//! monomorphised per predicate, so the unfiltered path pays nothing for filters.
//! The visited set (epoch tags) and both heaps are per thread and reused: no allocation per query in
//! steady state besides the result.
//!
//! Links that make the nodes hnsw_rs's graph leaves unfindable findable again are laid over layer 0 and
//! kept apart, to be saved (`connect.rs`).
//!
//! A quantized layout also holds the int8 codes of its vectors ([`Int8Codes`]): the walk (upper layers
//! and layer 0) compares codes, a quarter of the bytes of the vectors, and the `ef` candidates it ends
//! with are re-scored with the full vectors, the best `k` of which answer. The full vectors ([`Rows`],
//! `rows.rs`) are then read only for the re-scoring, so an index opened for search only maps them from
//! their file instead of holding them.

mod connect;
mod rows;

pub(crate) use rows::Rows;

use super::dump::Dump;
use super::tombstones::Tombstones;
use crate::distance;
use crate::id_filter::IdFilter;
use crate::int8_codes::{Int8Codes, Int8Quantizer};
use crate::vector_index::Metric;
use hnsw_rs::prelude::{Distance, Hnsw};
use rayon::prelude::*;
use std::cell::RefCell;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// Marks a slot without upper layers in [`SearchGraph::upper_start`].
const NO_UPPER: u32 = u32::MAX;

/// Why an hnsw_rs graph cannot be flattened against the index's slots (a graph file that does not
/// belong to its ids, or a bug).
#[derive(Debug, thiserror::Error)]
pub(crate) enum LayoutError {
    #[error("the graph holds {points} points for {slots} slots")]
    PointCount { points: usize, slots: usize },
    #[error("graph point or neighbour has slot {slot}, beyond the {slots} slots")]
    SlotOutOfRange { slot: usize, slots: usize },
    #[error("slot {slot} appears twice in the graph")]
    DuplicateSlot { slot: usize },
    #[error("slot {slot} has a vector of {got} values, the index has dimension {dim}")]
    VectorLength { slot: usize, got: usize, dim: usize },
    #[error("the saved vector of slot {slot} differs from the graph's")]
    VectorsDiffer { slot: usize },
}

/// The graph as flat arrays, indexed by slot.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct SearchGraph {
    dim: usize,
    slots: usize,
    /// Row-major vectors, slot order.
    vectors: Rows,
    /// The codes the walk compares, for a quantized index.
    quantized: Option<Quantized>,
    /// `1 + degree0` per slot: count, then neighbours.
    level0_stride: usize,
    level0: Vec<u32>,
    /// `1 + degree_upper` per (slot, layer >= 1).
    upper_stride: usize,
    /// Offset of a slot's layer-1 block in `upper` ([`NO_UPPER`] for layer-0-only slots); its layer `l`
    /// block follows at `(l - 1) * upper_stride`.
    upper_start: Vec<u32>,
    upper: Vec<u32>,
    /// Entry slot (on the top layer) and the top layer; `None` for an empty graph.
    entry: Option<(u32, usize)>,
    /// Links laid over hnsw_rs's layer 0 (`connect.rs`), `(from, to)`.
    extra: Vec<(u32, u32)>,
}

/// A quantized layout's quantizer and the codes of its slots.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Quantized {
    pub quantizer: Int8Quantizer,
    pub codes: Int8Codes,
}

/// Which slots a search may return. Every slot is walked through; only returnable ones enter the results.
pub(crate) trait Returnable {
    /// Whether the search may return `slot`.
    fn returnable(&self, slot: u32) -> bool;
    /// Whether some slot may not be returned: the search then keeps exploring past its usual stopping
    /// point until it holds `ef` returnable results (or has walked everything it can reach).
    fn excludes_any(&self) -> bool;
}

/// The unfiltered search: every live (not tombstoned) slot may be returned.
impl Returnable for Tombstones {
    #[inline(always)]
    fn returnable(&self, slot: u32) -> bool {
        !self.contains(slot as usize)
    }

    #[inline(always)]
    fn excludes_any(&self) -> bool {
        !self.is_empty()
    }
}

/// The filtered search: a slot may be returned when it is live and `filter` allows its caller id.
pub(crate) struct LiveAllowed<'a> {
    /// Tombstoned slots.
    pub deleted: &'a Tombstones,
    /// Caller id of each slot.
    pub ids: &'a [u64],
    /// The allowed caller ids.
    pub filter: &'a IdFilter,
}

impl Returnable for LiveAllowed<'_> {
    #[inline(always)]
    fn returnable(&self, slot: u32) -> bool {
        !self.deleted.contains(slot as usize)
            && self
                .ids
                .get(slot as usize)
                .is_some_and(|&id| self.filter.contains(id))
    }

    #[inline(always)]
    fn excludes_any(&self) -> bool {
        true
    }
}

/// One flattened point: its slot, its top layer and its neighbour slots per layer `0..=level`.
struct FlatPoint {
    slot: usize,
    level: usize,
    layers: Vec<Vec<u32>>,
}

/// A search's answer: `(distance, slot)` best first, and the number of distances evaluated.
#[derive(Debug, Default)]
pub(crate) struct Found {
    pub nearest: Vec<(f32, u32)>,
    pub distance_evals: usize,
    /// The walk met the slot it was told to stop at ([`SearchGraph::search_until`]); `nearest` is then
    /// empty.
    pub reached: bool,
}

impl SearchGraph {
    /// Flattens hnsw_rs's graph whose points carry slots `0..slots` as their data ids.
    pub(crate) fn from_hnsw<D: Distance<f32> + Send + Sync>(
        graph: &Hnsw<'static, f32, D>,
        dim: usize,
        slots: usize,
    ) -> Result<Self, LayoutError> {
        let indexation = graph.get_point_indexation();
        // Layer by layer (hnsw_rs's whole-graph iterator panics on an empty graph).
        let points: Vec<_> = (0..=usize::from(indexation.get_max_level_observed()))
            .filter(|&layer| indexation.get_layer_nb_point(layer) > 0)
            .flat_map(|layer| indexation.get_layer_iterator(layer))
            .collect();
        if points.len() != slots {
            return Err(LayoutError::PointCount {
                points: points.len(),
                slots,
            });
        }
        let flat: Vec<FlatPoint> = points
            .par_iter()
            .map(|p| {
                let slot = p.get_origin_id();
                if slot >= slots {
                    return Err(LayoutError::SlotOutOfRange { slot, slots });
                }
                let got = p.get_v().len();
                if got != dim {
                    return Err(LayoutError::VectorLength { slot, got, dim });
                }
                let level = usize::from(p.get_point_id().0);
                let mut neighbourhood = p.get_neighborhood_id();
                neighbourhood.truncate(level + 1);
                neighbourhood.resize_with(level + 1, Vec::new);
                let layers = neighbourhood
                    .into_iter()
                    .map(|layer| {
                        layer
                            .into_iter()
                            .map(|n| {
                                if n.d_id < slots {
                                    Ok(n.d_id as u32)
                                } else {
                                    Err(LayoutError::SlotOutOfRange {
                                        slot: n.d_id,
                                        slots,
                                    })
                                }
                            })
                            .collect()
                    })
                    .collect::<Result<Vec<Vec<u32>>, _>>()?;
                Ok(FlatPoint {
                    slot,
                    level,
                    layers,
                })
            })
            .collect::<Result<_, _>>()?;

        Self::lay_out(&flat, dim, slots, None, |i, out| {
            out.copy_from_slice(points[i].get_v())
        })
    }

    /// Reads hnsw_rs's dump files straight into the layout (the same layout [`SearchGraph::from_hnsw`]
    /// makes of the graph hnsw_rs's loader would build from them), without hnsw_rs's copy of the graph.
    /// With `rows` (the vectors mapped from their own file) the dump's vectors are not copied.
    pub(crate) fn from_dump(
        dump: Dump<'_>,
        dim: usize,
        slots: usize,
        rows: Option<Rows>,
    ) -> Result<Self, LayoutError> {
        if dump.points.len() != slots {
            return Err(LayoutError::PointCount {
                points: dump.points.len(),
                slots,
            });
        }
        let (points, vectors) = dump.into_parts();
        // Vectors mapped from their own file must be the graph's: the copy re-scores what the graph found.
        if let Some(rows) = &rows {
            let mapped = rows.as_slice();
            let mut from_graph = vec![0f32; dim];
            for (i, p) in points.iter().enumerate() {
                vectors.copy(i, &mut from_graph);
                let same = mapped
                    .get(p.slot * dim..(p.slot + 1) * dim)
                    .is_some_and(|row| {
                        row.iter()
                            .zip(&from_graph)
                            .all(|(a, b)| a.to_bits() == b.to_bits())
                    });
                if !same {
                    return Err(LayoutError::VectorsDiffer { slot: p.slot });
                }
            }
            rows.release_pages();
        }
        let flat: Vec<FlatPoint> = points
            .into_iter()
            .map(|p| FlatPoint {
                slot: p.slot,
                level: p.level,
                layers: p.layers,
            })
            .collect();
        Self::lay_out(&flat, dim, slots, rows, |i, out| vectors.copy(i, out))
    }

    /// The layout of `flat` (hnsw_rs's points layer by layer in rank order, slots checked to be in
    /// range), with the vector of the `i`-th point written by `vector(i, out)`, or with `rows` as given.
    fn lay_out(
        flat: &[FlatPoint],
        dim: usize,
        slots: usize,
        rows: Option<Rows>,
        vector: impl Fn(usize, &mut [f32]),
    ) -> Result<Self, LayoutError> {
        let degree0 = flat.iter().map(|p| p.layers[0].len()).max().unwrap_or(0);
        let degree_upper = flat
            .iter()
            .flat_map(|p| p.layers[1..].iter().map(Vec::len))
            .max()
            .unwrap_or(0);
        let level0_stride = 1 + degree0;
        let upper_stride = 1 + degree_upper;
        let mut layout = Self {
            dim,
            slots,
            vectors: rows.unwrap_or_else(|| Rows::Owned(vec![0.0; slots * dim])),
            quantized: None,
            level0_stride,
            level0: vec![0; slots * level0_stride],
            upper_stride,
            upper_start: vec![NO_UPPER; slots],
            upper: Vec::new(),
            entry: None,
            extra: Vec::new(),
        };
        let mut seen = vec![false; slots];
        // Whether the entry chosen so far has neighbours on its top layer.
        let mut entry_linked = false;
        for (i, fp) in flat.iter().enumerate() {
            let slot = fp.slot;
            if std::mem::replace(&mut seen[slot], true) {
                return Err(LayoutError::DuplicateSlot { slot });
            }
            if let Some(out) = layout
                .vectors
                .owned_mut()
                .get_mut(slot * dim..(slot + 1) * dim)
            {
                vector(i, out);
            }
            write_block(
                &mut layout.level0[slot * level0_stride..(slot + 1) * level0_stride],
                &fp.layers[0],
            );
            if fp.level > 0 {
                layout.upper_start[slot] = layout.upper.len() as u32;
                for layer in &fp.layers[1..] {
                    let start = layout.upper.len();
                    layout.upper.resize(start + upper_stride, 0);
                    write_block(&mut layout.upper[start..], layer);
                }
            }
            // The entry is the first point met on the highest layer (hnsw_rs's, for a serial build), or
            // better, the first there with neighbours on its top layer: a point that rose above the
            // others while they were being inserted in parallel may have none.
            let linked = !fp.layers[fp.level].is_empty();
            let better = match layout.entry {
                None => true,
                Some((_, top)) if fp.level > top => true,
                Some((_, top)) if fp.level == top => linked && !entry_linked,
                _ => false,
            };
            if better {
                layout.entry = Some((slot as u32, fp.level));
                entry_linked = linked;
            }
        }
        Ok(layout)
    }

    /// Heap bytes held (mapped vectors are not on the heap: see [`SearchGraph::mapped_bytes`]).
    pub(crate) fn memory_bytes(&self) -> usize {
        self.vectors.heap_bytes()
            + self
                .quantized
                .as_ref()
                .map_or(0, |q| q.codes.memory_bytes())
            + self.level0.capacity() * 4
            + self.upper_start.capacity() * 4
            + self.upper.capacity() * 4
            + self.extra.capacity() * 8
    }

    /// Bytes of the vectors mapped from their file rather than held (a quantized index opened for
    /// search only); the pages a search reads count in the resident set while the kernel keeps them.
    pub(crate) fn mapped_bytes(&self) -> usize {
        self.vectors.mapped_bytes()
    }

    /// Heap bytes of the full vectors (0 when mapped).
    pub(crate) fn vectors_heap_bytes(&self) -> usize {
        self.vectors.heap_bytes()
    }

    /// Codes the slots' vectors with `quantizer`, so that searches walk the codes (the vectors must be
    /// held, not mapped).
    pub(crate) fn quantize(&mut self, quantizer: Int8Quantizer) {
        let codes = Int8Codes::encode(&quantizer, self.vectors.as_slice());
        self.quantized = Some(Quantized { quantizer, codes });
    }

    /// Drops the codes: searches walk the full vectors again.
    pub(crate) fn drop_quantized(&mut self) {
        self.quantized = None;
    }

    /// Sets codes read back from the index's files (one per slot, checked by the caller).
    pub(crate) fn set_quantized(&mut self, quantized: Quantized) {
        self.quantized = Some(quantized);
    }

    /// The quantizer and codes of a quantized layout.
    pub(crate) fn quantized(&self) -> Option<&Quantized> {
        self.quantized.as_ref()
    }

    /// The vectors, slot by slot (`slots * dim` values).
    pub(crate) fn vectors(&self) -> &[f32] {
        self.vectors.as_slice()
    }

    /// The `k` nearest slots to `query` (already normalised for cosine) that `keep` may return,
    /// exploring `ef` candidates. A quantized layout walks its codes and re-scores the `ef` candidates
    /// it ends with by their full vectors.
    pub(crate) fn search<R: Returnable>(
        &self,
        metric: Metric,
        query: &[f32],
        k: usize,
        ef: usize,
        keep: &R,
    ) -> Found {
        self.search_until(metric, query, k, ef, keep, None)
    }

    /// [`SearchGraph::search`] that stops as soon as its layer-0 walk meets `target` (then
    /// [`Found::reached`], without an answer): up to that point it is the same walk, so a search that
    /// would return `target` meets it, and one that does not runs to its end and answers as `search`.
    pub(crate) fn search_until<R: Returnable>(
        &self,
        metric: Metric,
        query: &[f32],
        k: usize,
        ef: usize,
        keep: &R,
        target: Option<u32>,
    ) -> Found {
        let exact = exact_distance(metric);
        let row_bytes = self.dim * std::mem::size_of::<f32>();
        let Some(Quantized { quantizer, codes }) = &self.quantized else {
            return self.walk(
                k,
                ef,
                keep,
                target,
                RowAccess {
                    distance: |slot| exact(query, self.vector(slot)),
                    prefetch_row: |slot| prefetch_lines(self.vector_ptr(slot), row_bytes),
                    prefetch_first: |slot| prefetch(self.vector_ptr(slot)),
                },
            );
        };
        let code = codes.query(quantizer, query);
        let mut found = self.walk(
            ef,
            ef,
            keep,
            target,
            RowAccess {
                distance: |slot| codes.distance(&code, slot),
                prefetch_row: |slot| prefetch_lines(codes.row_ptr(slot), self.dim),
                prefetch_first: |slot| prefetch(codes.row_ptr(slot)),
            },
        );
        if found.reached {
            return found;
        }
        // The next candidate's vector is asked for while this one's distance is computed.
        for j in 0..found.nearest.len() {
            if let Some(&(_, ahead)) = found.nearest.get(j + 1) {
                prefetch_lines(self.vector_ptr(ahead), row_bytes);
            }
            let (d, slot) = &mut found.nearest[j];
            *d = exact(query, self.vector(*slot));
        }
        found.distance_evals += found.nearest.len();
        found
            .nearest
            .sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        found.nearest.truncate(k);
        found
    }

    /// The exact `k` nearest of `slots` to `query` (already normalised for cosine): every one is scored,
    /// no graph walk. Slots beyond the layout are skipped.
    pub(crate) fn scan(
        &self,
        metric: Metric,
        query: &[f32],
        k: usize,
        slots: impl Iterator<Item = u32>,
    ) -> Found {
        let distance = exact_distance(metric);
        let mut best: BinaryHeap<Candidate> = BinaryHeap::with_capacity(k + 1);
        let mut evals = 0usize;
        for slot in slots.filter(|&s| (s as usize) < self.slots) {
            evals += 1;
            let candidate = Candidate(distance(query, self.vector(slot)), slot);
            if best.len() < k {
                best.push(candidate);
            } else if best.peek().is_some_and(|worst| candidate < *worst) {
                best.pop();
                best.push(candidate);
            }
        }
        let nearest = best
            .into_sorted_vec()
            .into_iter()
            .map(|c| (c.0, c.1))
            .collect();
        Found {
            nearest,
            distance_evals: evals,
            reached: false,
        }
    }

    #[inline]
    fn vector(&self, slot: u32) -> &[f32] {
        let start = slot as usize * self.dim;
        &self.vectors.as_slice()[start..start + self.dim]
    }

    /// Where `slot`'s vector starts, to prefetch.
    #[inline]
    fn vector_ptr(&self, slot: u32) -> *const f32 {
        self.vectors
            .as_slice()
            .as_ptr()
            .wrapping_add(slot as usize * self.dim)
    }

    #[inline]
    fn level0_links(&self, slot: u32) -> &[u32] {
        let start = slot as usize * self.level0_stride;
        let count = self.level0[start] as usize;
        &self.level0[start + 1..start + 1 + count]
    }

    #[inline]
    fn upper_links(&self, slot: u32, layer: usize) -> &[u32] {
        let first = self.upper_start[slot as usize];
        if first == NO_UPPER {
            return &[];
        }
        let start = first as usize + (layer - 1) * self.upper_stride;
        match self.upper.get(start) {
            Some(&count) => &self.upper[start + 1..start + 1 + count as usize],
            None => &[],
        }
    }

    /// The graph walk: greedy over the upper layers, then the `ef` beam on layer 0, keeping the best
    /// `k` returnable slots by [`RowAccess::distance`]. [`RowAccess::prefetch_row`] asks for a slot's whole row
    /// one neighbour ahead of its distance; on layer 0 [`RowAccess::prefetch_first`] first asks for the first
    /// lines of every unvisited neighbour of the node expanded, so that their loads overlap (asking for
    /// every whole row at once was slower: it floods the line-fill buffers). With a `target`, the walk
    /// ends as soon as layer 0 meets it.
    fn walk<R: Returnable>(
        &self,
        k: usize,
        ef: usize,
        keep: &R,
        target: Option<u32>,
        rows: RowAccess<impl Fn(u32) -> f32, impl Fn(u32), impl Fn(u32)>,
    ) -> Found {
        let RowAccess {
            distance,
            prefetch_row,
            prefetch_first,
        } = rows;
        let Some((entry, top)) = self.entry else {
            return Found::default();
        };
        let mut evals = 0usize;
        let mut dist = |slot: u32| {
            evals += 1;
            distance(slot)
        };

        // The per-thread buffers are taken out for the walk and put back after it, so that the walk runs
        // in this function's body rather than in a closure the compiler may keep out of line.
        let mut scratch = SCRATCH.with(|cell| std::mem::take(&mut *cell.borrow_mut()));

        // Upper layers: greedy moves until no neighbour is closer. A node compared once, on any upper
        // layer, is not compared again: its distance was not below the current one then, and the current
        // one only falls, so skipping it changes no move (hnswlib and FAISS compare it again).
        let mut current = entry;
        let mut current_dist = dist(current);
        scratch.visited.start(self.slots);
        scratch.visited.insert(current);
        for layer in (1..=top).rev() {
            let mut improved = true;
            while improved {
                improved = false;
                let links = self.upper_links(current, layer);
                for (j, &next) in links.iter().enumerate() {
                    if let Some(&ahead) = links.get(j + 1) {
                        prefetch_row(ahead);
                    }
                    if !scratch.visited.insert(next) {
                        continue;
                    }
                    let d = dist(next);
                    if d < current_dist {
                        current_dist = d;
                        current = next;
                        improved = true;
                    }
                }
            }
        }

        // Layer 0: beam search with `ef` live results.
        if target == Some(current) {
            SCRATCH.with(|cell| *cell.borrow_mut() = scratch);
            return Found {
                nearest: Vec::new(),
                distance_evals: evals,
                reached: true,
            };
        }
        let ef = ef.max(k);
        let excludes_any = keep.excludes_any();
        let mut reached = false;
        let nearest = {
            let Scratch {
                visited,
                candidates,
                results,
                fresh,
            } = &mut scratch;
            visited.start(self.slots);
            candidates.clear();
            results.clear();

            visited.insert(current);
            candidates.push(Reverse(Candidate(current_dist, current)));
            let mut bound = f32::INFINITY;
            if keep.returnable(current) {
                results.push(Candidate(current_dist, current));
                bound = current_dist;
            }
            'beam: while let Some(Reverse(Candidate(d_c, c))) = candidates.pop() {
                if d_c > bound && (results.len() >= ef || !excludes_any) {
                    break;
                }
                // The unvisited neighbours first, each one's data asked for as it is found, then
                // their distances: the loads of the whole list overlap instead of one ahead.
                fresh.clear();
                for &next in self.level0_links(c) {
                    if visited.insert(next) {
                        prefetch_first(next);
                        fresh.push(next);
                    }
                }
                for (j, &next) in fresh.iter().enumerate() {
                    if let Some(&ahead) = fresh.get(j + 1) {
                        prefetch_row(ahead);
                    }
                    if target == Some(next) {
                        reached = true;
                        break 'beam;
                    }
                    let d = dist(next);
                    if results.len() < ef || d < bound {
                        candidates.push(Reverse(Candidate(d, next)));
                        if keep.returnable(next) {
                            results.push(Candidate(d, next));
                            if results.len() > ef {
                                results.pop();
                            }
                        }
                        if let Some(worst) = results.peek() {
                            bound = worst.0;
                        }
                    }
                }
            }
            if reached {
                results.clear();
            }
            while results.len() > k {
                results.pop();
            }
            let mut nearest: Vec<(f32, u32)> = results.drain().map(|c| (c.0, c.1)).collect();
            nearest.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            nearest
        };
        SCRATCH.with(|cell| *cell.borrow_mut() = scratch);
        Found {
            nearest,
            distance_evals: evals,
            reached,
        }
    }
}

/// How a walk reads the rows it compares (the full vectors, or their codes).
struct RowAccess<D, P, F> {
    /// A slot's distance to the query.
    distance: D,
    /// Asks for a slot's whole row (up to [`PREFETCH_MAX_LINES`]).
    prefetch_row: P,
    /// Asks for the first cache lines of a slot's row.
    prefetch_first: F,
}

/// The full vectors' distance under `metric`: what a walk over the vectors compares and what re-scores a
/// walk over codes.
fn exact_distance(metric: Metric) -> fn(&[f32], &[f32]) -> f32 {
    match metric {
        Metric::Cosine => cosine_distance,
        Metric::L2 => distance::l2_squared,
    }
}

/// `1 - <a, b>` for normalised vectors, at least 0.
#[inline(always)]
fn cosine_distance(a: &[f32], b: &[f32]) -> f32 {
    (1.0 - distance::dot(a, b)).max(0.0)
}

/// Writes `links` into a `count, links..` block (the block is at least `1 + links.len()` long).
fn write_block(block: &mut [u32], links: &[u32]) {
    block[0] = links.len() as u32;
    block[1..1 + links.len()].copy_from_slice(links);
}

/// Brings the first cache lines at `p` towards L1 ahead of use; a no-op off x86-64.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let p = p as *const i8;
        // SAFETY: prefetching never faults, whatever the address; SSE is part of x86-64.
        #[allow(unused_unsafe)]
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(p);
            _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(64));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Brings the cache lines of the `bytes` bytes at `p` towards L1 ahead of use (at most
/// [`PREFETCH_MAX_LINES`]): a code row is short enough to ask for whole, so that its distance does not
/// wait on the lines after the first; a no-op off x86-64.
#[inline(always)]
fn prefetch_lines<T>(p: *const T, bytes: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let p = p as *const i8;
        for line in 0..bytes.div_ceil(64).min(PREFETCH_MAX_LINES) {
            // SAFETY: prefetching never faults, whatever the address; SSE is part of x86-64.
            #[allow(unused_unsafe)]
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(64 * line));
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (p, bytes);
}

/// The most cache lines [`prefetch_lines`] asks for (2 KiB).
const PREFETCH_MAX_LINES: usize = 32;

/// `(distance, slot)`, ordered by distance then slot.
#[derive(Debug, Clone, Copy)]
struct Candidate(f32, u32);

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Candidate {}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

/// Visited set as epoch tags: a slot is visited when its tag equals the current epoch, so starting a
/// query is one increment (and a clear every 65535 queries).
#[derive(Debug, Default)]
struct VisitedTags {
    tags: Vec<u16>,
    epoch: u16,
}

impl VisitedTags {
    fn start(&mut self, slots: usize) {
        if self.tags.len() < slots {
            self.tags.resize(slots, 0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.tags.fill(0);
            self.epoch = 1;
        }
    }

    /// Marks `slot`; false when it was already visited in this query.
    #[inline]
    fn insert(&mut self, slot: u32) -> bool {
        let tag = &mut self.tags[slot as usize];
        let fresh = *tag != self.epoch;
        *tag = self.epoch;
        fresh
    }
}

/// Per-thread buffers of the search, reused across queries (and indexes).
#[derive(Debug, Default)]
struct Scratch {
    visited: VisitedTags,
    /// Min-heap of slots to expand.
    candidates: BinaryHeap<Reverse<Candidate>>,
    /// Max-heap of the best live slots so far.
    results: BinaryHeap<Candidate>,
    /// The unvisited neighbours of the slot being expanded.
    fresh: Vec<u32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}
