//! Parameter sweeps: which indexes are built, with which search parameters, and the loop that measures them.

pub use crate::results::Params;

use crate::dataset::Dataset;
use crate::error::Result;
use crate::measure::{best_pass, dir_size, rss_bytes, run_batch, run_queries};
use crate::results::{Point, QueryMode};
use crate::BenchError;
use indicatif::ProgressBar;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Instant;
use vsearch_index::eval::recall_at_k;
use vsearch_index::hnsw::{DEFAULT_EF_CONSTRUCTION, DEFAULT_EF_SEARCH, DEFAULT_M};
use vsearch_index::ivf::{
    default_nlist, default_pq4fs_m, default_pq_m, default_rerank_factor, pq_m_at_most,
    DEFAULT_NPROBE, DEFAULT_PQ_BITS,
};
use vsearch_index::{
    HnswParams, IndexConfig, IvfCodes, IvfParams, Quantization, SearchParams, VectorIndex,
};

/// The index kinds a sweep builds, by the names its points carry (`index` in `results.json`).
pub const SWEEP_KINDS: [&str; 7] = [
    "flat",
    "hnsw",
    "hnsw-int8",
    "ivf-flat",
    "ivf-pq",
    "ivf-sq8",
    "ivf-pq4fs",
];

/// The sweep's name of an HNSW build walking full vectors (`hnsw`) or codes (`hnsw-int8`).
pub fn hnsw_kind(quantization: Option<Quantization>) -> &'static str {
    match quantization {
        None => "hnsw",
        Some(Quantization::Int8) => "hnsw-int8",
    }
}

/// The parameter grids of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// HNSW builds: (M, ef_construction).
    pub hnsw_builds: Vec<(usize, usize)>,
    /// HNSW ef_search values, swept on every build.
    pub ef_search: Vec<usize>,
    /// What each HNSW build's walk compares: full vectors (`None`) and/or codes; every build of
    /// `hnsw_builds` is made once per entry.
    pub hnsw_quantization: Vec<Option<Quantization>>,
    /// IVF-Flat nlist values.
    pub ivf_flat_nlist: Vec<usize>,
    /// IVF-PQ nlist values.
    pub ivf_pq_nlist: Vec<usize>,
    /// nprobe values, swept on every IVF build (those above nlist are skipped).
    pub nprobe: Vec<usize>,
    /// IVF-PQ (sub-quantisers, bits per code) settings; candidates re-ranked exactly.
    pub pq: Vec<(usize, usize)>,
    /// IVF-SQ8 nlist values (8-bit scalar codes, candidates re-ranked exactly).
    pub ivf_sq8_nlist: Vec<usize>,
    /// IVF-PQ fast-scan nlist values.
    pub ivf_pq4fs_nlist: Vec<usize>,
    /// IVF-PQ fast-scan sub-quantiser counts (4-bit codes; candidates re-ranked exactly).
    pub pq4fs_m: Vec<usize>,
    /// Whether the flat baseline is measured.
    pub flat: bool,
}

/// `factor * sqrt(n)` lists, at most `n / 39` (FAISS's minimum of training points per list), at least 1.
/// With factor 4 this is the index layer's default rule ([`vsearch_index::ivf::default_nlist`]).
pub fn sqrt_nlist(n: usize, factor: f64) -> usize {
    ((factor * (n as f64).sqrt()).round() as usize)
        .min(n / vsearch_index::ivf::MIN_POINTS_PER_LIST)
        .max(1)
}

/// Whether `n` vectors can train IVF-PQ fast-scan's 4-bit codebooks (FAISS needs `2^4` training vectors);
/// grids leave fast-scan out below that.
pub fn fast_scan_trains(n: usize) -> bool {
    n >= 1 << vsearch_index::ivf::FAST_SCAN_BITS
}

/// PQ settings of the full grid for `n` vectors of dimension `dim`: codes of at most 32 bytes per vector
/// ([`pq_m`]), about `dim / 8` bytes (the largest divisor of `dim` not above it) and the index layer's default
/// m ([`default_pq_m`]), [`pq_bits`] bits each.
pub fn pq_grid(dim: usize, n: usize) -> Vec<(usize, usize)> {
    let mut g = vec![
        (pq_m(dim), pq_bits(n)),
        (pq_m_at_most(dim, dim / 8), pq_bits(n)),
        (default_pq_m(dim), pq_bits(n)),
    ];
    g.sort();
    g.dedup();
    g
}

/// Bits per PQ code for `n` training vectors: the index layer's default ([`DEFAULT_PQ_BITS`]) when there are
/// at least `2^bits` vectors to train the codebooks (FAISS needs that many), else the most that `n` allows.
pub fn pq_bits(n: usize) -> usize {
    let most = (usize::BITS - 1).saturating_sub(n.max(2).leading_zeros()) as usize;
    DEFAULT_PQ_BITS.min(most).max(1)
}

/// The largest divisor of `dim` not above 32 (PQ needs `dim % m == 0`), giving at most 32 bytes per code.
pub fn pq_m(dim: usize) -> usize {
    pq_m_at_most(dim, 32)
}

impl Grid {
    /// The full grid for `n` base vectors of dimension `dim`. It always holds the index layer's defaults
    /// ([`Grid::with_defaults`]), so the report can place them.
    pub fn full(n: usize, dim: usize) -> Grid {
        let mut nl = vec![sqrt_nlist(n, 2.0), sqrt_nlist(n, 4.0), sqrt_nlist(n, 8.0)];
        nl.dedup();
        Grid {
            hnsw_builds: vec![(8, 100), (16, 100), (16, 200), (32, 200)],
            ef_search: vec![10, 12, 16, 24, 32, 48, 64, 96, 128, 256, 512],
            hnsw_quantization: vec![None, Some(Quantization::Int8)],
            ivf_flat_nlist: nl,
            ivf_pq_nlist: vec![sqrt_nlist(n, 4.0)],
            nprobe: vec![1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 128, 256],
            pq: pq_grid(dim, n),
            // The quantised kinds at the default nlist, against IVF-Flat and IVF-PQ at the same nlist; fast-scan
            // at the index layer's default m (`dim / 2`, or the largest divisor of dim below it): the code
            // bytes of the default 8-bit PQ, so the two PQ kinds compare at equal memory.
            ivf_sq8_nlist: vec![sqrt_nlist(n, 4.0)],
            ivf_pq4fs_nlist: vec![sqrt_nlist(n, 4.0)],
            pq4fs_m: vec![default_pq4fs_m(dim)],
            flat: true,
        }
        .with_defaults(n, dim)
        .without_untrainable(n)
    }

    /// A small grid for a quick look: one build per kind, with the index layer's default build parameters,
    /// and a few search settings including the defaults.
    pub fn quick(n: usize, dim: usize) -> Grid {
        Grid {
            hnsw_builds: vec![(DEFAULT_M, DEFAULT_EF_CONSTRUCTION)],
            ef_search: vec![10, 12, 16, 24, 32, 64, 128, 256],
            hnsw_quantization: vec![None, Some(Quantization::Int8)],
            ivf_flat_nlist: vec![default_nlist(n)],
            ivf_pq_nlist: vec![default_nlist(n)],
            nprobe: vec![1, 4, 8, 16, 32, 64],
            pq: vec![(default_pq_m(dim), pq_bits(n))],
            ivf_sq8_nlist: vec![default_nlist(n)],
            ivf_pq4fs_nlist: vec![default_nlist(n)],
            pq4fs_m: vec![default_pq4fs_m(dim)],
            flat: true,
        }
        .with_defaults(n, dim)
        .without_untrainable(n)
    }

    /// Adds the index layer's defaults for `n` vectors of dimension `dim` where they are missing: the HNSW
    /// build (M, ef_construction) and ef_search, the default nlist and nprobe, and the default PQ and
    /// fast-scan m.
    pub fn with_defaults(mut self, n: usize, dim: usize) -> Grid {
        fn add<T: PartialEq + Ord>(v: &mut Vec<T>, x: T) {
            if !v.contains(&x) {
                v.push(x);
                v.sort();
            }
        }
        add(&mut self.hnsw_builds, (DEFAULT_M, DEFAULT_EF_CONSTRUCTION));
        add(&mut self.ef_search, DEFAULT_EF_SEARCH);
        add(&mut self.ivf_flat_nlist, default_nlist(n));
        add(&mut self.ivf_pq_nlist, default_nlist(n));
        add(&mut self.nprobe, DEFAULT_NPROBE.min(default_nlist(n)));
        add(&mut self.pq, (default_pq_m(dim), pq_bits(n)));
        add(&mut self.ivf_sq8_nlist, default_nlist(n));
        add(&mut self.ivf_pq4fs_nlist, default_nlist(n));
        add(&mut self.pq4fs_m, default_pq4fs_m(dim));
        self
    }

    /// Drops the fast-scan builds when `n` vectors cannot train them ([`fast_scan_trains`]).
    fn without_untrainable(mut self, n: usize) -> Grid {
        if !fast_scan_trains(n) {
            self.ivf_pq4fs_nlist.clear();
        }
        self
    }

    /// Keeps only the builds of the kinds named in `kinds` (names of [`SWEEP_KINDS`]); an empty list keeps all.
    pub fn only(mut self, kinds: &[String]) -> Result<Grid> {
        if kinds.is_empty() {
            return Ok(self);
        }
        if let Some(bad) = kinds.iter().find(|k| !SWEEP_KINDS.contains(&k.as_str())) {
            return Err(crate::BenchError::Invalid {
                reason: format!(
                    "unknown index kind `{bad}` in --only: use {}",
                    SWEEP_KINDS.join(", ")
                ),
            });
        }
        let keep = |k: &str| kinds.iter().any(|x| x == k);
        self.flat &= keep("flat");
        self.hnsw_quantization.retain(|&q| keep(hnsw_kind(q)));
        if self.hnsw_quantization.is_empty() {
            self.hnsw_builds.clear();
        }
        if !keep("ivf-flat") {
            self.ivf_flat_nlist.clear();
        }
        if !keep("ivf-pq") {
            self.ivf_pq_nlist.clear();
        }
        if !keep("ivf-sq8") {
            self.ivf_sq8_nlist.clear();
        }
        if !keep("ivf-pq4fs") {
            self.ivf_pq4fs_nlist.clear();
        }
        Ok(self)
    }

    /// The grids as text, per index kind, for the report.
    pub fn describe(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        if self.flat {
            m.insert("flat".into(), "exact search, no parameters".into());
        }
        for &q in &self.hnsw_quantization {
            let walk = match q {
                None => String::new(),
                Some(q) => format!(
                    "; the walk compares {q} codes, the ef candidates are re-scored with the full vectors"
                ),
            };
            m.insert(
                hnsw_kind(q).into(),
                format!(
                    "(M, ef_construction) in {:?}; ef_search in {:?}{walk}",
                    self.hnsw_builds, self.ef_search
                ),
            );
        }
        m.insert(
            "ivf-flat".into(),
            format!(
                "nlist in {:?}; nprobe in {:?} (<= nlist)",
                self.ivf_flat_nlist, self.nprobe
            ),
        );
        m.insert(
            "ivf-pq".into(),
            format!(
                "nlist in {:?}; PQ (m, bits) in {:?}; exact re-ranking of {} * k candidates; nprobe in {:?} (<= nlist)",
                self.ivf_pq_nlist,
                self.pq,
                vsearch_index::ivf::DEFAULT_RERANK_FACTOR,
                self.nprobe
            ),
        );
        m.insert(
            "ivf-sq8".into(),
            format!(
                "nlist in {:?}; 8-bit scalar codes; exact re-ranking of {} * k candidates; nprobe in {:?} (<= nlist)",
                self.ivf_sq8_nlist,
                default_rerank_factor(IvfCodes::Sq8),
                self.nprobe
            ),
        );
        m.insert(
            "ivf-pq4fs".into(),
            format!(
                "nlist in {:?}; 4-bit PQ fast-scan m in {:?}; exact re-ranking of {} * k candidates; nprobe in {:?} \
                 (<= nlist)",
                self.ivf_pq4fs_nlist,
                self.pq4fs_m,
                default_rerank_factor(IvfCodes::PqFastScan { m: 1 }),
                self.nprobe
            ),
        );
        m
    }

    /// Every build of the sweep with its search settings.
    pub fn plan(&self) -> Vec<Build> {
        let mut out = Vec::new();
        if self.flat {
            out.push(Build {
                index: "flat",
                config: IndexConfig::Flat,
                params: Params::new(),
                searches: vec![(SearchParams::default(), Params::new())],
            });
        }
        for (&(m, efc), &quantization) in self
            .hnsw_builds
            .iter()
            .flat_map(|b| self.hnsw_quantization.iter().map(move |q| (b, q)))
        {
            let ef0 = self.ef_search.first().copied().unwrap_or(64);
            let mut params: Params = [
                ("M".to_string(), json!(m)),
                ("ef_construction".to_string(), json!(efc)),
            ]
            .into();
            if let Some(q) = quantization {
                params.insert("quantization".into(), json!(q.name()));
            }
            out.push(Build {
                index: hnsw_kind(quantization),
                config: IndexConfig::Hnsw(HnswParams {
                    m,
                    ef_construction: efc,
                    ef_search: ef0,
                    quantization,
                }),
                params,
                searches: self
                    .ef_search
                    .iter()
                    .map(|&ef| {
                        (
                            SearchParams {
                                ef_search: Some(ef),
                                ..Default::default()
                            },
                            [("ef_search".to_string(), json!(ef))].into(),
                        )
                    })
                    .collect(),
            });
        }
        let ivf = |nlist: usize, codes: IvfCodes, name: &'static str| {
            let rerank = codes.keeps_raw();
            let mut params: Params = [("nlist".to_string(), json!(nlist))].into();
            match codes {
                IvfCodes::Pq { m, bits } => {
                    params.insert("pq_m".into(), json!(m));
                    params.insert("pq_bits".into(), json!(bits));
                }
                IvfCodes::PqFastScan { m } => {
                    params.insert("pq_m".into(), json!(m));
                }
                IvfCodes::Flat | IvfCodes::Sq8 => {}
            }
            if rerank {
                params.insert("rerank".into(), json!(true));
            }
            Build {
                index: name,
                config: IndexConfig::Ivf(IvfParams {
                    nlist: Some(nlist),
                    nprobe: 1,
                    codes,
                    rerank,
                    train_size: None,
                }),
                params,
                searches: self
                    .nprobe
                    .iter()
                    .filter(|&&p| p <= nlist)
                    .map(|&p| {
                        (
                            SearchParams {
                                nprobe: Some(p),
                                rerank: rerank.then_some(true),
                                ..Default::default()
                            },
                            [("nprobe".to_string(), json!(p))].into(),
                        )
                    })
                    .collect(),
            }
        };
        for &nl in &self.ivf_flat_nlist {
            out.push(ivf(nl, IvfCodes::Flat, "ivf-flat"));
        }
        for &nl in &self.ivf_pq_nlist {
            for &(m, bits) in &self.pq {
                out.push(ivf(nl, IvfCodes::Pq { m, bits }, "ivf-pq"));
            }
        }
        for &nl in &self.ivf_sq8_nlist {
            out.push(ivf(nl, IvfCodes::Sq8, "ivf-sq8"));
        }
        for &nl in &self.ivf_pq4fs_nlist {
            for &m in &self.pq4fs_m {
                out.push(ivf(nl, IvfCodes::PqFastScan { m }, "ivf-pq4fs"));
            }
        }
        out
    }
}

/// One index build of a sweep and the search settings measured on it.
#[derive(Debug, Clone)]
pub struct Build {
    /// One of [`SWEEP_KINDS`].
    pub index: &'static str,
    pub config: IndexConfig,
    /// Build parameters as reported.
    pub params: Params,
    /// Search settings with their reported parameters.
    pub searches: Vec<(SearchParams, Params)>,
}

impl Build {
    /// Points this build yields.
    pub fn len(&self) -> usize {
        self.searches.len()
    }
    /// True when no search setting applies.
    pub fn is_empty(&self) -> bool {
        self.searches.is_empty()
    }
}

/// How an index was built, for the points measured on it.
#[derive(Debug, Clone, Copy)]
pub struct BuildCost {
    pub build_s: f64,
    /// Heap bytes of the index as searched (see [`run`]).
    pub memory_bytes: u64,
    /// Bytes mapped from its files instead of held, if any.
    pub mapped_bytes: Option<u64>,
    /// The share of `memory_bytes` kept only to re-rank ([`VectorIndex::rerank_bytes`]).
    pub rerank_bytes: u64,
    pub disk_bytes: u64,
    pub rss_delta_bytes: Option<u64>,
}

/// What every index of a sweep is measured against: the dataset and its ground truth at `k`, the threads that
/// run the queries, and the progress bar to advance.
#[derive(Clone, Copy)]
pub struct Workload<'a> {
    pub ds: &'a Dataset,
    pub truth: &'a [Vec<u64>],
    pub k: usize,
    pub pool: &'a rayon::ThreadPool,
    pub progress: &'a ProgressBar,
    /// Each point's passes over the queries last at least this long together; the fastest counts
    /// ([`best_pass`]).
    pub min_pass_seconds: f64,
}

/// Measures every search setting of `build` on an already built `index`: one point per setting and
/// query mode ([`QueryMode`]: one query per call, and all queries in one batched call).
pub fn measure_index(
    index: &dyn VectorIndex,
    build: &Build,
    cost: BuildCost,
    work: &Workload,
) -> Result<Vec<Point>> {
    let Workload {
        ds,
        truth,
        k,
        pool,
        progress,
        min_pass_seconds,
    } = *work;
    let mut points = Vec::with_capacity(build.searches.len());
    for (sp, sparams) in &build.searches {
        let mut params = build.params.clone();
        params.extend(sparams.clone());
        progress.set_message(format!("{} {}", build.index, params_short(&params)));
        for mode in [QueryMode::Single, QueryMode::Batch] {
            let run = best_pass(min_pass_seconds, || match mode {
                QueryMode::Single => run_queries(index, &ds.queries, ds.dim, k, sp, pool),
                QueryMode::Batch => run_batch(index, &ds.queries, k, sp, pool),
            })?;
            let recall = recall_at_k(&run.found, truth, k);
            points.push(Point {
                library: "vsearch".into(),
                index: build.index.into(),
                params: params.clone(),
                recall,
                qps: run.qps,
                p50_ms: run.p50_ms,
                p95_ms: run.p95_ms,
                p99_ms: run.p99_ms,
                build_s: cost.build_s,
                disk_bytes: cost.disk_bytes,
                memory_bytes: cost.memory_bytes,
                rerank_bytes: (cost.rerank_bytes > 0).then_some(cost.rerank_bytes),
                rss_delta_bytes: cost.rss_delta_bytes,
                mapped_bytes: cost.mapped_bytes,
                mode: Some(mode),
            });
        }
        progress.inc(1);
    }
    Ok(points)
}

fn params_short(p: &Params) -> String {
    p.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Builds each index of `plan` in turn (on the pool's threads), saves it, measures it and drops it before the
/// next. An HNSW index is measured as `vsearch serve` searches it: reopened from its files for search only
/// (its compact layout, without hnsw_rs's graph; a quantized one holding its codes and mapping its vectors),
/// so its memory is the served process's. The other kinds are measured as built (they load the same).
pub fn run(plan: &[Build], work: &Workload) -> Result<Vec<Point>> {
    let ds = work.ds;
    let mut points = Vec::new();
    for b in plan {
        work.progress
            .set_message(format!("building {} {}", b.index, params_short(&b.params)));
        let rss0 = rss_bytes();
        let t = Instant::now();
        let index = work
            .pool
            .install(|| vsearch_index::build(&b.config, ds.dim, ds.metric, &ds.ids, &ds.base))?;
        let build_s = t.elapsed().as_secs_f64();
        let rss1 = rss_bytes();
        let saved = tempfile::tempdir().map_err(|e| BenchError::io(std::env::temp_dir(), e))?;
        let dir = saved.path().join("index");
        index.save(&dir)?;
        let index = if b.config.kind() == vsearch_index::IndexKind::Hnsw {
            drop(index);
            vsearch_index::load_for_search(&dir)?
        } else {
            index
        };
        let mapped = index.mapped_bytes() as u64;
        let cost = BuildCost {
            build_s,
            memory_bytes: index.memory_bytes() as u64,
            mapped_bytes: (mapped > 0).then_some(mapped),
            disk_bytes: dir_size(&dir)?,
            rerank_bytes: index.rerank_bytes() as u64,
            rss_delta_bytes: (rss0 > 0).then_some(rss1.saturating_sub(rss0)),
        };
        tracing::info!(index = b.index, params = %params_short(&b.params), build_s, "built");
        points.extend(measure_index(index.as_ref(), b, cost, work)?);
    }
    Ok(points)
}
