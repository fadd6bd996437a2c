//! The neural-embedding set on real data: Fashion-MNIST's images through the real EfficientNet-Lite0 weights
//! (fetched into vsearch's model cache when missing, as `vsearch models fetch` does). Its vectors are unit
//! length, its ground truth is exact, and its cache is reused, and made again when missing or damaged.

use std::path::Path;
use vsearch_bench::dataset::{self, Dataset, DatasetSpec};
use vsearch_bench::groundtruth;
use vsearch_bench::neural_set::{NeuralSpec, Origin, FULL_BASE, NAME};
use vsearch_index::eval::FASHION_MNIST_DIR;
use vsearch_index::Metric;

const K: usize = 10;
/// Base images of the test's set (and 10 queries: ceil(60 / 6)).
const BASE: usize = 60;

fn load(root: &Path) -> (Dataset, Origin) {
    assert!(
        Path::new(FASHION_MNIST_DIR).join("t10k-images-idx3-ubyte.gz").exists(),
        "Fashion-MNIST is not installed at {FASHION_MNIST_DIR}; install Debian's dataset-fashion-mnist"
    );
    dataset::load_neural(&NeuralSpec::new(BASE), root, false).expect("the neural-embedding set")
}

/// The `k` base ids of the highest dot products with query `q`, best first (ties: the lower id first).
fn brute_force(ds: &Dataset, q: usize, k: usize) -> Vec<u64> {
    let query = &ds.queries[q * ds.dim..(q + 1) * ds.dim];
    let mut scored: Vec<(f32, u64)> = ds
        .base
        .chunks(ds.dim)
        .zip(&ds.ids)
        .map(|(row, &id)| (row.iter().zip(query).map(|(a, b)| a * b).sum(), id))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(k).map(|(_, id)| id).collect()
}

#[test]
fn the_spec_names_the_set_and_its_size() {
    assert_eq!(
        "lite0-fashion-mnist".parse::<DatasetSpec>().expect("full"),
        DatasetSpec::Lite0FashionMnist { base: FULL_BASE }
    );
    assert_eq!(
        "lite0-fashion-mnist:120"
            .parse::<DatasetSpec>()
            .expect("120"),
        DatasetSpec::Lite0FashionMnist { base: 120 }
    );
    assert_eq!(NeuralSpec::new(FULL_BASE).queries(), 10_000);
    assert_eq!(NeuralSpec::new(BASE).queries(), 10);
}

#[test]
fn the_set_is_unit_length_with_exact_ground_truth_and_a_cache_reused_and_made_again() {
    let root = tempfile::tempdir().expect("tempdir");
    let (ds, origin) = load(root.path());
    assert_eq!(
        origin,
        Origin::Embedded,
        "an empty cache: the set is embedded"
    );
    assert_eq!(
        (ds.n_base(), ds.n_queries(), ds.dim, ds.metric),
        (BASE, 10, 1280, Metric::Cosine)
    );
    assert_eq!(ds.name, format!("{NAME}-{BASE}"));
    for (i, row) in ds
        .base
        .chunks(ds.dim)
        .chain(ds.queries.chunks(ds.dim))
        .enumerate()
    {
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "row {i} has length {norm}");
    }
    // Different images, different vectors: the model ran on the pixels.
    assert_ne!(ds.base[..ds.dim], ds.base[ds.dim..2 * ds.dim]);

    // Exact ground truth (the bench's, cached in the set's folder) equals a brute-force search.
    let (truth, source) = groundtruth::ground_truth(&ds, K, root.path()).expect("ground truth");
    assert_eq!(truth.len(), ds.n_queries());
    let home = ds.home.clone().expect("the set's folder");
    assert!(source.contains(&home.display().to_string()), "{source}");
    for q in [0, 4, 9] {
        assert_eq!(truth[q], brute_force(&ds, q, K), "query {q}");
    }

    // The second load reads the cache: nothing embedded, the same vectors.
    let (again, origin) = load(root.path());
    assert_eq!(origin, Origin::Cached);
    assert_eq!(
        (again.base.as_slice(), again.queries.as_slice()),
        (ds.base.as_slice(), ds.queries.as_slice())
    );
    assert_eq!(again.home.as_deref(), Some(home.as_path()));

    // A damaged file (cut in half) is noticed and the set is made again, with the same vectors.
    let base_file = home.join("base.fvecs");
    let bytes = std::fs::read(&base_file).expect("base.fvecs");
    std::fs::write(&base_file, &bytes[..bytes.len() / 2]).expect("damage");
    let (remade, origin) = load(root.path());
    assert_eq!(origin, Origin::Embedded, "a damaged cache is made again");
    let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5);
    assert!(close(&remade.base, &ds.base) && close(&remade.queries, &ds.queries));
    assert_eq!(
        load(root.path()).1,
        Origin::Cached,
        "the remade cache is read back"
    );

    // A missing folder is made again.
    std::fs::remove_dir_all(&home).expect("remove the set");
    let (_, origin) = load(root.path());
    assert_eq!(origin, Origin::Embedded, "a missing cache is made again");
    // One folder per set: no temporary folder left behind.
    let entries: Vec<String> = std::fs::read_dir(root.path())
        .expect("cache root")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') || n.starts_with(NAME))
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
}

/// Base images of the quantization check (and 200 queries).
const QUANTIZED_BASE: usize = 1_200;

/// On the neural-embedding set (real Lite0 embeddings, unit length, cosine), the int8 HNSW walk re-scored by
/// the full vectors keeps recall@10 within 0.01 of the f32 walk at the same M, ef_construction and ef_search.
#[test]
fn int8_hnsw_recall_is_within_0_01_of_f32_on_the_neural_set() {
    use vsearch_index::hnsw::HnswIndex;
    use vsearch_index::{HnswParams, Quantization, SearchParams, VectorIndex};
    let root = tempfile::tempdir().expect("tempdir");
    let (ds, _) = dataset::load_neural(&NeuralSpec::new(QUANTIZED_BASE), root.path(), false)
        .expect("the neural-embedding set");
    let (truth, _) = groundtruth::ground_truth(&ds, K, root.path()).expect("ground truth");
    // One graph searched both ways: what differs is the walk over codes, not the graph.
    let mut index = HnswIndex::build(&HnswParams::default(), ds.dim, ds.metric, &ds.ids, &ds.base)
        .expect("HNSW");
    let recall = |index: &HnswIndex, ef: usize| {
        let p = SearchParams {
            ef_search: Some(ef),
            ..Default::default()
        };
        let found: Vec<Vec<u64>> = ds
            .queries
            .chunks(ds.dim)
            .map(|q| {
                index
                    .search(q, K, &p)
                    .expect("search")
                    .iter()
                    .map(|h| h.id)
                    .collect()
            })
            .collect();
        vsearch_index::eval::recall_at_k(&found, &truth, K)
    };
    let efs = [10, 16, 32, 64];
    let full: Vec<f64> = efs.iter().map(|&ef| recall(&index, ef)).collect();
    index
        .set_quantization(Some(Quantization::Int8))
        .expect("int8 codes");
    for (&ef, &r_full) in efs.iter().zip(&full) {
        let r_int8 = recall(&index, ef);
        eprintln!(
            "[{}] ef {ef}: recall@10 f32 {r_full:.4}, int8 {r_int8:.4}",
            ds.name
        );
        assert!(
            r_int8 >= r_full - 0.01,
            "ef {ef}: int8 recall {r_int8} more than 0.01 below f32 {r_full}"
        );
    }
}
