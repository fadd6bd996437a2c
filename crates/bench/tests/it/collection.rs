//! `--dataset collection:PATH`: a real collection (EfficientNet-Lite0 embeddings of ukbench photos, built by
//! the engine) benchmarked with queries held out of its base, and the hold-out split itself.
//!
//! The Lite0 weights must be in the model cache (`vsearch models fetch efficientnet-lite0`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use vsearch_bench::collection::{self, holdout};
use vsearch_bench::{BenchOptions, DatasetSpec, Results};
use vsearch_engine::{IndexKind, IndexOptions, ModelSpec};

/// The test photos: `../shared/data/ukbench-14` (14 objects x 4 views).
fn ukbench() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/ukbench-14")
}

#[test]
fn holdout_removes_a_seeded_sample_from_the_base() {
    let dim = 3;
    let ids: Vec<u64> = (0..100).map(|i| 1000 + 7 * i).collect();
    // Row i holds (id, -id, 0.5) so every vector names its id.
    let matrix: Vec<f32> = ids
        .iter()
        .flat_map(|&id| [id as f32, -(id as f32), 0.5])
        .collect();
    let s = holdout(&ids, &matrix, dim, 10);
    assert_eq!((s.base_ids.len(), s.query_ids.len()), (90, 10));
    assert_eq!((s.base.len(), s.queries.len()), (90 * dim, 10 * dim));
    // Disjoint, together all ids, each vector still beside its id, ids ascending.
    let base: HashSet<u64> = s.base_ids.iter().copied().collect();
    assert!(s.query_ids.iter().all(|q| !base.contains(q)));
    let mut all: Vec<u64> = s.base_ids.iter().chain(&s.query_ids).copied().collect();
    all.sort_unstable();
    assert_eq!(all, ids);
    for (id, v) in s.base_ids.iter().zip(s.base.chunks(dim)) {
        assert_eq!(v, [*id as f32, -(*id as f32), 0.5]);
    }
    for (id, v) in s.query_ids.iter().zip(s.queries.chunks(dim)) {
        assert_eq!(v, [*id as f32, -(*id as f32), 0.5]);
    }
    assert!(s.query_ids.windows(2).all(|w| w[0] < w[1]));
    // A sample, not a block: the queries are not the first or last rows.
    assert_ne!(s.query_ids, ids[..10].to_vec());
    assert_ne!(s.query_ids, ids[90..].to_vec());
    // Deterministic.
    assert_eq!(holdout(&ids, &matrix, dim, 10), s);
    // At most half of the rows, at least one.
    assert_eq!(holdout(&ids, &matrix, dim, 1000).query_ids.len(), 50);
    assert_eq!(holdout(&ids, &matrix, dim, 0).query_ids.len(), 1);
    assert_eq!(
        holdout(&ids[..2], &matrix[..2 * dim], dim, 5)
            .query_ids
            .len(),
        1
    );
}

#[test]
fn not_a_collection_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = vsearch_bench::dataset::load(&DatasetSpec::Collection(dir.path().into()), 10)
        .expect_err("an empty folder is not a collection");
    assert!(err.to_string().contains("vsearch index"), "{err}");
}

#[test]
fn a_real_collection_is_benchmarked_with_held_out_queries() {
    const PHOTOS: usize = 16;
    const QUERIES: usize = 4;
    const K: usize = 5;
    let folder = tempfile::tempdir().expect("tempdir");
    for i in 0..PHOTOS {
        let name = format!("ukbench{i:05}.jpg");
        std::fs::copy(ukbench().join(&name), folder.path().join(&name)).expect("copy test photo");
    }
    let report = vsearch_engine::index_folder(
        folder.path(),
        &IndexOptions {
            model: ModelSpec::Preset("efficientnet-lite0".into()),
            indexes: vec![IndexKind::Flat],
            threads: 2,
            ..Default::default()
        },
    )
    .expect("index the photos with Lite0 (are its weights cached? `vsearch models fetch efficientnet-lite0`)");
    assert_eq!(report.indexed, PHOTOS);

    // The folder and its .vsearch give the same embeddings.
    let (ids, matrix, dim, metric) = collection::embeddings(folder.path()).expect("embeddings");
    let inner = collection::embeddings(&folder.path().join(".vsearch")).expect("via .vsearch");
    assert_eq!(inner, (ids.clone(), matrix.clone(), dim, metric));
    assert_eq!((ids.len(), dim), (PHOTOS, 1280));
    assert_eq!(metric, vsearch_engine::Metric::Cosine);

    let out = tempfile::tempdir().expect("tempdir");
    let opts = BenchOptions {
        dataset: format!("collection:{}", folder.path().display())
            .parse()
            .expect("spec"),
        k: K,
        queries: Some(QUERIES),
        threads: 2,
        out: out.path().to_path_buf(),
        quick: true,
        min_pass_seconds: 0.0,
        only: Vec::new(),
        progress: false,
        qdrant: None,
    };
    let ds = vsearch_bench::load_dataset(&opts).expect("dataset");
    assert_eq!((ds.n_base(), ds.n_queries()), (PHOTOS - QUERIES, QUERIES));
    // Every held-out query is a stored vector whose id left the base.
    let split = holdout(&ids, &matrix, dim, QUERIES);
    assert_eq!(ds.ids, split.base_ids);
    assert_eq!(ds.queries, split.queries);

    let r = vsearch_bench::run(&opts).expect("bench the collection");
    assert_eq!(r.dataset.metric, "cosine");
    assert_eq!(
        (r.dataset.n_base, r.dataset.n_queries, r.dataset.dim),
        (12, 4, 1280)
    );
    let flat = r
        .points
        .iter()
        .find(|p| p.index == "flat")
        .expect("flat point");
    assert_eq!(flat.recall, 1.0);
    for kind in ["hnsw", "ivf-flat", "ivf-pq", "ivf-sq8"] {
        assert!(
            r.points.iter().any(|p| p.index == kind),
            "{kind} measured on a 12-vector base"
        );
    }
    let written = Results::read(&out.path().join("results.json")).expect("json");
    assert_eq!(
        (&written.dataset, written.points.len()),
        (&r.dataset, r.points.len())
    );
    let md = std::fs::read_to_string(out.path().join("report.md")).expect("report");
    assert!(md.contains("## Index defaults at recall@5 >= 0.95"), "{md}");
    for f in ["recall_qps.svg", "recall_qps.png"] {
        assert!(out.path().join(f).is_file(), "{f} written");
    }
    // The ground truth was cached in the collection folder under a content fingerprint.
    let cached: Vec<String> = std::fs::read_dir(folder.path().join(".vsearch"))
        .expect("collection dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".ivecs"))
        .collect();
    let fp = collection::fingerprint(&ids, &matrix);
    assert!(
        cached.iter().any(|n| n.contains(&fp)),
        "{cached:?} names {fp}"
    );
}
