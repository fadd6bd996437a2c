//! Exact (flat) and HNSW indexes: correctness against a naive reference, recall of HNSW defaults,
//! persistence, corruption detection, deletion, concurrency and errors.
//! `cargo test --release -p vsearch-index --test it flat_hnsw:: -- --nocapture` prints the recall figures.

use crate::common::*;
use rayon::prelude::*;
use vsearch_index::flat::FlatIndex;
use vsearch_index::hnsw::HnswIndex;
use vsearch_index::{
    build, load, Hit, HnswParams, IndexConfig, IndexError, IndexKind, Metric, SearchParams,
    VectorIndex,
};

const K: usize = 10;

fn hnsw_default() -> IndexConfig {
    IndexConfig::Hnsw(HnswParams::default())
}

/// The two kinds this file tests, each with its defaults.
fn flat_and_hnsw() -> [IndexConfig; 2] {
    [IndexConfig::Flat, hnsw_default()]
}

/// Rows of `v` (rows of `dim`) scaled to unit length.
fn normalized(dim: usize, v: &[f32]) -> Vec<f32> {
    v.chunks_exact(dim)
        .flat_map(|r| {
            let n = r
                .iter()
                .map(|x| x * x)
                .sum::<f32>()
                .sqrt()
                .max(f32::MIN_POSITIVE);
            r.iter().map(move |x| x / n)
        })
        .collect()
}

/// The naive reference the flat index is checked against, written independently of it: every base row
/// scored, the k best kept (ids are row numbers).
fn naive_neighbours(
    dim: usize,
    metric: Metric,
    base: &[f32],
    queries: &[f32],
    k: usize,
) -> Vec<Vec<u64>> {
    let (base, queries) = match metric {
        Metric::Cosine => (normalized(dim, base), normalized(dim, queries)),
        Metric::L2 => (base.to_vec(), queries.to_vec()),
    };
    queries
        .par_chunks_exact(dim)
        .map(|q| {
            let mut scored: Vec<(f32, u64)> = base
                .chunks_exact(dim)
                .enumerate()
                .map(|(i, v)| {
                    let s = match metric {
                        Metric::Cosine => -q.iter().zip(v).map(|(a, b)| a * b).sum::<f32>(),
                        Metric::L2 => q.iter().zip(v).map(|(a, b)| (a - b) * (a - b)).sum::<f32>(),
                    };
                    (s, i as u64)
                })
                .collect();
            scored.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0));
            scored.truncate(k);
            scored.sort_by(|a, b| a.0.total_cmp(&b.0));
            scored.into_iter().map(|(_, i)| i).collect()
        })
        .collect()
}

#[test]
fn flat_equals_naive_reference_for_both_metrics() {
    let dim = 37; // not a multiple of the SIMD width: exercises the tails
    let (base, queries) = clustered(3_000, 50, dim, 20, 7);
    for metric in [Metric::Cosine, Metric::L2] {
        let index = FlatIndex::build(dim, metric, &ids(3_000), &base).unwrap();
        let truth = naive_neighbours(dim, metric, &base, &queries, K);
        let single: Vec<Vec<Hit>> = queries
            .chunks_exact(dim)
            .map(|q| index.search(q, K, &SearchParams::default()).unwrap())
            .collect();
        let batch = index
            .search_batch(&queries, K, &SearchParams::default())
            .unwrap();
        let (nb, nq) = (normalized(dim, &base), normalized(dim, &queries));
        for (qi, ((s, b), t)) in single.iter().zip(&batch).zip(&truth).enumerate() {
            let got: Vec<u64> = s.iter().map(|h| h.id).collect();
            assert_eq!(&got, t, "{metric:?} query {qi}: single-query ids");
            let got: Vec<u64> = b.iter().map(|h| h.id).collect();
            assert_eq!(&got, t, "{metric:?} query {qi}: batch ids");
            for (hs, hb) in s.iter().zip(b) {
                let row = hs.id as usize;
                let expected = match metric {
                    Metric::Cosine => {
                        let q = &nq[qi * dim..(qi + 1) * dim];
                        q.iter()
                            .zip(&nb[row * dim..(row + 1) * dim])
                            .map(|(a, b)| a * b)
                            .sum::<f32>()
                    }
                    Metric::L2 => {
                        let q = &queries[qi * dim..(qi + 1) * dim];
                        q.iter()
                            .zip(&base[row * dim..(row + 1) * dim])
                            .map(|(a, b)| (a - b) * (a - b))
                            .sum()
                    }
                };
                assert!(
                    (hs.score - expected).abs() <= 1e-4 * expected.abs().max(1.0),
                    "single score"
                );
                assert!(
                    (hb.score - expected).abs() <= 1e-3 * expected.abs().max(1.0),
                    "batch score"
                );
            }
        }
    }
}

fn check_hnsw_recall(set: &RecallSet) {
    let (name, dim, metric, base, queries) =
        (set.name, set.dim, set.metric, &set.base, &set.queries);
    let n = base.len() / dim;
    let truth = ground_truth(dim, metric, base, queries, K);
    let index = build(&hnsw_default(), dim, metric, &ids(n), base).unwrap();
    let mut sweep = Vec::new();
    for ef in [16, 32, 64, 128] {
        let p = SearchParams {
            ef_search: Some(ef),
            ..Default::default()
        };
        sweep.push(format!(
            "{ef}:{:.3}",
            recall(&index.search_batch(queries, K, &p).unwrap(), &truth, K)
        ));
    }
    let r = recall(
        &index
            .search_batch(queries, K, &SearchParams::default())
            .unwrap(),
        &truth,
        K,
    );
    eprintln!(
        "[{name}] n={n} d={dim} {metric:?} HNSW defaults recall@10 {r:.3}; by ef_search {}",
        sweep.join(" ")
    );
    assert!(r >= 0.95, "{name}: HNSW default recall@10 {r} < 0.95");
}

#[test]
fn hnsw_recall_clustered_d128() {
    check_hnsw_recall(&clustered_128());
}

#[test]
fn hnsw_recall_clustered_d512() {
    check_hnsw_recall(&clustered_512());
}

#[test]
fn hnsw_recall_fashion_mnist_subset() {
    check_hnsw_recall(&fashion_mnist_10k());
}

#[test]
fn save_load_gives_identical_results_and_detects_corruption() {
    let dim = 32;
    let (base, queries) = clustered(2_000, 20, dim, 10, 3);
    for config in flat_and_hnsw() {
        for metric in [Metric::Cosine, Metric::L2] {
            let mut index = build(&config, dim, metric, &ids(2_000), &base).unwrap();
            index.remove(&[5, 6, 7]).unwrap();
            let before = index
                .search_batch(&queries, K, &SearchParams::default())
                .unwrap();
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("index");
            index.save(&path).unwrap();
            index.save(&path).unwrap(); // overwriting an existing save is atomic too
            let loaded = load(&path).unwrap();
            assert_eq!(loaded.kind(), index.kind());
            assert_eq!(loaded.len(), 1_997);
            assert_eq!(loaded.config(), config);
            let after = loaded
                .search_batch(&queries, K, &SearchParams::default())
                .unwrap();
            assert_eq!(
                before, after,
                "{config:?} {metric:?}: results differ after reload"
            );

            // Flip one byte in each data file in turn: every flip is detected.
            for entry in std::fs::read_dir(&path).unwrap() {
                let file = entry.unwrap().path();
                if file.file_name().unwrap() == "index.json" {
                    continue;
                }
                let original = std::fs::read(&file).unwrap();
                if original.is_empty() {
                    continue;
                }
                let mut bytes = original.clone();
                let at = bytes.len() / 2;
                bytes[at] ^= 0x40;
                std::fs::write(&file, &bytes).unwrap();
                let err = load(&path).err().expect("corruption must be detected");
                assert!(
                    matches!(err, IndexError::Checksum { .. }),
                    "{file:?}: {err}"
                );
                std::fs::write(&file, &original[..original.len() / 2]).unwrap();
                assert!(load(&path).is_err(), "truncation must be detected");
                std::fs::write(&file, &original).unwrap();
            }
            assert!(load(&path).is_ok());
        }
    }
}

#[test]
fn loading_another_kind_or_version_is_an_error() {
    let dim = 8;
    let (base, _) = clustered(200, 1, dim, 4, 4);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flat");
    build(&IndexConfig::Flat, dim, Metric::L2, &ids(200), &base)
        .unwrap()
        .save(&path)
        .unwrap();
    let manifest = vsearch_index::persist::read_manifest(&path).unwrap();
    let err = HnswIndex::load(&path, &manifest)
        .err()
        .expect("flat folder loaded as HNSW");
    assert!(err.to_string().contains("Flat"), "{err}");

    let json = std::fs::read_to_string(path.join("index.json")).unwrap();
    std::fs::write(
        path.join("index.json"),
        json.replace("\"format_version\": 1", "\"format_version\": 99"),
    )
    .unwrap();
    let err = load(&path).err().expect("future format version");
    assert!(err.to_string().contains("format version 99"), "{err}");
}

#[test]
fn deleted_ids_never_come_back() {
    let dim = 24;
    let n = 3_000;
    let (base, queries) = clustered(n, 30, dim, 8, 5);
    for config in flat_and_hnsw() {
        let mut index = build(&config, dim, Metric::Cosine, &ids(n), &base).unwrap();
        // Delete every result of the first queries, then 80% of everything.
        let first = index
            .search_batch(&queries, K, &SearchParams::default())
            .unwrap();
        let mut gone: Vec<u64> = first.iter().flatten().map(|h| h.id).collect();
        gone.sort_unstable();
        gone.dedup();
        let more: Vec<u64> = (0..n as u64)
            .filter(|id| id % 5 != 0 && gone.binary_search(id).is_err())
            .collect();
        gone.extend(more);
        index.remove(&gone).unwrap();
        assert_eq!(index.len(), n - gone.len());
        let check = |index: &dyn VectorIndex| {
            let results = index
                .search_batch(&queries, K, &SearchParams::default())
                .unwrap();
            for r in &results {
                assert_eq!(r.len(), K, "{config:?}: k results must still come back");
                assert!(
                    r.iter().all(|h| h.id % 5 == 0),
                    "{config:?}: a deleted id came back"
                );
            }
        };
        check(index.as_ref());
        assert!(matches!(
            index.remove(&[1]),
            Err(IndexError::UnknownId { id: 1 })
        ));
        // HNSW compaction drops the tombstones and keeps the same answers' guarantees.
        if config != IndexConfig::Flat {
            let mut h =
                HnswIndex::build(&HnswParams::default(), dim, Metric::Cosine, &ids(n), &base)
                    .unwrap();
            h.remove(&gone).unwrap();
            assert_eq!(h.tombstones(), gone.len());
            h.compact().unwrap();
            assert_eq!(h.tombstones(), 0);
            assert_eq!(h.len(), n - gone.len());
            check(&h);
        }
    }
}

#[test]
fn concurrent_search_equals_serial() {
    let dim = 64;
    let (base, queries) = clustered(5_000, 200, dim, 20, 6);
    for config in flat_and_hnsw() {
        let index = build(&config, dim, Metric::L2, &ids(5_000), &base).unwrap();
        let serial: Vec<Vec<Hit>> = queries
            .chunks_exact(dim)
            .map(|q| index.search(q, K, &SearchParams::default()).unwrap())
            .collect();
        let (index, queries) = (&index, &queries);
        let parallel: Vec<Vec<Hit>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|t| {
                    s.spawn(move || {
                        queries
                            .chunks_exact(dim)
                            .enumerate()
                            .filter(|(i, _)| i % 8 == t)
                            .map(|(i, q)| {
                                (i, index.search(q, K, &SearchParams::default()).unwrap())
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut all: Vec<(usize, Vec<Hit>)> = handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect();
            all.sort_by_key(|(i, _)| *i);
            all.into_iter().map(|(_, r)| r).collect()
        });
        assert_eq!(serial, parallel, "{config:?}");
        let batch = index
            .search_batch(queries, K, &SearchParams::default())
            .unwrap();
        let same = serial.par_iter().zip(&batch).filter(|(a, b)| {
            a.iter().map(|h| h.id).collect::<Vec<_>>() == b.iter().map(|h| h.id).collect::<Vec<_>>()
        });
        assert_eq!(
            same.count(),
            serial.len(),
            "{config:?}: batch differs from single queries"
        );
    }
}

#[test]
fn errors_not_panics() {
    let dim = 16;
    let (base, _) = clustered(100, 1, dim, 4, 8);
    for config in flat_and_hnsw() {
        let mut index = build(&config, dim, Metric::Cosine, &ids(100), &base).unwrap();
        let p = SearchParams::default();
        assert!(matches!(
            index.search(&[0.0; 3], K, &p),
            Err(IndexError::Dimension {
                expected: 16,
                got: 3
            })
        ));
        assert!(matches!(
            index.search(&base[..dim], 0, &p),
            Err(IndexError::ZeroK)
        ));
        let mut nan = base[..dim].to_vec();
        nan[3] = f32::NAN;
        assert!(index.search(&nan, K, &p).is_err());
        assert!(matches!(
            index.add(&[1000], &nan),
            Err(IndexError::NonFinite { id: 1000 })
        ));
        let mut inf = base[..dim].to_vec();
        inf[0] = f32::INFINITY;
        assert!(matches!(
            index.add(&[1001], &inf),
            Err(IndexError::NonFinite { id: 1001 })
        ));
        assert!(matches!(
            index.add(&[5], &base[..dim]),
            Err(IndexError::DuplicateId { id: 5 })
        ));
        assert!(matches!(
            index.add(&[2000], &base[..dim - 1]),
            Err(IndexError::Dimension { .. })
        ));
        assert!(matches!(
            index.remove(&[424242]),
            Err(IndexError::UnknownId { id: 424242 })
        ));
        assert_eq!(index.len(), 100, "failed calls change nothing");
        let empty = build(&config, dim, Metric::Cosine, &[], &[]).unwrap();
        assert!(matches!(
            empty.search(&base[..dim], K, &p),
            Err(IndexError::Empty)
        ));
        assert_eq!(
            index.kind(),
            if config == IndexConfig::Flat {
                IndexKind::Flat
            } else {
                IndexKind::Hnsw
            }
        );
    }
    let bad = IndexConfig::Hnsw(HnswParams {
        m: 1000,
        ..HnswParams::default()
    });
    assert!(matches!(
        build(&bad, dim, Metric::L2, &ids(100), &base),
        Err(IndexError::InvalidParams { .. })
    ));
}

#[test]
fn fewer_vectors_than_k_returns_all() {
    let dim = 8;
    let (base, queries) = clustered(5, 1, dim, 2, 9);
    for config in flat_and_hnsw() {
        let index = build(&config, dim, Metric::L2, &ids(5), &base).unwrap();
        assert_eq!(
            index
                .search(&queries, K, &SearchParams::default())
                .unwrap()
                .len(),
            5
        );
    }
}
