//! IVF's quantised fast paths, SQ8 (`IVF{nlist},SQ8`) and 4-bit PQ fast-scan (`IVF{nlist},PQ{m}x4fs`), both
//! re-ranked exactly from the kept raw vectors: recall against IVF-Flat at the same nlist and nprobe on
//! clustered synthetic data and Fashion-MNIST, save and load, removal, memory, and parameter errors.
//! (Filtered search: `filtered::ivf_sq8_filtered_recall`, `filtered::ivf_pq4fs_filtered_recall`; batches:
//! `ivf_batch`.) Run with `cargo test --release -p vsearch-index --test it ivf_quantized -- --nocapture` to
//! see the recall figures.

use crate::common::*;
use vsearch_index::ivf::{self, IvfIndex};
use vsearch_index::{
    persist, IndexConfig, IndexError, IvfCodes, IvfParams, Metric, SearchParams, VectorIndex,
};

const K: usize = 10;

fn no_rerank(n: usize) -> SearchParams {
    SearchParams {
        nprobe: Some(n),
        rerank: Some(false),
        ..Default::default()
    }
}

/// The two quantised kinds with their defaults for `dim`.
fn quantized(dim: usize) -> [(&'static str, IvfParams); 2] {
    [
        ("ivf-sq8", ivf::default_sq8_params()),
        ("ivf-pq4fs", ivf::default_pq4fs_params(dim)),
    ]
}

/// Each quantised kind, re-ranked, reaches IVF-Flat's recall@10 within 0.01 at the same nlist and nprobe.
fn check_against_flat(set: &RecallSet) {
    let (name, dim, metric, base, queries) =
        (set.name, set.dim, set.metric, &set.base, &set.queries);
    let n = base.len() / dim;
    let truth = ground_truth(dim, metric, base, queries, K);
    let flat = IvfIndex::build(&ivf::default_flat_params(), dim, metric, &ids(n), base)
        .expect("build IVF-Flat");
    for (kind, params) in quantized(dim) {
        let index = IvfIndex::build(&params, dim, metric, &ids(n), base).expect("build");
        assert_eq!(index.nlist(), flat.nlist());
        for p in [4, 8, ivf::DEFAULT_NPROBE] {
            let want = recall(
                &flat.search_batch(queries, K, &nprobe(p)).unwrap(),
                &truth,
                K,
            );
            let got = recall(
                &index.search_batch(queries, K, &nprobe(p)).unwrap(),
                &truth,
                K,
            );
            let raw = recall(
                &index.search_batch(queries, K, &no_rerank(p)).unwrap(),
                &truth,
                K,
            );
            eprintln!(
                "[{name}] {metric:?} nlist {} nprobe {p}: IVF-Flat {want:.3}, {kind} {:?} re-ranked {got:.3} \
                 (codes alone {raw:.3})",
                flat.nlist(),
                params.codes
            );
            assert!(
                got >= want - 0.01,
                "{name} {kind} nprobe {p}: re-ranked recall {got} more than 0.01 below IVF-Flat's {want}"
            );
        }
        // The default search (the build's nprobe, re-ranking on) is the nprobe-16 point above.
        let default = recall(
            &index
                .search_batch(queries, K, &SearchParams::default())
                .unwrap(),
            &truth,
            K,
        );
        assert!(default >= 0.95, "{name} {kind}: default recall {default}");
        // Memory: the codes are a fraction of the raw vectors kept for re-ranking.
        assert_eq!(index.rerank_bytes(), n * dim * 4);
        let codes = index.memory_bytes() - index.rerank_bytes();
        assert!(
            codes < flat.memory_bytes(),
            "{name} {kind}: codes take {codes} bytes, IVF-Flat {}",
            flat.memory_bytes()
        );
    }
}

#[test]
fn quantized_recall_matches_ivf_flat_clustered_d128_l2() {
    check_against_flat(&clustered_128());
}

#[test]
fn quantized_recall_matches_ivf_flat_clustered_d512_cosine() {
    check_against_flat(&clustered_512());
}

#[test]
fn quantized_recall_matches_ivf_flat_fashion_mnist() {
    check_against_flat(&fashion_mnist_10k());
}

fn small_set() -> (usize, Vec<f32>, Vec<f32>) {
    small_ivf_set(11)
}

fn small_params(codes: IvfCodes) -> IvfParams {
    small_ivf_params(codes, None)
}

const SMALL_CODES: [IvfCodes; 2] = [IvfCodes::Sq8, IvfCodes::PqFastScan { m: 16 }];

fn save_and_load(index: &IvfIndex, dir: &std::path::Path) -> IvfIndex {
    index.save(dir).unwrap();
    let manifest = persist::read_manifest(dir).unwrap();
    IvfIndex::load(dir, &manifest).unwrap()
}

#[test]
fn quantized_save_load_gives_identical_results() {
    let (dim, base, queries) = small_set();
    let n = base.len() / dim;
    for codes in SMALL_CODES {
        for metric in [Metric::L2, Metric::Cosine] {
            let index = IvfIndex::build(&small_params(codes), dim, metric, &ids(n), &base).unwrap();
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("ivf");
            let loaded = save_and_load(&index, &dir);
            assert_eq!(loaded.len(), n);
            assert_eq!(loaded.config(), index.config());
            let manifest = std::fs::read_to_string(dir.join(persist::MANIFEST)).unwrap();
            let tag = match codes {
                IvfCodes::Sq8 => "\"sq8\"",
                _ => "\"pq4fs\"",
            };
            assert!(manifest.contains(tag), "{manifest}");
            for sp in [SearchParams::default(), no_rerank(8), nprobe(32)] {
                assert_eq!(
                    loaded.search_batch(&queries, K, &sp).unwrap(),
                    index.search_batch(&queries, K, &sp).unwrap(),
                    "{codes:?} {metric:?} {sp:?}"
                );
            }
            assert_eq!(loaded.memory_bytes(), index.memory_bytes());
        }
    }
}

#[test]
fn quantized_removed_ids_never_come_back() {
    let (dim, base, queries) = small_set();
    let n = base.len() / dim;
    for codes in SMALL_CODES {
        for metric in [Metric::L2, Metric::Cosine] {
            let what = format!("{codes:?} {metric:?}");
            let mut index =
                IvfIndex::build(&small_params(codes), dim, metric, &ids(n), &base).unwrap();
            // Remove every id the queries find first, plus every third id.
            let first = index.search_batch(&queries, K, &nprobe(32)).unwrap();
            let mut gone: Vec<u64> = first.iter().flatten().map(|h| h.id).collect();
            gone.extend((0..n as u64).step_by(3));
            gone.sort_unstable();
            gone.dedup();
            index.remove(&gone).unwrap();
            assert_eq!(index.len(), n - gone.len(), "{what}");
            let check = |index: &IvfIndex, when: &str| {
                for sp in [nprobe(1), nprobe(8), nprobe(32), no_rerank(32)] {
                    for hits in index.search_batch(&queries, K, &sp).unwrap() {
                        assert!(
                            hits.iter().all(|h| gone.binary_search(&h.id).is_err()),
                            "{what} {when} {sp:?}: a removed id came back"
                        );
                        if sp.nprobe == Some(32) {
                            assert_eq!(hits.len(), K, "{what} {when}: k results");
                        }
                    }
                }
                // Every remaining vector still finds itself first (re-ranked, all lists).
                for i in (0..n).step_by(101) {
                    if gone.binary_search(&(i as u64)).is_ok() {
                        continue;
                    }
                    let hits = index
                        .search(&base[i * dim..(i + 1) * dim], 1, &nprobe(32))
                        .unwrap();
                    assert_eq!(hits[0].id, i as u64, "{what} {when}");
                }
            };
            check(&index, "after removal");
            // Removing again is an unknown id, and nothing changes.
            let len = index.len();
            assert!(matches!(
                index.remove(&[gone[0]]),
                Err(IndexError::UnknownId { id }) if id == gone[0]
            ));
            assert_eq!(index.len(), len);
            // Removals survive save and load (FAISS's file agrees with the ids), and re-adding works.
            let tmp = tempfile::tempdir().unwrap();
            let mut loaded = save_and_load(&index, &tmp.path().join("i"));
            assert_eq!(loaded.len(), len);
            check(&loaded, "after reload");
            assert_eq!(
                loaded.search_batch(&queries, K, &nprobe(8)).unwrap(),
                index.search_batch(&queries, K, &nprobe(8)).unwrap()
            );
            let id = gone[0] as usize;
            loaded
                .add(&[gone[0]], &base[id * dim..(id + 1) * dim])
                .unwrap();
            let hits = loaded
                .search(&base[id * dim..(id + 1) * dim], 1, &nprobe(32))
                .unwrap();
            assert_eq!(hits[0].id, gone[0], "{what}");
            // A second removal after the reload, then everything: empty.
            loaded.remove(&[gone[0]]).unwrap();
            let rest: Vec<u64> = (0..n as u64)
                .filter(|i| gone.binary_search(i).is_err())
                .collect();
            loaded.remove(&rest).unwrap();
            assert_eq!(loaded.len(), 0);
            assert!(matches!(
                loaded.search(&queries[..dim], K, &SearchParams::default()),
                Err(IndexError::Empty)
            ));
            let reloaded = save_and_load(&loaded, &tmp.path().join("empty"));
            assert_eq!(reloaded.len(), 0);
        }
    }
}

#[test]
fn quantized_add_after_build() {
    let (dim, base, _) = small_set();
    let n = base.len() / dim;
    let half = n / 2;
    for codes in SMALL_CODES {
        let mut index = IvfIndex::build(
            &small_params(codes),
            dim,
            Metric::L2,
            &ids(half),
            &base[..half * dim],
        )
        .unwrap();
        index
            .add(
                &(half as u64..n as u64).collect::<Vec<_>>(),
                &base[half * dim..],
            )
            .unwrap();
        assert_eq!(index.len(), n);
        for i in (0..n).step_by(97) {
            let hits = index
                .search(&base[i * dim..(i + 1) * dim], 3, &nprobe(32))
                .unwrap();
            assert_eq!(hits[0].id, i as u64, "{codes:?}");
            assert!(hits[0].score <= 1e-4, "{codes:?}: exact re-ranked score");
        }
        assert!(matches!(
            index.config(),
            IndexConfig::Ivf(IvfParams { codes: c, .. }) if c == codes
        ));
    }
}

#[test]
fn pq4fs_odd_m_is_padded_by_faiss() {
    // m = 15 on dimension 30: FAISS pads the 15 4-bit codes to 16 (8 bytes) in its blocks.
    let dim = 30;
    let (base, queries) = clustered(2_000, 30, dim, 20, 3);
    let n = base.len() / dim;
    let codes = IvfCodes::PqFastScan { m: 15 };
    assert_eq!(codes.code_bytes(dim), 8);
    let mut index = IvfIndex::build(&small_params(codes), dim, Metric::L2, &ids(n), &base).unwrap();
    let truth = ground_truth(dim, Metric::L2, &base, &queries, K);
    let r = recall(
        &index.search_batch(&queries, K, &nprobe(32)).unwrap(),
        &truth,
        K,
    );
    assert!(r >= 0.99, "odd m, all lists, re-ranked: recall {r}");
    index.remove(&[0, 1, 2]).unwrap();
    assert_eq!(index.len(), n - 3);
}

#[test]
fn quantized_parameter_errors_say_what_to_do() {
    let (dim, base, _) = small_set();
    let n = base.len() / dim;
    for m in [0, 5, 64] {
        let p = small_params(IvfCodes::PqFastScan { m });
        match IvfIndex::build(&p, dim, Metric::L2, &ids(n), &base) {
            Err(IndexError::InvalidParams { reason }) => {
                assert!(
                    reason.contains("must divide the dimension 32")
                        && reason.contains(&format!("try m = {}", ivf::default_pq4fs_m(dim))),
                    "{reason}"
                )
            }
            other => panic!("m = {m}: expected invalid parameters, got {other:?}"),
        }
    }
    // 4-bit codebooks need 16 training vectors.
    let p = IvfParams {
        nlist: Some(2),
        ..small_params(IvfCodes::PqFastScan { m: 16 })
    };
    match IvfIndex::build(&p, dim, Metric::L2, &ids(10), &base[..10 * dim]) {
        Err(IndexError::InvalidParams { reason }) => {
            assert!(reason.contains("too few vectors"), "{reason}")
        }
        other => panic!("expected too few vectors, got {other:?}"),
    }
    // SQ8 trains on as few vectors as there are lists.
    let p = IvfParams {
        nlist: Some(2),
        ..small_params(IvfCodes::Sq8)
    };
    let index = IvfIndex::build(&p, dim, Metric::L2, &ids(10), &base[..10 * dim]).unwrap();
    assert_eq!(index.len(), 10);
}

/// Vectors added after a removal are found, with and without a save and load in between. (FAISS 1.12's
/// fast-scan `remove_ids` leaves stale bits that corrupt later codes; vsearch re-adds instead.)
#[test]
fn quantized_vectors_added_after_a_removal_are_found() {
    let (dim, base, _) = small_set();
    let n = base.len() / dim;
    let later = n - 10;
    for codes in SMALL_CODES {
        for reload in [false, true] {
            let mut index = IvfIndex::build(
                &small_params(codes),
                dim,
                Metric::L2,
                &ids(later),
                &base[..later * dim],
            )
            .unwrap();
            index.remove(&(0..1000).collect::<Vec<u64>>()).unwrap();
            let tmp = tempfile::tempdir().unwrap();
            if reload {
                index = save_and_load(&index, &tmp.path().join("i"));
            }
            let new: Vec<u64> = (later as u64..n as u64).collect();
            index.add(&new, &base[later * dim..]).unwrap();
            assert_eq!(index.len(), later - 1000 + 10);
            for &id in &new {
                let v = &base[id as usize * dim..(id as usize + 1) * dim];
                let hits = index.search(v, 1, &nprobe(32)).unwrap();
                assert_eq!(hits[0].id, id, "{codes:?} reload {reload}: re-ranked");
                let hits = index.search(v, K, &no_rerank(32)).unwrap();
                assert!(
                    hits.iter().any(|h| h.id == id),
                    "{codes:?} reload {reload}: id {id} not among its codes' {K} nearest"
                );
            }
        }
    }
}
