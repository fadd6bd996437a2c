//! The summary table, the check of the index layer's defaults, and the Markdown report of a run's
//! [`Results`] (the `results.json` schema is documented in [`crate::results`]).

pub use crate::results::{DatasetInfo, Machine, Params, Point, QueryMode, Results, SCHEMA};

use crate::sweep::pq_bits;
use std::fmt::Write as _;

/// Recall thresholds of the summary table.
pub const THRESHOLDS: [f64; 3] = [0.90, 0.95, 0.99];

/// One cell of the summary: the fastest point of a series at or above a recall threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Best {
    pub series: String,
    pub threshold: f64,
    /// `None` when no point of the series reaches the threshold.
    pub point: Option<Point>,
}

/// For every series (library/index) and every threshold in [`THRESHOLDS`], the highest-QPS point with
/// recall >= threshold.
pub fn summary(points: &[Point]) -> Vec<Best> {
    let mut series: Vec<String> = points.iter().map(Point::series).collect();
    series.sort();
    series.dedup();
    let mut out = Vec::new();
    for s in &series {
        for &t in &THRESHOLDS {
            let best = points
                .iter()
                .filter(|p| &p.series() == s && p.recall >= t)
                .max_by(|a, b| a.qps.total_cmp(&b.qps))
                .cloned();
            out.push(Best {
                series: s.clone(),
                threshold: t,
                point: best,
            });
        }
    }
    out
}

/// Recall@k the index layer's defaults are meant to reach; the report checks them against it.
pub const DEFAULTS_TARGET: f64 = 0.95;

/// The index layer's default parameters for `n` base vectors of dimension `dim`, per index kind, read from
/// the constants of `vsearch-index`: (index kind, build parameters, search parameters). nprobe is capped at
/// nlist and PQ bits at what `n` can train ([`pq_bits`]), as they act on small data.
pub fn index_defaults(n: usize, dim: usize) -> Vec<(&'static str, Params, Params)> {
    use serde_json::json;
    use vsearch_index::{hnsw, ivf};
    let p = |pairs: &[(&str, serde_json::Value)]| -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    };
    let nlist = ivf::default_nlist(n);
    // FAISS visits at most nlist lists, and PQ codebooks need 2^bits training vectors: on small data the
    // defaults act as these (the sweep measures them so).
    let nprobe = ivf::DEFAULT_NPROBE.min(nlist);
    let bits = pq_bits(n);
    vec![
        (
            "hnsw",
            p(&[
                ("M", json!(hnsw::DEFAULT_M)),
                ("ef_construction", json!(hnsw::DEFAULT_EF_CONSTRUCTION)),
            ]),
            p(&[("ef_search", json!(hnsw::DEFAULT_EF_SEARCH))]),
        ),
        (
            "ivf-flat",
            p(&[("nlist", json!(nlist))]),
            p(&[("nprobe", json!(nprobe))]),
        ),
        (
            "ivf-pq",
            p(&[
                ("nlist", json!(nlist)),
                ("pq_m", json!(ivf::default_pq_m(dim))),
                ("pq_bits", json!(bits)),
            ]),
            p(&[("nprobe", json!(nprobe))]),
        ),
        (
            "ivf-sq8",
            p(&[("nlist", json!(nlist))]),
            p(&[("nprobe", json!(nprobe))]),
        ),
        (
            "ivf-pq4fs",
            p(&[
                ("nlist", json!(nlist)),
                ("pq_m", json!(ivf::default_pq4fs_m(dim))),
            ]),
            p(&[("nprobe", json!(nprobe))]),
        ),
    ]
}

/// An index default placed in a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct DefaultCheck {
    /// `hnsw`, `ivf-flat`, `ivf-pq`, `ivf-sq8` or `ivf-pq4fs`.
    pub index: String,
    /// The default's build and search parameters.
    pub params: Params,
    /// The vsearch point measured with exactly these parameters, if the sweep holds it.
    pub point: Option<Point>,
    /// The fastest vsearch point of this index kind at recall >= [`DEFAULTS_TARGET`].
    pub best: Option<Point>,
    /// The fastest such point built with the default build parameters.
    pub best_on_default_build: Option<Point>,
}

impl DefaultCheck {
    /// Whether the default is the fastest point at recall >= [`DEFAULTS_TARGET`] (the best trade-off).
    pub fn is_best(&self) -> bool {
        matches!((&self.point, &self.best), (Some(p), Some(b)) if p.params == b.params)
    }

    /// One sentence on how the default compares with the sweep.
    pub fn verdict(&self) -> String {
        let Some(p) = &self.point else {
            return "not measured: the sweep's grid does not hold the default".into();
        };
        if p.recall < DEFAULTS_TARGET {
            return format!(
                "**below the target**: recall {:.4} < {DEFAULTS_TARGET}",
                p.recall
            );
        }
        let Some(b) = &self.best else {
            return "no point reaches the target".into();
        };
        if self.is_best() {
            return format!(
                "**the best trade-off**: the fastest point at recall >= {DEFAULTS_TARGET}"
            );
        }
        let share = 100.0 * p.qps / b.qps.max(f64::MIN_POSITIVE);
        let mut v = if share >= 90.0 {
            format!(
                "**the best trade-off within noise**: {share:.0}% of the fastest point's QPS at recall >= {DEFAULTS_TARGET}"
            )
        } else {
            format!(
                "**not the fastest** at recall >= {DEFAULTS_TARGET} here: {share:.0}% of the fastest point's QPS, \
                 with {:+.4} recall of margin over it",
                p.recall - b.recall
            )
        };
        if let Some(d) = &self.best_on_default_build {
            if d.params != p.params && d.params != b.params {
                let _ = write!(
                    v,
                    "; on the default build the fastest is {} ({:.4}, {:.0} QPS)",
                    search_text(d, &self.params),
                    d.recall,
                    d.qps
                );
            }
        }
        v
    }
}

fn matches(p: &Point, want: &Params) -> bool {
    want.iter().all(|(k, v)| p.params.get(k) == Some(v))
}

fn search_text(p: &Point, default: &Params) -> String {
    p.params
        .iter()
        .filter(|(k, _)| default.contains_key(*k))
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Places the index layer's defaults ([`index_defaults`] for the run's dataset) among the vsearch points.
pub fn check_defaults(r: &Results) -> Vec<DefaultCheck> {
    index_defaults(r.dataset.n_base, r.dataset.dim)
        .into_iter()
        .map(|(index, build, search)| {
            let ours: Vec<&Point> = r
                .points
                .iter()
                .filter(|p| {
                    p.library == "vsearch" && p.index == index && p.mode != Some(QueryMode::Batch)
                })
                .collect();
            let mut params = build.clone();
            params.extend(search);
            let fastest = |pred: &dyn Fn(&Point) -> bool| {
                ours.iter()
                    .filter(|p| p.recall >= DEFAULTS_TARGET && pred(p))
                    .max_by(|a, b| a.qps.total_cmp(&b.qps))
                    .map(|p| (*p).clone())
            };
            DefaultCheck {
                index: index.to_string(),
                point: ours
                    .iter()
                    .find(|p| matches(p, &params))
                    .map(|p| (*p).clone()),
                best: fastest(&|_| true),
                best_on_default_build: fastest(&|p| matches(p, &build)),
                params,
            }
        })
        .collect()
}

fn params_text(p: &Params) -> String {
    p.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn defaults_section(s: &mut String, r: &Results) {
    let checks = check_defaults(r);
    if checks.iter().all(|c| c.point.is_none() && c.best.is_none()) {
        return;
    }
    let _ = writeln!(
        s,
        "## Index defaults at recall@{} >= {DEFAULTS_TARGET}
",
        r.k
    );
    let _ = writeln!(
        s,
        "The defaults of `vsearch-index` (constants in `crates/index/src/hnsw/mod.rs` and `crates/index/src/ivf/mod.rs`, nlist for {} vectors) \
         against the fastest vsearch point of the same kind that reaches the target.\n",
        r.dataset.n_base
    );
    let _ = writeln!(
        s,
        "| index | default | recall | QPS | build s | fastest at recall >= {DEFAULTS_TARGET} | recall | QPS | build s | verdict |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|");
    for c in &checks {
        let (pr, pq, pb) = match &c.point {
            Some(p) => (
                format!("{:.4}", p.recall),
                format!("{:.0}", p.qps),
                format!("{:.1}", p.build_s),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        let (bp, br, bq, bb) = match &c.best {
            Some(b) => (
                b.params_text(),
                format!("{:.4}", b.recall),
                format!("{:.0}", b.qps),
                format!("{:.1}", b.build_s),
            ),
            None => ("not reached".into(), "-".into(), "-".into(), "-".into()),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {pr} | {pq} | {pb} | {bp} | {br} | {bq} | {bb} | {} |",
            c.index,
            params_text(&c.params),
            c.verdict()
        );
    }
    s.push('\n');
}

/// A latency as the report prints it (`-` for batched points, which have none).
fn latency_text(p: &Point, ms: f64) -> String {
    if p.mode == Some(QueryMode::Batch) {
        "-".into()
    } else {
        format!("{ms:.3}")
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
}

/// A point's memory in MiB: what the search structure holds; for quantised codes re-ranked exactly, then
/// the whole with the kept vectors, `codes (total with re-rank vectors)`; and `+N mapped` for the full
/// vectors a quantized HNSW index maps from disk instead of holding.
fn memory_text(p: &Point) -> String {
    let held = match p.rerank_bytes {
        Some(r) if r > 0 => format!(
            "{} ({} with re-rank vectors)",
            mib(p.memory_bytes.saturating_sub(r)),
            mib(p.memory_bytes)
        ),
        _ => mib(p.memory_bytes),
    };
    match p.mapped_bytes {
        Some(mapped) => format!("{held} (+{} mapped)", mib(mapped)),
        None => held,
    }
}

/// The Markdown report: dataset, machine, grids, summary table and every point.
pub fn markdown(r: &Results) -> String {
    let mut s = String::new();
    let d = &r.dataset;
    let _ = writeln!(s, "# vsearch bench: {}\n", d.name);
    let _ = writeln!(
        s,
        "- Dataset: {} ({} base vectors, {} queries, {}-d, {})\n- Ground truth: {}\n- Machine: {} ({} cores)\n- Threads: {}\n- k: {}\n- Date: {}\n",
        d.name, d.n_base, d.n_queries, d.dim, d.metric, d.ground_truth, r.machine.cpu, r.machine.cores, r.threads, r.k, r.date
    );
    if let Some(simd) = &r.machine.simd {
        let _ = writeln!(s, "- SIMD: {simd}");
    }
    if let Some(blas) = &r.machine.blas {
        let _ = writeln!(s, "- BLAS (FAISS): {blas}");
    }
    if r.machine.simd.is_some() || r.machine.blas.is_some() {
        s.push('\n');
    }
    if !r.grids.is_empty() {
        let _ = writeln!(s, "## Parameter grids\n");
        for (k, g) in &r.grids {
            let _ = writeln!(s, "- **{k}**: {g}");
        }
        s.push('\n');
    }
    let _ = writeln!(s, "## Best QPS at a recall@{} target\n", r.k);
    let _ = writeln!(s, "| series | recall >= | QPS | recall | p50 ms | p99 ms | build s | memory MiB | parameters |");
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
    for b in summary(&r.points) {
        match &b.point {
            Some(p) => {
                let _ = writeln!(
                    s,
                    "| {} | {:.2} | {:.0} | {:.4} | {} | {} | {:.1} | {} | {} |",
                    b.series,
                    b.threshold,
                    p.qps,
                    p.recall,
                    latency_text(p, p.p50_ms),
                    latency_text(p, p.p99_ms),
                    p.build_s,
                    memory_text(p),
                    p.params_text()
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "| {} | {:.2} | not reached | | | | | | |",
                    b.series, b.threshold
                );
            }
        }
    }
    s.push('\n');
    defaults_section(&mut s, r);
    let _ = writeln!(s, "## All points\n");
    let _ = writeln!(
        s,
        "| series | parameters | recall | QPS | p50 ms | p95 ms | p99 ms | build s | disk MiB | memory MiB | RSS delta MiB |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|");
    let mut pts: Vec<&Point> = r.points.iter().collect();
    pts.sort_by(|a, b| {
        a.series()
            .cmp(&b.series())
            .then(a.recall.total_cmp(&b.recall))
    });
    for p in pts {
        let _ = writeln!(
            s,
            "| {} | {} | {:.4} | {:.0} | {} | {} | {} | {:.2} | {} | {} | {} |",
            p.series(),
            p.params_text(),
            p.recall,
            p.qps,
            latency_text(p, p.p50_ms),
            latency_text(p, p.p95_ms),
            latency_text(p, p.p99_ms),
            p.build_s,
            mib(p.disk_bytes),
            memory_text(p),
            p.rss_delta_bytes.map(mib).unwrap_or_else(|| "-".into())
        );
    }
    let _ = writeln!(
        s,
        "\nModes: `single` is one query per call, the calls spread over {} threads (QPS: all queries once, wall \
         clock; latency: per call); `batch` is all queries in one call parallelised by the library over the same \
         threads (QPS only). Series without a mode come from files written before modes were measured. \
         Memory: the index's own estimate, an HNSW index as served (opened for search only); for quantised \
         IVF codes (ivf-pq, ivf-sq8, ivf-pq4fs) the first figure is the codes, lists and quantisers, and the one \
         in parentheses adds the full-precision vectors kept to re-rank candidates exactly; `+N mapped`: the full \
         vectors a quantized HNSW index (hnsw-int8) maps from disk and reads only to re-score; RSS delta: growth \
         of the process's resident set during the build \
         (0 when freed memory was reused).",
        r.threads
    );
    s
}
