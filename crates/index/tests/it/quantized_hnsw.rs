//! Quantized HNSW (`HnswParams::quantization = Some(Int8)`): the walk compares int8 codes and the `ef`
//! candidates it ends with are re-scored by their full vectors. Recall stays within 0.01 of the f32 index
//! built with the same parameters (the same graph: hnsw_rs builds it from the full vectors either way) on
//! the recall sets; codes are saved, loaded (to change, and for search with the vectors mapped from their
//! file), follow deletes, adds and filters like the rest of the index.

use crate::common::{
    clustered, clustered_128, clustered_512, fashion_mnist_10k, ground_truth, ids, recall,
    RecallSet,
};
use vsearch_index::hnsw::HnswIndex;
use vsearch_index::{
    load_for_search, Hit, HnswParams, IdFilter, Metric, Quantization, SearchParams, VectorIndex,
};

const K: usize = 10;

fn params(quantization: Option<Quantization>) -> HnswParams {
    HnswParams {
        quantization,
        ..HnswParams::default()
    }
}

fn id_lists(hits: &[Vec<Hit>]) -> Vec<Vec<u64>> {
    hits.iter()
        .map(|h| h.iter().map(|x| x.id).collect())
        .collect()
}

fn search_all(index: &dyn VectorIndex, queries: &[f32], ef: usize) -> Vec<Vec<Hit>> {
    let p = SearchParams {
        ef_search: Some(ef),
        ..Default::default()
    };
    queries
        .chunks(index.dim())
        .map(|q| index.search(q, K, &p).expect("search"))
        .collect()
}

fn check_recall(set: RecallSet) {
    let RecallSet {
        name,
        dim,
        metric,
        base,
        queries,
    } = set;
    let n = base.len() / dim;
    let truth = ground_truth(dim, metric, &base, &queries, K);
    // One graph searched both ways, so that what differs is the walk over codes, not the graph (parallel
    // insertion makes every build's graph a little different).
    let mut index = HnswIndex::build(&params(None), dim, metric, &ids(n), &base).expect("HNSW");
    let efs = [16, 32, 64, 128];
    let full: Vec<f64> = efs
        .iter()
        .map(|&ef| recall(&id_lists(&search_all(&index, &queries, ef)), &truth, K))
        .collect();
    let q = &queries[..dim];
    let p = SearchParams::default();
    let a = index.search(q, K, &p).unwrap();
    index.set_quantization(Some(Quantization::Int8)).unwrap();
    for (&ef, &r_full) in efs.iter().zip(&full) {
        let r_int8 = recall(&id_lists(&search_all(&index, &queries, ef)), &truth, K);
        eprintln!("[{name}] ef {ef}: recall@10 f32 {r_full:.4}, int8 {r_int8:.4}");
        assert!(
            r_int8 >= r_full - 0.01,
            "{name} ef {ef}: int8 recall {r_int8} more than 0.01 below f32 {r_full}"
        );
    }
    // Scores are the full vectors' (re-scored), not the codes'.
    let b = index.search(q, K, &p).unwrap();
    for hit in &b {
        if let Some(same) = a.iter().find(|h| h.id == hit.id) {
            assert!(
                (same.score - hit.score).abs() < 1e-5,
                "{name}: {same:?} {hit:?}"
            );
        }
    }
}

#[test]
fn int8_recall_is_within_0_01_of_f32_on_clustered_128_l2() {
    check_recall(clustered_128());
}

#[test]
fn int8_recall_is_within_0_01_of_f32_on_clustered_512_cosine() {
    check_recall(clustered_512());
}

#[test]
fn int8_recall_is_within_0_01_of_f32_on_fashion_mnist() {
    check_recall(fashion_mnist_10k());
}

#[test]
fn codes_are_saved_loaded_deleted_filtered_and_added_to() {
    let dim = 64;
    let n = 5_000;
    let (base, queries) = clustered(n, 100, dim, 20, 17);
    for metric in [Metric::Cosine, Metric::L2] {
        let q8 = params(Some(Quantization::Int8));
        let mut index = HnswIndex::build(&q8, dim, metric, &ids(n), &base).unwrap();
        let gone = [0u64, 7, 99, 1234];
        index.remove(&gone).unwrap();
        let before = search_all(&index, &queries, 32);
        assert!(before.iter().flatten().all(|h| !gone.contains(&h.id)));

        let dir = tempfile::tempdir().unwrap();
        index.save(dir.path()).unwrap();
        for file in ["codes.i8", "quantizer.f32", "vectors.f32"] {
            assert!(dir.path().join(file).exists(), "{file} saved");
        }
        let manifest = vsearch_index::persist::read_manifest(dir.path()).unwrap();
        assert_eq!(
            index.config(),
            manifest.config,
            "quantization in the manifest"
        );

        // Loaded to change: the same answers; opened for search: the same answers with the vectors
        // mapped, not held.
        let mut loaded = HnswIndex::load(dir.path(), &manifest).unwrap();
        assert_eq!(
            before,
            search_all(&loaded, &queries, 32),
            "{metric:?} loaded"
        );
        let for_search = HnswIndex::load_for_search(dir.path(), &manifest).unwrap();
        assert_eq!(
            before,
            search_all(&for_search, &queries, 32),
            "{metric:?} for search"
        );
        assert_eq!(for_search.mapped_bytes(), n * dim * 4);
        assert_eq!(loaded.mapped_bytes(), 0);
        // It holds the links and the codes (a byte per value and a norm per vector), not the vectors.
        let held = for_search.search_layout_bytes();
        assert_eq!(
            held + n * dim * 4,
            loaded.search_layout_bytes(),
            "{metric:?}: the index opened for search holds the vectors"
        );
        let boxed = load_for_search(dir.path()).unwrap();
        assert_eq!(before, search_all(boxed.as_ref(), &queries, 32));

        // Filtered: only allowed live ids, all of the best ones the f32 scores give.
        let filter = IdFilter::from_ids((0..n as u64).filter(|i| i % 3 == 0));
        let p = SearchParams::default();
        for q in queries.chunks(dim).take(20) {
            let hits = for_search.search_filtered(q, K, &p, &filter).unwrap();
            assert_eq!(hits.len(), K);
            assert!(hits.iter().all(|h| h.id % 3 == 0 && !gone.contains(&h.id)));
        }

        // Added after the reload: coded with the saved quantizer, found by their own vectors.
        let (more, _) = clustered(200, 0, dim, 20, 99);
        let new_ids: Vec<u64> = (n as u64..n as u64 + 200).collect();
        loaded.add(&new_ids, &more).unwrap();
        let mut found = 0;
        for (i, v) in more.chunks(dim).enumerate() {
            let hits = loaded.search(v, 1, &p).unwrap();
            found += usize::from(hits[0].id == new_ids[i]);
        }
        assert!(
            found >= 198,
            "{metric:?}: {found} of 200 added vectors found by themselves"
        );
        // Compaction re-trains the codes and keeps the answers' quality.
        loaded.compact().unwrap();
        assert_eq!(loaded.tombstones(), 0);
        let truth = ground_truth(dim, metric, &base, &queries, K);
        let after = id_lists(&search_all(&loaded, &queries, 64));
        let kept: Vec<Vec<u64>> = truth
            .iter()
            .map(|t| t.iter().copied().filter(|i| !gone.contains(i)).collect())
            .collect();
        let hit: usize = after
            .iter()
            .zip(&kept)
            .map(|(a, t)| t.iter().filter(|i| a.contains(i)).count())
            .sum();
        let total: usize = kept.iter().map(Vec::len).sum();
        assert!(
            hit as f64 >= 0.95 * total as f64,
            "{metric:?}: {hit} of {total} true neighbours after compaction"
        );
    }
}
