//! HNSW's compact search layout against hnsw_rs's own search on the same graph: same answers, deletes
//! honoured, identical after save/load, recall at the defaults.
//! `cargo test --release -p vsearch-index --test it hnsw_search_graph:: -- --nocapture` prints the figures.

use crate::common::*;
use vsearch_index::hnsw::HnswIndex;
use vsearch_index::{load, load_for_search, Hit, HnswParams, Metric, SearchParams, VectorIndex};

const K: usize = 10;

fn id_lists(hits: &[Vec<Hit>]) -> Vec<Vec<u64>> {
    hits.iter()
        .map(|r| r.iter().map(|h| h.id).collect())
        .collect()
}

fn compact(index: &HnswIndex, queries: &[f32], p: &SearchParams) -> Vec<Vec<Hit>> {
    queries
        .chunks_exact(index.dim())
        .map(|q| index.search(q, K, p).unwrap())
        .collect()
}

fn hnsw_rs(index: &HnswIndex, queries: &[f32], p: &SearchParams) -> Vec<Vec<Hit>> {
    queries
        .chunks_exact(index.dim())
        .map(|q| index.search_hnsw_rs(q, K, p).unwrap())
        .collect()
}

/// Share of queries for which both searches return the same ids in the same order, at `ef`.
fn agreement(index: &HnswIndex, queries: &[f32], ef: usize) -> f64 {
    let p = SearchParams {
        ef_search: Some(ef),
        ..Default::default()
    };
    let a = id_lists(&compact(index, queries, &p));
    let b = id_lists(&hnsw_rs(index, queries, &p));
    a.iter().zip(&b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
}

fn check_agreement(name: &str, dim: usize, metric: Metric, base: &[f32], queries: &[f32]) {
    let n = base.len() / dim;
    let index = HnswIndex::build(&HnswParams::default(), dim, metric, &ids(n), base).unwrap();
    for ef in [32, 64] {
        let same = agreement(&index, queries, ef);
        eprintln!("[{name}] {metric:?} ef={ef}: compact == hnsw_rs on {same:.3} of queries");
        assert!(
            same >= 0.99,
            "{name} {metric:?} ef={ef}: only {same} of queries agree"
        );
    }
}

#[test]
fn compact_search_matches_hnsw_rs_on_clustered_vectors() {
    let dim = 64;
    let (base, queries) = clustered(10_000, 300, dim, 100, 11);
    for metric in [Metric::Cosine, Metric::L2] {
        check_agreement("clustered-64", dim, metric, &base, &queries);
    }
}

#[test]
fn compact_search_matches_hnsw_rs_on_fashion_mnist() {
    let (dim, base, queries) = fashion_mnist(10_000, 300);
    check_agreement("fashion-mnist-10k", dim, Metric::L2, &base, &queries);
}

#[test]
fn compact_search_honours_deletes() {
    let dim = 32;
    let n = 5_000;
    let (base, queries) = clustered(n, 100, dim, 20, 12);
    for metric in [Metric::Cosine, Metric::L2] {
        let mut index =
            HnswIndex::build(&HnswParams::default(), dim, metric, &ids(n), &base).unwrap();
        // Every first answer goes, then two thirds of everything.
        let first = compact(&index, &queries, &SearchParams::default());
        let mut gone: Vec<u64> = first.iter().flatten().map(|h| h.id).collect();
        gone.extend((0..n as u64).filter(|id| id % 3 != 0));
        gone.sort_unstable();
        gone.dedup();
        index.remove(&gone).unwrap();
        let results = compact(&index, &queries, &SearchParams::default());
        for r in &results {
            assert_eq!(r.len(), K, "{metric:?}: k results must still come back");
            for h in r {
                assert!(
                    gone.binary_search(&h.id).is_err(),
                    "{metric:?}: deleted id {} came back",
                    h.id
                );
            }
        }
        // The live answers are still good: recall against exact search over the survivors.
        let live: Vec<u64> = (0..n as u64)
            .filter(|id| gone.binary_search(id).is_err())
            .collect();
        let live_base: Vec<f32> = live
            .iter()
            .flat_map(|&id| base[id as usize * dim..(id as usize + 1) * dim].to_vec())
            .collect();
        let truth: Vec<Vec<u64>> = ground_truth(dim, metric, &live_base, &queries, K)
            .into_iter()
            .map(|row| row.into_iter().map(|i| live[i as usize]).collect())
            .collect();
        let r = recall(&results, &truth, K);
        eprintln!("[deletes] {metric:?}: recall@10 over survivors {r:.3}");
        assert!(r >= 0.9, "{metric:?}: recall over survivors {r}");
    }
}

#[test]
fn compact_search_survives_save_and_load() {
    let dim = 48;
    let n = 4_000;
    let (base, queries) = clustered(n, 100, dim, 20, 13);
    for metric in [Metric::Cosine, Metric::L2] {
        let mut index =
            HnswIndex::build(&HnswParams::default(), dim, metric, &ids(n), &base).unwrap();
        index.remove(&[1, 2, 3, 500]).unwrap();
        let p = SearchParams::default();
        let before = compact(&index, &queries, &p);
        let before_rs = hnsw_rs(&index, &queries, &p);
        let dir = tempfile::tempdir().unwrap();
        index.save(dir.path()).unwrap();
        let manifest = vsearch_index::persist::read_manifest(dir.path()).unwrap();
        let loaded = HnswIndex::load(dir.path(), &manifest).unwrap();
        assert_eq!(before, compact(&loaded, &queries, &p), "{metric:?}");
        assert_eq!(before_rs, hnsw_rs(&loaded, &queries, &p), "{metric:?}");
        let boxed = load(dir.path()).unwrap();
        assert_eq!(before, boxed.search_batch(&queries, K, &p).unwrap());

        // Opened for search only: the same answers from the layout read straight from the files,
        // without hnsw_rs's graph, and every change refused.
        let mut for_search = HnswIndex::load_for_search(dir.path(), &manifest).unwrap();
        assert_eq!(before, compact(&for_search, &queries, &p), "{metric:?}");
        let boxed = load_for_search(dir.path()).unwrap();
        assert_eq!(before, boxed.search_batch(&queries, K, &p).unwrap());
        let (full_bytes, search_bytes) = (loaded.memory_bytes(), for_search.memory_bytes());
        eprintln!(
            "[{metric:?}] memory: loaded to change {full_bytes} B, for search {search_bytes} B"
        );
        assert!(
            search_bytes * 2 < full_bytes,
            "{search_bytes} vs {full_bytes}"
        );
        let refused = |r: vsearch_index::Result<()>| {
            matches!(r, Err(vsearch_index::IndexError::SearchOnly { .. }))
        };
        assert!(refused(for_search.add(&[n as u64], &base[..dim])));
        assert!(refused(for_search.remove(&[5])));
        assert!(refused(for_search.save(&dir.path().join("again"))));
        assert!(matches!(
            for_search.search_hnsw_rs(&queries[..dim], K, &p),
            Err(vsearch_index::IndexError::SearchOnly { .. })
        ));
        assert_eq!(
            before,
            compact(&for_search, &queries, &p),
            "unchanged by refusals"
        );
    }
}

#[test]
fn compact_search_recall_at_defaults_on_20k_clustered() {
    for (dim, metric) in [(128, Metric::L2), (256, Metric::Cosine)] {
        let n = 20_000;
        let (base, queries) = clustered(n, 300, dim, 100, 14 + dim as u64);
        let index = HnswIndex::build(&HnswParams::default(), dim, metric, &ids(n), &base).unwrap();
        let truth = ground_truth(dim, metric, &base, &queries, K);
        let p = SearchParams::default();
        let r = recall(&index.search_batch(&queries, K, &p).unwrap(), &truth, K);
        let r_rs = recall(&hnsw_rs(&index, &queries, &p), &truth, K);
        eprintln!("[clustered-{dim}] {metric:?} recall@10 compact {r:.3}, hnsw_rs {r_rs:.3}");
        assert!(r >= 0.95, "d={dim} {metric:?}: recall@10 {r} < 0.95");
    }
}

#[test]
fn vectors_added_after_a_reload_are_found() {
    let dim = 32;
    let (base, _) = clustered(30, 0, dim, 5, 21);
    for metric in [Metric::Cosine, Metric::L2] {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("hnsw");
        let first = HnswIndex::build(
            &HnswParams::default(),
            dim,
            metric,
            &ids(10),
            &base[..10 * dim],
        )
        .unwrap();
        first.save(&path).unwrap();
        let mut index = load(&path).unwrap();
        index
            .add(&(10..30).collect::<Vec<u64>>(), &base[10 * dim..])
            .unwrap();
        // Saved and loaded again, as a collection's next generation is.
        let again = tmp.path().join("hnsw-2");
        index.save(&again).unwrap();
        let reloaded = load(&again).unwrap();
        for index in [&index, &reloaded] {
            for (id, v) in base.chunks_exact(dim).enumerate() {
                let hits = index.search(v, 1, &SearchParams::default()).unwrap();
                assert_eq!(
                    hits[0].id, id as u64,
                    "{metric:?}: id {id} not found first: {hits:?}"
                );
            }
        }
    }
}

/// Outliers (points far from every other) are the nodes HNSW's neighbour selection leaves without
/// in-links: each keeps one link out, and its neighbours, their lists full, drop the link back. Every
/// vector must still be found by its own vector, built at once and grown after a reload.
#[test]
fn outliers_are_found_by_their_own_vectors() {
    let dim = 64;
    // Clusters of 200 points each (far more than a node's 2M links), then 40 points each around a
    // centre of its own.
    let (mut base, _) = clustered(2_000, 0, dim, 10, 31);
    for seed in 100..140 {
        base.extend_from_slice(&clustered(1, 0, dim, 1, seed).0);
    }
    let n = base.len() / dim;
    for metric in [Metric::Cosine, Metric::L2] {
        let built = HnswIndex::build(&HnswParams::default(), dim, metric, &ids(n), &base).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("hnsw");
        let first = HnswIndex::build(
            &HnswParams::default(),
            dim,
            metric,
            &ids(1_000),
            &base[..1_000 * dim],
        )
        .unwrap();
        first.save(&path).unwrap();
        let mut grown = load(&path).unwrap();
        grown
            .add(
                &(1_000..n as u64).collect::<Vec<u64>>(),
                &base[1_000 * dim..],
            )
            .unwrap();
        // The links laid over the graph are saved with it.
        let saved = tmp.path().join("built");
        built.save(&saved).unwrap();
        let reloaded = load(&saved).unwrap();
        for (name, index) in [
            ("built", &built as &dyn VectorIndex),
            ("grown", &*grown),
            ("reloaded", &*reloaded),
        ] {
            let missed: Vec<usize> = base
                .chunks_exact(dim)
                .enumerate()
                .filter(|(id, v)| {
                    let hits = index.search(v, 1, &SearchParams::default()).unwrap();
                    hits.first().map(|h| h.id) != Some(*id as u64)
                })
                .map(|(id, _)| id)
                .collect();
            assert!(
                missed.is_empty(),
                "{name} {metric:?}: {} vectors not found first by their own vector: {missed:?}",
                missed.len()
            );
        }
    }
}
