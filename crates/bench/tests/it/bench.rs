//! The bench measures what it claims: recall is exact (1.0 for exact search, the expected lower value for a
//! deliberately broken index), and every output file is written and valid.

use indicatif::ProgressBar;
use std::path::Path;
use vsearch_bench::dataset::{self, Dataset, DatasetSpec};
use vsearch_bench::measure::{self, percentile};
use vsearch_bench::sweep::{self, Build, BuildCost, Workload};
use vsearch_bench::{report, BenchOptions, Grid, QueryMode, Results};
use vsearch_index::eval::{recall_at_k, FASHION_MNIST_DIR};
use vsearch_index::{Hit, IndexConfig, Metric, SearchParams, VectorIndex};

const K: usize = 10;

fn synthetic(n: usize, queries: usize) -> Dataset {
    dataset::load(
        &DatasetSpec::Synthetic {
            n,
            dim: 16,
            clusters: 8,
        },
        queries,
    )
    .expect("synthetic data")
}

/// A quick-grid run on `synthetic:N,DIM,CLUSTERS` with `queries` queries, k = [`K`], two threads, into `out`.
fn quick_synthetic_options(
    n: usize,
    dim: usize,
    clusters: usize,
    queries: usize,
    out: std::path::PathBuf,
) -> BenchOptions {
    BenchOptions {
        dataset: DatasetSpec::Synthetic { n, dim, clusters },
        k: K,
        queries: Some(queries),
        threads: 2,
        out,
        quick: true,
        min_pass_seconds: 0.0,
        only: Vec::new(),
        progress: false,
        qdrant: None,
    }
}

fn l2(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Brute force written independently of the index crate: sort every base row by distance.
fn naive_truth(ds: &Dataset, k: usize) -> Vec<Vec<u64>> {
    ds.queries
        .chunks(ds.dim)
        .map(|q| {
            let mut d: Vec<(f32, u64)> = ds
                .base
                .chunks(ds.dim)
                .zip(&ds.ids)
                .map(|(v, id)| (l2(q, v), *id))
                .collect();
            d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            d.into_iter().take(k).map(|(_, id)| id).collect()
        })
        .collect()
}

/// A test index: exact search by brute force, optionally broken on purpose.
struct TestIndex {
    dim: usize,
    ids: Vec<u64>,
    base: Vec<f32>,
    breakage: Breakage,
}

#[derive(Clone, Copy)]
enum Breakage {
    None,
    /// Drops the best result (and returns the k+1-th in its place at the end).
    DropTop,
    /// Returns ids that are not in the index for queries whose first component is in `poisoned`.
    WrongIdsFor(&'static std::sync::OnceLock<Vec<u32>>),
}

impl VectorIndex for TestIndex {
    fn dim(&self) -> usize {
        self.dim
    }
    fn metric(&self) -> Metric {
        Metric::L2
    }
    fn len(&self) -> usize {
        self.ids.len()
    }
    fn config(&self) -> IndexConfig {
        IndexConfig::Flat
    }
    fn memory_bytes(&self) -> usize {
        self.base.len() * 4 + self.ids.len() * 8
    }
    fn add(&mut self, _ids: &[u64], _vectors: &[f32]) -> vsearch_index::Result<()> {
        unreachable!("not used by the bench")
    }
    fn remove(&mut self, _ids: &[u64]) -> vsearch_index::Result<()> {
        unreachable!("not used by the bench")
    }
    fn search(&self, q: &[f32], k: usize, _p: &SearchParams) -> vsearch_index::Result<Vec<Hit>> {
        let mut d: Vec<Hit> = self
            .base
            .chunks(self.dim)
            .zip(&self.ids)
            .map(|(v, id)| Hit {
                id: *id,
                score: l2(q, v),
            })
            .collect();
        d.sort_by(|a, b| a.score.total_cmp(&b.score).then(a.id.cmp(&b.id)));
        Ok(match self.breakage {
            Breakage::None => d.into_iter().take(k).collect(),
            Breakage::DropTop => d.into_iter().skip(1).take(k).collect(),
            Breakage::WrongIdsFor(set) => {
                if set.get().is_some_and(|s| s.contains(&q[0].to_bits())) {
                    (0..k as u64)
                        .map(|i| Hit {
                            id: 1_000_000 + i,
                            score: 0.0,
                        })
                        .collect()
                } else {
                    d.into_iter().take(k).collect()
                }
            }
        })
    }
    fn search_filtered(
        &self,
        _q: &[f32],
        _k: usize,
        _p: &SearchParams,
        _filter: &vsearch_index::IdFilter,
    ) -> vsearch_index::Result<Vec<Hit>> {
        unreachable!("not used by the bench")
    }
    fn search_batch(
        &self,
        qs: &[f32],
        k: usize,
        p: &SearchParams,
    ) -> vsearch_index::Result<Vec<Vec<Hit>>> {
        qs.chunks(self.dim).map(|q| self.search(q, k, p)).collect()
    }
    fn save(&self, dir: &Path) -> vsearch_index::Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| vsearch_index::IndexError::Io {
            path: dir.into(),
            source: e,
        })?;
        let bytes: Vec<u8> = self.base.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(dir.join("vectors.bin"), bytes).map_err(|e| vsearch_index::IndexError::Io {
            path: dir.into(),
            source: e,
        })
    }
}

fn test_index(ds: &Dataset, breakage: Breakage) -> TestIndex {
    TestIndex {
        dim: ds.dim,
        ids: ds.ids.clone(),
        base: ds.base.clone(),
        breakage,
    }
}

fn flat_build() -> Build {
    Build {
        index: "flat",
        config: IndexConfig::Flat,
        params: Default::default(),
        searches: vec![(SearchParams::default(), Default::default())],
    }
}

fn measure(
    index: &dyn VectorIndex,
    ds: &Dataset,
    truth: &[Vec<u64>],
    threads: usize,
) -> vsearch_bench::Point {
    let pool = measure::pool(threads).expect("pool");
    let cost = BuildCost {
        build_s: 0.5,
        memory_bytes: index.memory_bytes() as u64,
        rerank_bytes: index.rerank_bytes() as u64,
        disk_bytes: measure::disk_bytes(index).expect("disk"),
        rss_delta_bytes: None,
        mapped_bytes: None,
    };
    let work = Workload {
        ds,
        truth,
        k: K,
        pool: &pool,
        progress: &ProgressBar::hidden(),
        min_pass_seconds: 0.0,
    };
    let mut pts = sweep::measure_index(index, &flat_build(), cost, &work).expect("measure");
    // One point per mode: one query per call, then all queries in one batched call.
    assert_eq!(pts.len(), 2);
    assert_eq!(pts[0].mode, Some(QueryMode::Single));
    assert_eq!(pts[1].mode, Some(QueryMode::Batch));
    assert_eq!(pts[0].recall, pts[1].recall, "both modes find the same ids");
    assert!(pts[1].qps > 0.0);
    pts.remove(0)
}

#[test]
fn percentiles_use_nearest_rank() {
    let v: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(percentile(&v, 50.0), 50.0);
    assert_eq!(percentile(&v, 95.0), 95.0);
    assert_eq!(percentile(&v, 99.0), 99.0);
    assert_eq!(percentile(&[3.0], 99.0), 3.0);
}

#[test]
fn exact_search_has_recall_one_and_broken_indexes_the_expected_value() {
    let ds = synthetic(3000, 200);
    let truth = naive_truth(&ds, K);
    for threads in [1, 2] {
        let p = measure(&test_index(&ds, Breakage::None), &ds, &truth, threads);
        assert_eq!(p.recall, 1.0);
        assert!(p.qps > 0.0 && p.p50_ms <= p.p95_ms && p.p95_ms <= p.p99_ms);
        assert_eq!(p.disk_bytes, (ds.base.len() * 4) as u64);
    }
    // Dropping the top hit leaves 9 of the 10 true neighbours: 0.9 exactly.
    let p = measure(&test_index(&ds, Breakage::DropTop), &ds, &truth, 2);
    assert_eq!(p.recall, 0.9);
    // Wrong ids for every other query: half the queries score 0, half 1.
    static POISON: std::sync::OnceLock<Vec<u32>> = std::sync::OnceLock::new();
    let poisoned: Vec<u32> = ds
        .queries
        .chunks(ds.dim)
        .step_by(2)
        .map(|q| q[0].to_bits())
        .collect();
    let distinct: std::collections::HashSet<u32> =
        ds.queries.chunks(ds.dim).map(|q| q[0].to_bits()).collect();
    assert_eq!(
        distinct.len(),
        ds.n_queries(),
        "first components identify the queries"
    );
    POISON.get_or_init(|| poisoned);
    let p = measure(
        &test_index(&ds, Breakage::WrongIdsFor(&POISON)),
        &ds,
        &truth,
        2,
    );
    assert_eq!(p.recall, 0.5);
}

#[test]
fn flat_index_ground_truth_matches_brute_force_and_scores_one() {
    let ds = synthetic(3000, 200);
    let truth = naive_truth(&ds, K);
    let gt = vsearch_bench::groundtruth::exact(&ds, K).expect("flat ground truth");
    assert_eq!(recall_at_k(&gt, &truth, K), 1.0);
    let flat = vsearch_index::build(&IndexConfig::Flat, ds.dim, ds.metric, &ds.ids, &ds.base)
        .expect("flat");
    let p = measure(flat.as_ref(), &ds, &truth, 2);
    assert_eq!(p.recall, 1.0);
}

#[test]
fn ground_truth_is_cached_and_reused() {
    let ds = synthetic(2000, 50);
    let dir = tempfile::tempdir().expect("tempdir");
    let (gt1, src1) = vsearch_bench::ground_truth(&ds, K, dir.path()).expect("gt");
    assert!(src1.starts_with("exact"), "{src1}");
    let cached = vsearch_bench::groundtruth::cache_path(&ds, K, &dir.path().join("cache"));
    assert!(cached.exists(), "cache at {}", cached.display());
    let (gt2, src2) = vsearch_bench::ground_truth(&ds, K, dir.path()).expect("gt again");
    assert!(src2.starts_with("cache"), "{src2}");
    assert_eq!(gt1, gt2);
    assert_eq!(recall_at_k(&gt1, &naive_truth(&ds, K), K), 1.0);
}

fn sample_results(ds: &Dataset) -> Results {
    let truth = naive_truth(ds, K);
    let mut a = measure(&test_index(ds, Breakage::None), ds, &truth, 2);
    let mut b = measure(&test_index(ds, Breakage::DropTop), ds, &truth, 2);
    a.index = "flat".into();
    b.index = "hnsw".into();
    b.params.insert("ef_search".into(), serde_json::json!(10));
    let mut c = b.clone();
    c.library = "faiss".into();
    c.qps *= 3.0;
    Results {
        schema: report::SCHEMA,
        dataset: report::DatasetInfo::of(ds, "test"),
        machine: report::Machine {
            cpu: "test cpu".into(),
            cores: 2,
            simd: None,
            blas: None,
        },
        threads: 2,
        k: K,
        date: measure::utc_now(),
        grids: vsearch_bench::Grid::quick(ds.n_base(), ds.dim).describe(),
        points: vec![a, b, c],
    }
}

fn check_outputs(dir: &Path, expected_points: usize) -> Results {
    let r = Results::read(&dir.join("results.json")).expect("results.json parses");
    assert_eq!(r.points.len(), expected_points);
    let md = std::fs::read_to_string(dir.join("report.md")).expect("report.md");
    assert!(md.contains("## Best QPS at a recall@10 target"), "{md}");
    assert!(md.contains("| vsearch/flat single | 0.99 |"), "{md}");
    assert!(md.contains("Modes: `single`"), "{md}");
    let svg = std::fs::read_to_string(dir.join("recall_qps.svg")).expect("svg");
    assert!(
        svg.trim_start().starts_with("<svg") || svg.contains("<svg "),
        "SVG root"
    );
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(
        svg.contains("vsearch/flat single"),
        "legend names the series"
    );
    assert!(svg.contains("recall 0.95 target"), "the target is marked");
    let png = std::fs::read(dir.join("recall_qps.png")).expect("png");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let img = image::load_from_memory(&png).expect("PNG decodes");
    assert_eq!((img.width(), img.height()), (1240, 650));
    r
}

#[test]
fn outputs_are_written_and_valid_and_compare_merges() {
    let ds = synthetic(1000, 50);
    let results = sample_results(&ds);
    let dir = tempfile::tempdir().expect("tempdir");
    vsearch_bench::write_outputs(&results, dir.path()).expect("write outputs");
    let r = check_outputs(dir.path(), 3);
    assert_eq!(r, results);
    // Summary: flat reaches 0.99, the broken "hnsw" only 0.90; faiss/hnsw at 0.90 is 3x faster.
    let s = report::summary(&r.points);
    let get = |series: &str, t: f64| {
        s.iter()
            .find(|b| b.series == series && b.threshold == t)
            .expect("cell")
            .point
            .clone()
    };
    assert!(get("vsearch/flat single", 0.99).is_some());
    assert!(get("vsearch/hnsw single", 0.95).is_none());
    assert_eq!(
        get("vsearch/hnsw single", 0.90).map(|p| p.recall),
        Some(0.9)
    );
    // A peer file merged with --compare.
    let mut peer = results.clone();
    peer.points.retain(|p| p.library == "faiss");
    let peer_file = dir.path().join("peer.json");
    peer.write(&peer_file).expect("write peer");
    let mut merged = results.clone();
    let warnings = vsearch_bench::compare(&mut merged, &[peer_file]).expect("compare");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(merged.points.len(), 4);
    let out2 = dir.path().join("merged");
    vsearch_bench::write_outputs(&merged, &out2).expect("write merged");
    check_outputs(&out2, 4);
}

#[test]
fn export_writes_readable_fvecs_and_ground_truth() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = quick_synthetic_options(1500, 16, 8, 40, dir.path().join("out"));
    let ds = vsearch_bench::export_dataset(&opts, &dir.path().join("exp")).expect("export");
    let spec: DatasetSpec = format!(
        "fvecs:{},{},{}",
        dir.path().join("exp/base.fvecs").display(),
        dir.path().join("exp/query.fvecs").display(),
        dir.path().join("exp/gt.ivecs").display()
    )
    .parse()
    .expect("spec");
    let back = dataset::load(&spec, 0).expect("reload");
    assert_eq!(back.base, ds.base);
    assert_eq!(back.queries, ds.queries);
    assert_eq!(back.ground_truth, Some(naive_truth(&ds, K)));
}

#[test]
fn dataset_specs_parse_and_bad_ones_are_explained() {
    assert_eq!(
        "fashion-mnist".parse::<DatasetSpec>().expect("fm"),
        DatasetSpec::FashionMnist(FASHION_MNIST_DIR.into())
    );
    assert_eq!(
        "synthetic:10,4,2".parse::<DatasetSpec>().expect("syn"),
        DatasetSpec::Synthetic {
            n: 10,
            dim: 4,
            clusters: 2
        }
    );
    for bad in [
        "synthetic:10,4",
        "fvecs:a",
        "mnist",
        "collection:",
        "synthetic:0,4,2",
        "lite0-fashion-mnist:0",
        "lite0-fashion-mnist:60001",
        "lite0-fashion-mnist:x",
    ] {
        let e = bad.parse::<DatasetSpec>().expect_err(bad).to_string();
        assert!(e.contains("bad dataset spec"), "{e}");
        assert!(
            e.ends_with("(use collection:PATH, fashion-mnist[:DIR], fvecs:BASE,QUERY[,GT], lite0-fashion-mnist[:N] or synthetic:N,D,CLUSTERS)"),
            "{e}"
        );
    }
    let e =
        dataset::load(&DatasetSpec::FashionMnist("/nonexistent".into()), 0).expect_err("missing");
    assert!(e.to_string().contains("dataset-fashion-mnist"), "{e}");
}

#[test]
fn fashion_mnist_idx_files_load_with_the_ann_benchmarks_split() {
    let dir = Path::new(FASHION_MNIST_DIR);
    if !dir.join("t10k-images-idx3-ubyte.gz").exists() {
        panic!(
            "Fashion-MNIST is not installed at {}; install Debian's dataset-fashion-mnist",
            dir.display()
        );
    }
    let ds = dataset::load(&DatasetSpec::FashionMnist(dir.into()), 0).expect("fashion-mnist");
    assert_eq!(
        (ds.n_base(), ds.n_queries(), ds.dim, ds.metric),
        (60_000, 10_000, 784, Metric::L2)
    );
    assert!(ds.base.iter().all(|v| (0.0..=255.0).contains(v)));
}

/// The whole pipeline on small synthetic data with the quick grid: every index kind measured, files written.
#[test]
fn quick_run_on_synthetic_data_measures_every_kind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = quick_synthetic_options(3000, 32, 16, 100, dir.path().to_path_buf());
    let r = vsearch_bench::run(&opts).expect("bench run");
    for kind in vsearch_bench::sweep::SWEEP_KINDS {
        assert!(r.points.iter().any(|p| p.index == kind), "{kind} measured");
    }
    // Quantised IVF kinds report the vectors they keep to re-rank apart from their codes.
    for p in &r.points {
        let quantised = ["ivf-pq", "ivf-sq8", "ivf-pq4fs"].contains(&p.index.as_str());
        assert_eq!(
            p.rerank_bytes,
            quantised.then_some((r.dataset.n_base * r.dataset.dim * 4) as u64),
            "{} rerank bytes",
            p.index
        );
    }
    for mode in [QueryMode::Single, QueryMode::Batch] {
        let flat = r
            .points
            .iter()
            .find(|p| p.index == "flat" && p.mode == Some(mode))
            .expect("flat in both modes");
        assert_eq!(flat.recall, 1.0);
    }
    // Every setting is measured in both modes with the same recall (the same ids come back).
    let single: Vec<&vsearch_bench::Point> = r
        .points
        .iter()
        .filter(|p| p.mode == Some(QueryMode::Single))
        .collect();
    let batch: Vec<&vsearch_bench::Point> = r
        .points
        .iter()
        .filter(|p| p.mode == Some(QueryMode::Batch))
        .collect();
    assert_eq!(single.len(), batch.len());
    for (a, b) in single.iter().zip(&batch) {
        assert_eq!((&a.index, &a.params), (&b.index, &b.params));
        assert!(
            (a.recall - b.recall).abs() < 1e-9,
            "{} {:?}: {} vs {}",
            a.index,
            a.params,
            a.recall,
            b.recall
        );
    }
    assert!(r
        .points
        .iter()
        .all(|p| p.disk_bytes > 0 && p.memory_bytes > 0 && p.build_s > 0.0));
    check_outputs(dir.path(), r.points.len());
}

/// The report places the index layer's defaults (read from its constants) among the measured points and says
/// whether they are the fastest at recall >= 0.95.
#[test]
fn report_says_whether_the_defaults_are_the_best_trade_off() {
    use serde_json::json;
    use vsearch_index::hnsw::{DEFAULT_EF_CONSTRUCTION, DEFAULT_EF_SEARCH, DEFAULT_M};
    let ds = synthetic(1000, 50);
    let mut r = sample_results(&ds);
    let hnsw = |ef: usize, recall: f64, qps: f64| {
        let mut p = r.points[0].clone();
        p.index = "hnsw".into();
        p.params = [
            ("M".to_string(), json!(DEFAULT_M)),
            (
                "ef_construction".to_string(),
                json!(DEFAULT_EF_CONSTRUCTION),
            ),
            ("ef_search".to_string(), json!(ef)),
        ]
        .into();
        p.recall = recall;
        p.qps = qps;
        p
    };
    let default = hnsw(DEFAULT_EF_SEARCH, 0.98, 1000.0);
    let smaller = hnsw(DEFAULT_EF_SEARCH / 2, 0.96, 2000.0);
    let too_small = hnsw(DEFAULT_EF_SEARCH / 4, 0.90, 4000.0);
    r.points
        .retain(|p| p.index != "hnsw" || p.library != "vsearch");
    r.points
        .extend([default.clone(), smaller.clone(), too_small.clone()]);
    let find = |r: &Results| {
        report::check_defaults(r)
            .into_iter()
            .find(|c| c.index == "hnsw")
            .expect("hnsw default checked")
    };
    let c = find(&r);
    assert_eq!(c.point.as_ref(), Some(&default));
    assert_eq!(
        c.best.as_ref(),
        Some(&smaller),
        "fastest at >= 0.95, not at 0.90"
    );
    assert!(!c.is_best());
    assert!(c.verdict().contains("not the fastest"), "{}", c.verdict());
    assert!(c.verdict().contains("50%"), "{}", c.verdict());
    // The default made the fastest: the report says it is the best trade-off.
    r.points
        .iter_mut()
        .filter(|p| p.params.get("ef_search") == Some(&json!(DEFAULT_EF_SEARCH)))
        .for_each(|p| p.qps = 3000.0);
    let c = find(&r);
    assert!(c.is_best());
    let md = report::markdown(&r);
    assert!(
        md.contains("## Index defaults at recall@10 >= 0.95"),
        "{md}"
    );
    let row = md
        .lines()
        .find(|l| l.starts_with("| hnsw |"))
        .expect("hnsw defaults row");
    assert!(
        row.contains(&format!("ef_search={DEFAULT_EF_SEARCH}"))
            && row.contains("**the best trade-off**"),
        "{row}"
    );
    // A default the sweep did not measure is said so.
    r.points.retain(|p| p.index != "hnsw");
    r.points.push(too_small);
    assert!(find(&r).verdict().starts_with("not measured"));
}

#[test]
fn grids_always_hold_the_index_defaults() {
    use vsearch_index::{hnsw, ivf};
    for (n, dim) in [(60_000, 784), (20_000, 512), (19, 1280)] {
        for g in [Grid::full(n, dim), Grid::quick(n, dim)] {
            assert!(g
                .hnsw_builds
                .contains(&(hnsw::DEFAULT_M, hnsw::DEFAULT_EF_CONSTRUCTION)));
            assert!(g.ef_search.contains(&hnsw::DEFAULT_EF_SEARCH));
            assert!(g.ivf_flat_nlist.contains(&ivf::default_nlist(n)));
            assert!(g
                .nprobe
                .contains(&ivf::DEFAULT_NPROBE.min(ivf::default_nlist(n))));
            assert!(g.pq.iter().any(|&(m, _)| m == ivf::default_pq_m(dim)));
            assert!(g.ivf_sq8_nlist.contains(&ivf::default_nlist(n)));
            assert!(g.ivf_pq4fs_nlist.contains(&ivf::default_nlist(n)));
            assert!(g.pq4fs_m.contains(&ivf::default_pq4fs_m(dim)));
        }
    }
    assert_eq!(vsearch_bench::sweep::pq_bits(60_000), ivf::DEFAULT_PQ_BITS);
    assert_eq!(vsearch_bench::sweep::pq_bits(19), 4);
}

#[test]
fn best_pass_repeats_until_the_time_is_spent_and_keeps_the_fastest() {
    use vsearch_bench::measure::{best_pass, QueryRun, MAX_PASSES};
    let run = |qps: f64| QueryRun {
        found: vec![vec![qps as u64]],
        qps,
        p50_ms: 1.0 / qps,
        p95_ms: 0.0,
        p99_ms: 0.0,
    };
    // No time asked for: one pass.
    let mut passes = 0;
    let best = best_pass(0.0, || {
        passes += 1;
        Ok(run(10.0))
    })
    .expect("pass");
    assert_eq!((passes, best.qps), (1, 10.0));
    // More time than the passes take: MAX_PASSES passes, the fastest kept whole (its answers and latencies).
    let speeds = [5.0, 30.0, 20.0];
    let mut passes = 0;
    let best = best_pass(3600.0, || {
        passes += 1;
        Ok(run(speeds[(passes - 1) % speeds.len()]))
    })
    .expect("pass");
    assert_eq!(passes, MAX_PASSES);
    assert_eq!(
        (best.qps, best.found.clone(), best.p50_ms),
        (30.0, vec![vec![30]], 1.0 / 30.0)
    );
    // A failing pass is the answer.
    assert!(
        best_pass(3600.0, || Err(vsearch_bench::BenchError::Invalid {
            reason: "no index".into()
        }))
        .is_err()
    );
}
