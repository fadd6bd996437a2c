//! HNSW graph index: hnsw_rs builds, mutates and persists the graph; searches run on a compact copy.
//! hnsw_rs is 0.3.5 with vsearch's patch to its insert path (`vendor/hnsw_rs/PATCHES.md`); the rows it
//! builds from are copied once per batch into an aligned block the graph borrows (`pinned_rows.rs`).
//!
//! Vectors live in the graph under internal slots (`usize`); `ids[slot]` maps back to the caller's id.
//! After every change of the hnsw_rs graph (build, add, compact, load) it is flattened into a compact
//! search layout (`search_graph.rs`: u32 neighbour arrays, one vector matrix, hnswlib's search loop),
//! which answers [`VectorIndex::search`]; hnsw_rs's own search stays callable as
//! [`HnswIndex::search_hnsw_rs`].
//! Nodes of the graph that a search for their own vector does not find (outliers the neighbour selection
//! leaves without links in) get links laid over it, saved beside it (`links.bin`).
//! Deletion marks slots as tombstones that the search traverses but never returns (it keeps exploring
//! until `k` live results are found); [`HnswIndex::compact`] rebuilds the graph without them. An id
//! removed and added again gets a new slot (the old one stays a tombstone until compaction).
//!
//! Filtered search ([`VectorIndex::search_filtered`]) runs the same walk with one more condition on
//! what may be returned (live, and allowed by the filter): nodes the filter refuses are still walked
//! through, so they keep guiding the search, and the walk goes on until it holds `ef` allowed nodes.
//! `ef` is at least `k`, and grows as the filter gets more selective: a filter keeping a share `p` of the
//! slots walks with `ef / sqrt(p)` (at most [`FILTERED_EF_CAP`]). Once the walk holds `ef` allowed nodes
//! it stops expanding nodes farther than the worst of them, and a filter whose ids sit in a few clusters
//! can fill them from the wrong cluster first: on 20k clustered vectors (d = 64, 100 clusters) a filter
//! keeping 10 clusters gave recall@10 0.93-0.94 at ef 32, 0.975 at 64, 0.993-0.996 at 128 (random 10%
//! filters: 1.0 from ef 16). A filter allowing no more ids than that `ef` is answered by scoring those
//! ids exactly (cheaper than any walk, which evaluates at least `ef` nodes); choosing exact search for
//! selective filters in general is the caller's plan (the engine's). If the walk//! vectors are scored exactly, so the result always has `min(k, allowed live ids)` hits.
//! Distances are this crate's AVX2 kernels: `1 - dot` on normalised vectors (cosine) and squared L2.
//!
//! Quantized (`HnswParams::quantization`): the graph is built by hnsw_rs from the full vectors as always;
//! the search layout also codes every vector as int8 (`crate::int8_codes`, its quantizer trained on the
//! build's vectors and kept for later adds), walks the codes and re-scores the `ef` candidates it ends
//! with by their full vectors. The codes, the quantizer and the vectors in slot order are saved beside
//! the graph (`codes.i8`, `quantizer.f32`, `vectors.f32`); an index opened for search only holds the
//! codes and maps the vectors file, reading from it only the rows it re-scores.

mod dump;
mod pinned_rows;
mod search_graph;
mod tombstones;

pub use crate::config::{DEFAULT_EF_CONSTRUCTION, DEFAULT_EF_SEARCH, DEFAULT_M};

use crate::config::{HnswParams, IndexConfig, SearchParams};
use crate::distance;
use crate::error::{IndexError, Result};
use crate::id_filter::IdFilter;
use crate::int8_codes::{Int8Codes, Int8Quantizer};
use crate::kind::IndexKind;
use crate::persist::{self, Manifest};
use crate::vector_index::{check_query, check_vectors, Hit, Metric, VectorIndex};
use hnsw_rs::prelude::{AnnT, Distance, Hnsw, HnswIo, Neighbour};
use pinned_rows::PinnedRows;
use search_graph::{Found, LayoutError, LiveAllowed, Quantized, Rows, SearchGraph};
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use tombstones::Tombstones;
use vsearch_core::codec;
use vsearch_core::quantization::Quantization;

/// The largest `ef` a filtered search's retry uses (see the module documentation).
pub const FILTERED_EF_CAP: usize = 4096;

/// The `ef` of a filtered walk: `ef / sqrt(p)` for a filter allowing `allowed` of `slots` ids (share
/// `p`, at most 1), at most [`FILTERED_EF_CAP`] (and never below `ef`).
fn filtered_ef(ef: usize, allowed: usize, slots: usize) -> usize {
    let share = (allowed as f64 / slots.max(1) as f64).clamp(f64::MIN_POSITIVE, 1.0);
    let scaled = (ef as f64 / share.sqrt()).ceil();
    if scaled >= FILTERED_EF_CAP as f64 {
        FILTERED_EF_CAP.max(ef)
    } else {
        (scaled as usize).max(ef)
    }
}

/// hnsw_rs's layer cap.
const MAX_LAYERS: usize = 16;
const GRAPH_BASENAME: &str = "graph";
const GRAPH_FILE: &str = "graph.hnsw.graph";
const DATA_FILE: &str = "graph.hnsw.data";
const IDS_FILE: &str = "ids.bin";
const DELETED_FILE: &str = "deleted.bin";
/// The links laid over hnsw_rs's graph (`search_graph/connect.rs`), `from, to` slot pairs as `u32`.
const LINKS_FILE: &str = "links.bin";
/// A quantized index's int8 codes, slot by slot.
const CODES_FILE: &str = "codes.i8";
/// A quantized index's quantizer: the scale, then the per-dimension offsets (`f32`).
const QUANTIZER_FILE: &str = "quantizer.f32";
/// A quantized index's full vectors in slot order (`f32`), mapped by an index opened for search only.
const VECTORS_FILE: &str = "vectors.f32";

thread_local! {
    /// Distances evaluated by hnsw_rs on this thread (for [`HnswIndex::search_hnsw_rs_with_stats`]).
    static HNSW_RS_DISTANCE_EVALS: Cell<usize> = const { Cell::new(0) };
}

fn count_hnsw_rs_eval() {
    HNSW_RS_DISTANCE_EVALS.with(|n| n.set(n.get() + 1));
}

/// `1 - <a, b>` for normalised vectors.
#[derive(Debug, Clone, Copy, Default)]
pub struct DotDistance;

impl Distance<f32> for DotDistance {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        count_hnsw_rs_eval();
        (1.0 - distance::dot(a, b)).max(0.0)
    }
}

/// Squared Euclidean distance.
#[derive(Debug, Clone, Copy, Default)]
pub struct L2Distance;

impl Distance<f32> for L2Distance {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        count_hnsw_rs_eval();
        distance::l2_squared(a, b)
    }
}

/// What one search cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchStats {
    /// Distances between the query and stored vectors evaluated.
    pub distance_evals: usize,
}

/// The graph, typed by its distance.
enum Graph {
    Dot(Hnsw<'static, f32, DotDistance>),
    L2(Hnsw<'static, f32, L2Distance>),
}

impl Graph {
    fn new(metric: Metric, params: &HnswParams, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        match metric {
            Metric::Cosine => Graph::Dot(Hnsw::new(
                params.m,
                capacity,
                MAX_LAYERS,
                params.ef_construction,
                DotDistance,
            )),
            Metric::L2 => Graph::L2(Hnsw::new(
                params.m,
                capacity,
                MAX_LAYERS,
                params.ef_construction,
                L2Distance,
            )),
        }
    }

    /// Inserts rows the graph borrows (see [`HnswRsGraph::insert`]).
    fn insert(&self, rows: &[(&'static [f32], usize)]) {
        match self {
            Graph::Dot(h) => h.parallel_insert_borrowed(rows),
            Graph::L2(h) => h.parallel_insert_borrowed(rows),
        }
    }

    fn search(&self, q: &[f32], k: usize, ef: usize, deleted: &Tombstones) -> Vec<Neighbour> {
        let keep = |slot: &usize| !deleted.contains(*slot);
        let filter: Option<&dyn hnsw_rs::prelude::FilterT> = if deleted.is_empty() {
            None
        } else {
            Some(&keep)
        };
        match self {
            Graph::Dot(h) => h.search_filter(q, k, ef, filter),
            Graph::L2(h) => h.search_filter(q, k, ef, filter),
        }
    }

    /// Dumps into `dir`; hnsw_rs's error (anyhow) crosses over as text.
    fn dump(&self, dir: &Path) -> std::result::Result<String, String> {
        match self {
            Graph::Dot(h) => h.file_dump(dir, GRAPH_BASENAME),
            Graph::L2(h) => h.file_dump(dir, GRAPH_BASENAME),
        }
        .map_err(|e| e.to_string())
    }

    /// The compact search layout of the graph, whose points carry slots `0..slots`.
    fn flatten(&self, dim: usize, slots: usize) -> std::result::Result<SearchGraph, LayoutError> {
        match self {
            Graph::Dot(h) => SearchGraph::from_hnsw(h, dim, slots),
            Graph::L2(h) => SearchGraph::from_hnsw(h, dim, slots),
        }
    }

    /// `(slot, vector)` of every point in the graph.
    fn points(&self) -> Vec<(usize, Vec<f32>)> {
        fn collect<D: Distance<f32> + Send + Sync>(
            h: &Hnsw<'static, f32, D>,
        ) -> Vec<(usize, Vec<f32>)> {
            h.get_point_indexation()
                .into_iter()
                .map(|p| (p.get_origin_id(), p.get_v().to_vec()))
                .collect()
        }
        match self {
            Graph::Dot(h) => collect(h),
            Graph::L2(h) => collect(h),
        }
    }
}

/// An HNSW index.
pub struct HnswIndex {
    dim: usize,
    metric: Metric,
    params: HnswParams,
    /// hnsw_rs's graph, which builds and changes the index; `None` in an index opened for search only
    /// ([`HnswIndex::load_for_search`]), which holds the search layout alone.
    graph: Option<HnswRsGraph>,
    /// `graph` flattened for search; rebuilt whenever `graph` changes.
    search_graph: SearchGraph,
    /// Caller id of each slot (slots of deleted points stay, as tombstones).
    ids: Vec<u64>,
    slots: HashMap<u64, usize>,
    deleted: Tombstones,
}

/// hnsw_rs's graph, with the loader a reloaded graph borrows from and the rows inserted since.
struct HnswRsGraph {
    graph: Graph,
    /// Must stay declared after `graph`, so that it is dropped after it.
    _loader: Option<LoaderGuard>,
    /// The vectors inserted into `graph` (which borrows them); must stay declared after `graph`.
    rows: PinnedRows,
}

impl HnswRsGraph {
    fn new(graph: Graph, loader: Option<LoaderGuard>) -> Self {
        Self {
            graph,
            _loader: loader,
            rows: PinnedRows::default(),
        }
    }

    /// Inserts `vectors` (rows of `dim`) as slots `first..`: they are copied once, into one aligned
    /// block the graph borrows, instead of into one allocation per point.
    fn insert(&mut self, dim: usize, vectors: &[f32], first: usize) {
        // SAFETY: the block lives in `self.rows`, dropped after `self.graph` (field order), and the
        // slices are handed to that graph alone.
        let block = unsafe { self.rows.pin(vectors) };
        let rows: Vec<(&'static [f32], usize)> = block
            .chunks_exact(dim)
            .enumerate()
            .map(|(i, v)| (v, first + i))
            .collect();
        self.graph.insert(&rows);
    }
}

/// Whether an index is opened to change it or only to search it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Change,
    Search,
}

/// Owns the `HnswIo` a loaded graph borrows from, freeing it on drop.
struct LoaderGuard(*mut HnswIo);

impl LoaderGuard {
    fn new(io: HnswIo) -> Self {
        Self(Box::into_raw(Box::new(io)))
    }
}

impl Drop for LoaderGuard {
    fn drop(&mut self) {
        // SAFETY: the pointer came from Box::into_raw in `new` and is freed only here, once.
        drop(unsafe { Box::from_raw(self.0) });
    }
}

// SAFETY: the guard is never dereferenced after loading; it only keeps the allocation alive until drop.
unsafe impl Send for LoaderGuard {}
// SAFETY: as above, no access through `&LoaderGuard`.
unsafe impl Sync for LoaderGuard {}

fn validate(params: &HnswParams) -> Result<()> {
    if !(2..=256).contains(&params.m) {
        return Err(IndexError::InvalidParams {
            reason: format!("HNSW M must be in 2..=256, got {}", params.m),
        });
    }
    if params.ef_construction == 0 || params.ef_search == 0 {
        return Err(IndexError::InvalidParams {
            reason: "HNSW ef_construction and ef_search must be at least 1".into(),
        });
    }
    Ok(())
}

impl HnswIndex {
    /// Builds from `(ids, vectors)` with parallel insertion.
    pub fn build(
        params: &HnswParams,
        dim: usize,
        metric: Metric,
        ids: &[u64],
        vectors: &[f32],
    ) -> Result<Self> {
        validate(params)?;
        if dim == 0 {
            return Err(IndexError::InvalidParams {
                reason: "dimension must be at least 1".into(),
            });
        }
        let mut index = Self {
            dim,
            metric,
            params: *params,
            graph: Some(HnswRsGraph::new(
                Graph::new(metric, params, ids.len()),
                None,
            )),
            search_graph: SearchGraph::default(),
            ids: Vec::new(),
            slots: HashMap::new(),
            deleted: Tombstones::default(),
        };
        index.add(ids, vectors)?;
        Ok(index)
    }

    /// Rebuilds the graph without tombstones (same parameters); ids are kept.
    pub fn compact(&mut self) -> Result<()> {
        if self.deleted.is_empty() {
            return Ok(());
        }
        let mut live: Vec<(usize, Vec<f32>)> = self
            .graph("compacting the index")?
            .points()
            .into_iter()
            .filter(|(slot, _)| !self.deleted.contains(*slot))
            .collect();
        live.sort_by_key(|(slot, _)| *slot);
        let ids: Vec<u64> = live.iter().map(|(slot, _)| self.ids[*slot]).collect();
        let vectors: Vec<f32> = live.into_iter().flat_map(|(_, v)| v).collect();
        *self = Self::build(&self.params, self.dim, self.metric, &ids, &vectors)?;
        Ok(())
    }

    /// Number of tombstones waiting for [`HnswIndex::compact`].
    pub fn tombstones(&self) -> usize {
        self.deleted.len()
    }

    /// Loads an index saved by [`VectorIndex::save`], ready to search and to change. Checksums and the
    /// files' layout are verified before hnsw_rs reads them.
    pub fn load(dir: &Path, manifest: &Manifest) -> Result<Self> {
        Self::open(dir, manifest, Access::Change)
    }

    /// Loads an index saved by [`VectorIndex::save`] for search only: the dump files are read straight
    /// into the compact search layout, and hnsw_rs's own copy of the graph (its points, vectors and
    /// neighbour lists, more than the layout itself) is never built. Changing the index (add, remove,
    /// compact, save) and hnsw_rs's own search answer [`IndexError::SearchOnly`].
    pub fn load_for_search(dir: &Path, manifest: &Manifest) -> Result<Self> {
        Self::open(dir, manifest, Access::Search)
    }

    fn open(dir: &Path, manifest: &Manifest, access: Access) -> Result<Self> {
        persist::expect_kind(dir, manifest, IndexKind::Hnsw)?;
        let IndexConfig::Hnsw(params) = manifest.config else {
            return Err(IndexError::Format {
                path: dir.join(persist::MANIFEST),
                reason: "config is not HNSW".into(),
            });
        };
        validate(&params)?;
        let ids: Vec<u64> = persist::read_values(dir, manifest, IDS_FILE)?;
        let deleted_slots: Vec<u64> = persist::read_values(dir, manifest, DELETED_FILE)?;
        if let Some(&slot) = deleted_slots.iter().find(|&&s| s >= ids.len() as u64) {
            return Err(IndexError::Format {
                path: dir.join(DELETED_FILE),
                reason: format!("deleted slot {slot} beyond the {} slots", ids.len()),
            });
        }
        let deleted: Tombstones = deleted_slots.into_iter().map(|s| s as usize).collect();
        let format_err = |reason: String| IndexError::Format {
            path: dir.to_path_buf(),
            reason,
        };
        // Verify the graph files' checksums and layout; for search, read the layout from them, else
        // hnsw_rs then reads them itself.
        // Mapped, not read: the only copy of the vectors on the heap is the layout's.
        let graph_bytes = persist::map_file(dir, manifest, GRAPH_FILE)?;
        let data_bytes = persist::map_file(dir, manifest, DATA_FILE)?;
        let dumped = dump::read(&graph_bytes, &data_bytes, manifest.dim, ids.len())
            .map_err(|e| format_err(format!("HNSW graph files: {e}")))?;
        let quantized = params.quantization.is_some() && manifest.files.contains_key(CODES_FILE);
        let (graph, mut search_graph) = match access {
            Access::Search => {
                let rows = if quantized {
                    let map = persist::map_file(dir, manifest, VECTORS_FILE)?;
                    Some(
                        Rows::mapped(map, ids.len(), manifest.dim)
                            .map_err(|e| format_err(format!("{VECTORS_FILE}: {e}")))?,
                    )
                } else {
                    None
                };
                let layout = SearchGraph::from_dump(dumped, manifest.dim, ids.len(), rows)
                    .map_err(|e| format_err(format!("HNSW graph does not match its ids: {e}")))?;
                drop((graph_bytes, data_bytes));
                (None, layout)
            }
            Access::Change => {
                drop(dumped);
                drop((graph_bytes, data_bytes));
                let loaded = Self::load_hnsw_rs(dir, manifest.metric, &format_err)?;
                let layout = loaded
                    .graph
                    .flatten(manifest.dim, ids.len())
                    .map_err(|e| format_err(format!("HNSW graph does not match its ids: {e}")))?;
                (Some(loaded), layout)
            }
        };
        if quantized {
            search_graph.set_quantized(read_quantized(dir, manifest, ids.len())?);
        } else if params.quantization.is_some() && !ids.is_empty() {
            return Err(format_err(format!(
                "the index is quantized but {CODES_FILE} is missing; rebuild the index"
            )));
        }
        if manifest.files.contains_key(LINKS_FILE) {
            let links: Vec<u32> = persist::read_values(dir, manifest, LINKS_FILE)?;
            let pairs: Vec<(u32, u32)> = links.chunks_exact(2).map(|p| (p[0], p[1])).collect();
            search_graph.add_links(&pairs);
        } else {
            // Saved before links were kept: find the unfindable nodes now.
            let live: Vec<u32> = (0..ids.len())
                .filter(|&slot| !deleted.contains(slot))
                .map(|slot| slot as u32)
                .collect();
            search_graph.link_unfound(manifest.metric, params.ef_search, &live);
        }
        let slots = ids
            .iter()
            .enumerate()
            .filter(|(slot, _)| !deleted.contains(*slot))
            .map(|(slot, &id)| (id, slot))
            .collect();
        Ok(Self {
            dim: manifest.dim,
            metric: manifest.metric,
            params,
            graph,
            search_graph,
            ids,
            slots,
            deleted,
        })
    }

    /// Switches the walk to `quantization`'s codes (trained on the index's vectors now) or, with `None`,
    /// back to the full vectors, keeping the graph as it is: the same index searched both ways. An index
    /// opened for search only (whose quantized vectors are mapped, not held) answers
    /// [`IndexError::SearchOnly`].
    pub fn set_quantization(&mut self, quantization: Option<Quantization>) -> Result<()> {
        self.graph("changing the quantization")?;
        self.params.quantization = quantization;
        match quantization {
            Some(Quantization::Int8) if !self.ids.is_empty() => {
                let quantizer = Int8Quantizer::train(self.dim, self.search_graph.vectors());
                self.search_graph.quantize(quantizer);
            }
            _ => self.search_graph.drop_quantized(),
        }
        Ok(())
    }

    /// Bytes of the vectors a quantized index opened for search only maps from its file instead of
    /// holding (see [`HnswIndex::search_layout_bytes`] for what it holds); 0 otherwise.
    pub fn mapped_bytes(&self) -> usize {
        self.search_graph.mapped_bytes()
    }

    /// hnsw_rs's graph read by hnsw_rs from the dump in `dir` (whose layout [`dump::read`] checked), and
    /// the loader it borrows from.
    fn load_hnsw_rs(
        dir: &Path,
        metric: Metric,
        format_err: &dyn Fn(String) -> IndexError,
    ) -> Result<HnswRsGraph> {
        // hnsw_rs ties the graph's lifetime to its loader: the loader is kept alive in the index
        // (`LoaderGuard`, declared after the graph so it is dropped after it).
        let guard = LoaderGuard::new(HnswIo::new(dir, GRAPH_BASENAME));
        // SAFETY: the pointer comes from a live Box owned by `guard`, which is moved into the returned
        // index and freed only after `graph` (field order), and is never accessed through the guard.
        let loader: &'static mut HnswIo = unsafe { &mut *guard.0 };
        let loaded = match metric {
            Metric::Cosine => std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                let loader = loader;
                loader.load_hnsw::<f32, DotDistance>().map(Graph::Dot)
            })),
            Metric::L2 => std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                let loader = loader;
                loader.load_hnsw::<f32, L2Distance>().map(Graph::L2)
            })),
        };
        match loaded {
            Ok(Ok(graph)) => Ok(HnswRsGraph::new(graph, Some(guard))),
            Ok(Err(e)) => Err(format_err(format!("cannot read HNSW graph: {e}"))),
            Err(_) => Err(format_err(
                "HNSW graph files are inconsistent; rebuild the index".into(),
            )),
        }
    }

    /// Bytes of the compact search layout: the vectors and the links (layer 0, upper layers, laid links),
    /// what a search must hold; [`VectorIndex::memory_bytes`] adds the ids, the id map and, unless the
    /// index was opened for search only, hnsw_rs's graph.
    pub fn search_layout_bytes(&self) -> usize {
        self.search_graph.memory_bytes()
    }

    /// hnsw_rs's graph, which `what` needs: absent from an index opened for search only.
    fn graph(&self, what: &'static str) -> Result<&Graph> {
        self.graph
            .as_ref()
            .map(|g| &g.graph)
            .ok_or(IndexError::SearchOnly { what })
    }

    /// hnsw_rs's graph with its rows, to insert into; [`IndexError::SearchOnly`] as [`Self::graph`].
    fn graph_mut(&mut self, what: &'static str) -> Result<&mut HnswRsGraph> {
        self.graph.as_mut().ok_or(IndexError::SearchOnly { what })
    }

    /// The hit of `slot` at `distance`: cosine scores are `1 - distance` (the inner product), L2 scores
    /// the squared distance.
    fn to_hit(&self, distance: f32, slot: usize) -> Hit {
        let score = match self.metric {
            Metric::Cosine => 1.0 - distance,
            Metric::L2 => distance,
        };
        Hit {
            id: self.ids[slot],
            score,
        }
    }

    /// Orders hits best first, ties by id.
    fn sort_hits(&self, hits: &mut [Hit]) {
        match self.metric {
            Metric::Cosine => {
                hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)))
            }
            Metric::L2 => hits.sort_by(|a, b| a.score.total_cmp(&b.score).then(a.id.cmp(&b.id))),
        }
    }

    /// [`VectorIndex::search`] with what it cost.
    pub fn search_with_stats(
        &self,
        query: &[f32],
        k: usize,
        params: &SearchParams,
    ) -> Result<(Vec<Hit>, SearchStats)> {
        let q = check_query(self.dim, self.metric, self.len(), query, k)?;
        let ef = params.ef_search.unwrap_or(self.params.ef_search).max(k);
        let found = self
            .search_graph
            .search(self.metric, &q, k, ef, &self.deleted);
        // A beam of `ef` meets at least `ef` nodes unless the part of the graph it can reach is smaller:
        // then the layout's entry sits in a piece the graph left unconnected (seen after parallel inserts
        // into a reloaded graph), and hnsw_rs's own search, from its own entry point, answers instead.
        if found.distance_evals < ef.min(self.ids.len()) {
            tracing::debug!(
                "compact HNSW search reached {} nodes for ef {ef}: answering with hnsw_rs's search",
                found.distance_evals
            );
            if self.graph.is_some() {
                return self.search_hnsw_rs_with_stats(query, k, params);
            }
            // Opened for search only: the live vectors scored exactly answer instead.
            let live = (0..self.ids.len() as u32).filter(|&s| !self.deleted.contains(s as usize));
            let found = self.search_graph.scan(self.metric, &q, k, live);
            return Ok(self.found_hits(found));
        }
        let mut hits: Vec<Hit> = found
            .nearest
            .iter()
            .map(|&(distance, slot)| self.to_hit(distance, slot as usize))
            .collect();
        self.sort_hits(&mut hits);
        Ok((
            hits,
            SearchStats {
                distance_evals: found.distance_evals,
            },
        ))
    }

    /// [`VectorIndex::search_filtered`] with what it cost (the distances of every try counted).
    pub fn search_filtered_with_stats(
        &self,
        query: &[f32],
        k: usize,
        params: &SearchParams,
        filter: &IdFilter,
    ) -> Result<(Vec<Hit>, SearchStats)> {
        let q = check_query(self.dim, self.metric, self.len(), query, k)?;
        if filter.is_empty() {
            return Ok((Vec::new(), SearchStats::default()));
        }
        let ef = filtered_ef(
            params.ef_search.unwrap_or(self.params.ef_search).max(k),
            filter.len(),
            self.ids.len(),
        );
        if filter.len() <= ef {
            let found = self.scan_allowed(&q, k, filter);
            return Ok(self.found_hits(found));
        }
        let keep = LiveAllowed {
            deleted: &self.deleted,
            ids: &self.ids,
            filter,
        };
        let mut found = self.search_graph.search(self.metric, &q, k, ef, &keep);
        let mut distance_evals = found.distance_evals;
        // Short only when the walk ran out of nodes it can reach before holding `k` allowed ones; the
        // exact count of allowed live ids (what "short" means) is taken only then.
        if found.nearest.len() < k {
            let want = k.min(self.allowed_live(filter));
            let retry_ef = (ef * 4).min(FILTERED_EF_CAP).min(self.ids.len());
            if found.nearest.len() < want && retry_ef > ef {
                tracing::debug!(
                    "filtered HNSW search found {} of {want} at ef {ef}: retrying at ef {retry_ef}",
                    found.nearest.len()
                );
                found = self
                    .search_graph
                    .search(self.metric, &q, k, retry_ef, &keep);
                distance_evals += found.distance_evals;
            }
            if found.nearest.len() < want {
                tracing::debug!(
                    "filtered HNSW search found {} of {want}: scoring the allowed ids exactly",
                    found.nearest.len()
                );
                found = self.scan_allowed(&q, k, filter);
                distance_evals += found.distance_evals;
            }
        }
        let (hits, _) = self.found_hits(found);
        Ok((hits, SearchStats { distance_evals }))
    }

    /// The hits of a compact-layout answer, best first, with its cost.
    fn found_hits(&self, found: Found) -> (Vec<Hit>, SearchStats) {
        let mut hits: Vec<Hit> = found
            .nearest
            .iter()
            .map(|&(distance, slot)| self.to_hit(distance, slot as usize))
            .collect();
        self.sort_hits(&mut hits);
        (
            hits,
            SearchStats {
                distance_evals: found.distance_evals,
            },
        )
    }

    /// Live slots whose id `filter` allows, ascending: looked up by id when the filter is the smaller
    /// side, otherwise every live slot is tested against it.
    fn allowed_slots(&self, filter: &IdFilter) -> Vec<u32> {
        let mut slots: Vec<u32> = if filter.len() <= self.slots.len() {
            filter
                .ids()
                .filter_map(|id| self.slots.get(&id).map(|&slot| slot as u32))
                .collect()
        } else {
            self.slots
                .iter()
                .filter(|(&id, _)| filter.contains(id))
                .map(|(_, &slot)| slot as u32)
                .collect()
        };
        slots.sort_unstable();
        slots
    }

    /// Number of live ids `filter` allows.
    fn allowed_live(&self, filter: &IdFilter) -> usize {
        if filter.len() <= self.slots.len() {
            filter
                .ids()
                .filter(|id| self.slots.contains_key(id))
                .count()
        } else {
            self.slots.keys().filter(|&&id| filter.contains(id)).count()
        }
    }

    /// The exact `k` nearest allowed live slots: every one scored.
    fn scan_allowed(&self, q: &[f32], k: usize, filter: &IdFilter) -> Found {
        self.search_graph
            .scan(self.metric, q, k, self.allowed_slots(filter).into_iter())
    }

    /// The same query answered by hnsw_rs's own search on the same graph (kept for comparison).
    pub fn search_hnsw_rs(
        &self,
        query: &[f32],
        k: usize,
        params: &SearchParams,
    ) -> Result<Vec<Hit>> {
        Ok(self.search_hnsw_rs_with_stats(query, k, params)?.0)
    }

    /// [`HnswIndex::search_hnsw_rs`] with what it cost.
    pub fn search_hnsw_rs_with_stats(
        &self,
        query: &[f32],
        k: usize,
        params: &SearchParams,
    ) -> Result<(Vec<Hit>, SearchStats)> {
        let q = check_query(self.dim, self.metric, self.len(), query, k)?;
        let ef = params.ef_search.unwrap_or(self.params.ef_search).max(k);
        let before = HNSW_RS_DISTANCE_EVALS.with(Cell::get);
        let found = self
            .graph("hnsw_rs's own search")?
            .search(&q, k, ef, &self.deleted);
        let distance_evals = HNSW_RS_DISTANCE_EVALS.with(Cell::get) - before;
        let mut hits: Vec<Hit> = found
            .iter()
            .take(k)
            .map(|n| self.to_hit(n.distance, n.d_id))
            .collect();
        self.sort_hits(&mut hits);
        Ok((hits, SearchStats { distance_evals }))
    }

    /// Rebuilds the search layout from the hnsw_rs graph after slots `first_new..` were inserted: the
    /// links laid over the previous layout carry over, and the new nodes and those that lost links in
    /// are checked to be found by their own vectors.
    fn reflatten(&mut self, first_new: usize) -> Result<()> {
        let started = std::time::Instant::now();
        let mut layout = self
            .graph("changing the index")?
            .flatten(self.dim, self.ids.len())
            .map_err(|e| IndexError::Format {
                path: "HNSW graph in memory".into(),
                reason: e.to_string(),
            })?;
        let previous = std::mem::take(&mut self.search_graph);
        layout.add_links(previous.extra_links());
        if self.params.quantization.is_some() && !self.ids.is_empty() {
            // The quantizer trained at the build codes what is added later (values beyond its range
            // saturate); the first vectors of an index built empty train it.
            let quantizer = match previous.quantized() {
                Some(q) => q.quantizer.clone(),
                None => Int8Quantizer::train(self.dim, layout.vectors()),
            };
            layout.quantize(quantizer);
        }
        let mut check = layout.lost_in_links(&previous);
        check.extend(first_new as u32..self.ids.len() as u32);
        check.retain(|&slot| !self.deleted.contains(slot as usize));
        check.sort_unstable();
        check.dedup();
        let flattened = started.elapsed();
        let linked = layout.link_unfound(self.metric, self.params.ef_search, &check);
        tracing::debug!(
            "HNSW layout: flattened in {:.2} s; {} nodes checked and {linked} links laid for those \
             a search did not find in {:.2} s",
            flattened.as_secs_f64(),
            check.len(),
            (started.elapsed() - flattened).as_secs_f64()
        );
        self.search_graph = layout;
        Ok(())
    }
}

/// A quantized index's quantizer and codes read back from `dir`, checked against its `slots` and
/// dimension.
fn read_quantized(dir: &Path, manifest: &Manifest, slots: usize) -> Result<Quantized> {
    let values: Vec<f32> = persist::read_values(dir, manifest, QUANTIZER_FILE)?;
    let quantizer =
        Int8Quantizer::from_values(manifest.dim, &values).ok_or_else(|| IndexError::Format {
            path: dir.join(QUANTIZER_FILE),
            reason: format!(
                "expected a positive scale and {} finite offsets; rebuild the index",
                manifest.dim
            ),
        })?;
    let bytes = persist::read_file(dir, manifest, CODES_FILE)?;
    if bytes.len() != slots * manifest.dim {
        return Err(IndexError::Format {
            path: dir.join(CODES_FILE),
            reason: format!(
                "{} bytes for {slots} codes of {} bytes; rebuild the index",
                bytes.len(),
                manifest.dim
            ),
        });
    }
    let codes = bytes.into_iter().map(|b| b as i8).collect();
    Ok(Quantized {
        quantizer,
        codes: Int8Codes::from_codes(manifest.dim, codes),
    })
}

impl VectorIndex for HnswIndex {
    fn dim(&self) -> usize {
        self.dim
    }

    fn metric(&self) -> Metric {
        self.metric
    }

    fn len(&self) -> usize {
        self.slots.len()
    }

    fn config(&self) -> IndexConfig {
        IndexConfig::Hnsw(self.params)
    }

    fn mapped_bytes(&self) -> usize {
        HnswIndex::mapped_bytes(self)
    }

    fn rerank_bytes(&self) -> usize {
        // A quantized walk reads the full vectors only to re-score; held on the heap when the index was
        // built or loaded to change (mapped, not held, when opened for search).
        if self.search_graph.quantized().is_some() {
            self.search_graph.vectors_heap_bytes()
        } else {
            0
        }
    }

    fn memory_bytes(&self) -> usize {
        // Per point: the vector, about 2*M neighbours at layer 0 plus a geometric tail above it
        // (pointer + distance per neighbour, and the list's share of its allocations), and hnsw_rs's
        // point header.
        // An index opened for search only holds the search layout alone.
        let points = if self.graph.is_some() {
            self.ids.len()
        } else {
            0
        };
        let per_point = self.dim * 4 + self.params.m * 2 * 24 + self.params.m * 24 / 2 + 96;
        points * per_point
            + self.search_graph.memory_bytes()
            + self.ids.capacity() * 8
            + self.slots.capacity() * 24
            + self.deleted.memory_bytes()
    }

    fn add(&mut self, ids: &[u64], vectors: &[f32]) -> Result<()> {
        let prepared = check_vectors(self.dim, self.metric, ids, vectors)?;
        let mut seen = HashSet::with_capacity(ids.len());
        for &id in ids {
            if self.slots.contains_key(&id) || !seen.insert(id) {
                return Err(IndexError::DuplicateId { id });
            }
        }
        let first = self.ids.len();
        let dim = self.dim;
        self.graph_mut("adding vectors")?
            .insert(dim, &prepared, first);
        for (i, &id) in ids.iter().enumerate() {
            self.slots.insert(id, first + i);
            self.ids.push(id);
        }
        self.reflatten(first)
    }

    fn tombstones(&self) -> usize {
        HnswIndex::tombstones(self)
    }

    fn compact(&mut self) -> Result<()> {
        HnswIndex::compact(self)
    }

    fn remove(&mut self, ids: &[u64]) -> Result<()> {
        self.graph("removing vectors")?;
        if let Some(&missing) = ids.iter().find(|id| !self.slots.contains_key(id)) {
            return Err(IndexError::UnknownId { id: missing });
        }
        for id in ids {
            if let Some(slot) = self.slots.remove(id) {
                self.deleted.insert(slot);
            }
        }
        Ok(())
    }

    fn search(&self, query: &[f32], k: usize, params: &SearchParams) -> Result<Vec<Hit>> {
        Ok(self.search_with_stats(query, k, params)?.0)
    }

    fn search_filtered(
        &self,
        query: &[f32],
        k: usize,
        params: &SearchParams,
        filter: &IdFilter,
    ) -> Result<Vec<Hit>> {
        Ok(self.search_filtered_with_stats(query, k, params, filter)?.0)
    }

    fn search_batch(
        &self,
        queries: &[f32],
        k: usize,
        params: &SearchParams,
    ) -> Result<Vec<Vec<Hit>>> {
        use rayon::prelude::*;
        if !queries.len().is_multiple_of(self.dim) {
            return Err(IndexError::Dimension {
                expected: self.dim,
                got: queries.len() % self.dim,
            });
        }
        queries
            .par_chunks(self.dim)
            .map(|q| self.search(q, k, params))
            .collect()
    }

    fn save(&self, dir: &Path) -> Result<()> {
        let scratch = tempfile::tempdir().map_err(|source| IndexError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
        let name = self
            .graph("saving the index")?
            .dump(scratch.path())
            .map_err(|e| IndexError::Format {
                path: dir.to_path_buf(),
                reason: format!("HNSW dump failed: {e}"),
            })?;
        if name != GRAPH_BASENAME {
            return Err(IndexError::Format {
                path: dir.to_path_buf(),
                reason: format!("HNSW dump wrote '{name}'"),
            });
        }
        let read = |file: &str| {
            let path = scratch.path().join(file);
            std::fs::read(&path).map_err(|source| IndexError::Io { path, source })
        };
        let graph = read(GRAPH_FILE)?;
        let data = read(DATA_FILE)?;
        let ids = codec::to_le_bytes(&self.ids);
        let deleted: Vec<u64> = self.deleted.iter().map(|s| s as u64).collect();
        let deleted = codec::to_le_bytes(&deleted);
        let links: Vec<u32> = self
            .search_graph
            .extra_links()
            .iter()
            .flat_map(|&(from, to)| [from, to])
            .collect();
        let links = codec::to_le_bytes(&links);
        let quantized = self.search_graph.quantized().map(|q| {
            let codes: Vec<u8> = q.codes.as_bytes().iter().map(|&c| c as u8).collect();
            let quantizer = codec::to_le_bytes(&q.quantizer.to_values());
            let vectors = codec::to_le_bytes(self.search_graph.vectors());
            (codes, quantizer, vectors)
        });
        let manifest = Manifest::new(
            IndexKind::Hnsw,
            self.dim,
            self.metric,
            self.config(),
            self.len(),
        );
        let mut files: Vec<(&str, &[u8])> = vec![
            (GRAPH_FILE, &graph),
            (DATA_FILE, &data),
            (IDS_FILE, &ids),
            (DELETED_FILE, &deleted),
            (LINKS_FILE, &links),
        ];
        if let Some((codes, quantizer, vectors)) = &quantized {
            files.push((CODES_FILE, codes));
            files.push((QUANTIZER_FILE, quantizer));
            files.push((VECTORS_FILE, vectors));
        }
        persist::save_dir(dir, manifest, &files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout read straight from the dump files is the one flattened from the graph hnsw_rs loads
    /// from them: same vectors, neighbour blocks, upper layers, entry and laid links.
    #[test]
    fn the_layout_read_from_the_files_equals_the_one_flattened_from_hnsw_rs() {
        let dim = 24;
        let n = 3_000;
        let mut state = 7u64;
        let vectors: Vec<f32> = (0..n * dim)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect();
        let ids: Vec<u64> = (0..n as u64).map(|i| i * 3 + 1).collect();
        for metric in [Metric::Cosine, Metric::L2] {
            let mut index =
                HnswIndex::build(&HnswParams::default(), dim, metric, &ids, &vectors).unwrap();
            index.remove(&[4, 31]).unwrap();
            let dir = tempfile::tempdir().unwrap();
            index.save(dir.path()).unwrap();
            let manifest = persist::read_manifest(dir.path()).unwrap();
            let full = HnswIndex::load(dir.path(), &manifest).unwrap();
            let for_search = HnswIndex::load_for_search(dir.path(), &manifest).unwrap();
            assert!(full.search_graph.memory_bytes() > n * dim * 4);
            assert!(full.search_graph == for_search.search_graph, "{metric:?}");
            assert_eq!(full.ids, for_search.ids);
            assert_eq!(full.slots, for_search.slots);
        }
    }
}
