//! IVF (FAISS) index: recall on clustered synthetic data and Fashion-MNIST, persistence, deletion,
//! concurrency and errors. Run with `cargo test --release -p vsearch-index --test it ivf:: -- --nocapture` to see
//! the recall figures behind the defaults.

use crate::common::*;
use vsearch_index::ivf::{self, IvfIndex};
use vsearch_index::{
    persist, Hit, IndexConfig, IndexError, IndexKind, IvfCodes, IvfParams, Metric, SearchParams,
    VectorIndex,
};

const K: usize = 10;

/// Builds IVF-Flat and IVF-PQ with defaults, checks the recall targets and prints the nprobe sweep.
fn check_recall(set: &RecallSet) {
    let (name, dim, metric, base, queries) =
        (set.name, set.dim, set.metric, &set.base, &set.queries);
    let n = base.len() / dim;
    let truth = ground_truth(dim, metric, base, queries, K);
    let flat = IvfIndex::build(&ivf::default_flat_params(), dim, metric, &ids(n), base)
        .expect("build IVF-Flat");
    let nlist = flat.nlist();
    assert_eq!(nlist, ivf::default_nlist(n));
    let mut sweep = Vec::new();
    for p in [1, 2, 4, 8, 16, 32, 64] {
        let r = recall(
            &flat.search_batch(queries, K, &nprobe(p)).unwrap(),
            &truth,
            K,
        );
        sweep.push(format!("{p}:{r:.3}"));
    }
    eprintln!(
        "[{name}] n={n} d={dim} {metric:?} nlist={nlist} IVF-Flat recall@10 by nprobe: {}",
        sweep.join(" ")
    );

    let all = recall(
        &flat.search_batch(queries, K, &nprobe(nlist)).unwrap(),
        &truth,
        K,
    );
    assert!(
        all >= 0.999,
        "{name}: IVF-Flat with nprobe = nlist must be exact, recall {all}"
    );
    let default = recall(
        &flat
            .search_batch(queries, K, &SearchParams::default())
            .unwrap(),
        &truth,
        K,
    );
    assert!(
        default >= 0.90,
        "{name}: IVF-Flat default nprobe recall {default} < 0.90"
    );

    let pq_params = ivf::default_pq_params(dim);
    let mut pq = IvfIndex::build(&pq_params, dim, metric, &ids(n), base).expect("build IVF-PQ");
    let mut sweep = Vec::new();
    for f in [1, 2, 4, 8, 10, 16, 32] {
        pq.set_rerank_factor(f).unwrap();
        let r = recall(
            &pq.search_batch(queries, K, &nprobe(ivf::DEFAULT_NPROBE))
                .unwrap(),
            &truth,
            K,
        );
        sweep.push(format!("{f}:{r:.3}"));
    }
    pq.set_rerank_factor(ivf::DEFAULT_RERANK_FACTOR).unwrap();
    eprintln!(
        "[{name}] IVF-PQ recall@10 at nprobe {} by rerank factor: {}",
        ivf::DEFAULT_NPROBE,
        sweep.join(" ")
    );
    let mut sweep = Vec::new();
    for p in [4, 8, 16, 32] {
        let rr = recall(&pq.search_batch(queries, K, &nprobe(p)).unwrap(), &truth, K);
        let raw = SearchParams {
            nprobe: Some(p),
            rerank: Some(false),
            ..Default::default()
        };
        let r = recall(&pq.search_batch(queries, K, &raw).unwrap(), &truth, K);
        sweep.push(format!("{p}:{r:.3}/{rr:.3}"));
    }
    eprintln!(
        "[{name}] IVF-PQ {:?} recall@10 by nprobe (no rerank/rerank x{}): {}",
        pq_params.codes,
        ivf::DEFAULT_RERANK_FACTOR,
        sweep.join(" ")
    );
    let pq_default = recall(
        &pq.search_batch(queries, K, &SearchParams::default())
            .unwrap(),
        &truth,
        K,
    );
    assert!(
        pq_default >= 0.90,
        "{name}: IVF-PQ with re-ranking recall {pq_default} < 0.90"
    );
}

#[test]
fn recall_clustered_d128_l2() {
    check_recall(&clustered_128());
}

#[test]
fn recall_clustered_d512_cosine() {
    check_recall(&clustered_512());
}

#[test]
fn recall_fashion_mnist_subset() {
    check_recall(&fashion_mnist_10k());
}

fn small_set(_metric: Metric) -> (usize, Vec<f32>, Vec<f32>) {
    small_ivf_set(7)
}

fn small_params(codes: IvfCodes) -> IvfParams {
    small_ivf_params(codes, Some(2_600))
}

#[test]
fn save_load_gives_identical_results_and_detects_corruption() {
    for (codes, metric) in [
        (IvfCodes::Flat, Metric::L2),
        (IvfCodes::Pq { m: 8, bits: 6 }, Metric::Cosine),
    ] {
        let (dim, base, queries) = small_set(metric);
        let n = base.len() / dim;
        let index = IvfIndex::build(&small_params(codes), dim, metric, &ids(n), &base).unwrap();
        let before = index
            .search_batch(&queries, K, &SearchParams::default())
            .unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ivf");
        index.save(&dir).unwrap();
        let manifest = persist::read_manifest(&dir).unwrap();
        let loaded = IvfIndex::load(&dir, &manifest).unwrap();
        assert_eq!(loaded.len(), n);
        assert_eq!(loaded.config(), index.config());
        assert_eq!(
            loaded
                .search_batch(&queries, K, &SearchParams::default())
                .unwrap(),
            before
        );

        // A manifest of another kind or another format version is refused.
        let mut other = manifest.clone();
        other.kind = IndexKind::Flat;
        assert!(matches!(
            IvfIndex::load(&dir, &other),
            Err(IndexError::Format { .. })
        ));
        let mut bumped = std::fs::read_to_string(dir.join(persist::MANIFEST)).unwrap();
        bumped = bumped.replacen(
            &format!("\"format_version\": {}", persist::FORMAT_VERSION),
            "\"format_version\": 999",
            1,
        );
        let vdir = tmp.path().join("version");
        index.save(&vdir).unwrap();
        std::fs::write(vdir.join(persist::MANIFEST), bumped).unwrap();
        assert!(matches!(
            persist::read_manifest(&vdir),
            Err(IndexError::Format { .. })
        ));

        // Saving over an existing index replaces it.
        loaded.save(&dir).unwrap();
        let manifest = persist::read_manifest(&dir).unwrap();
        assert_eq!(
            IvfIndex::load(&dir, &manifest)
                .unwrap()
                .search_batch(&queries, K, &SearchParams::default())
                .unwrap(),
            before
        );

        for file in persist::read_manifest(&dir).unwrap().files.keys() {
            let copy = tmp.path().join(format!("corrupt-{file}"));
            index.save(&copy).unwrap();
            let path = copy.join(file);
            let mut bytes = std::fs::read(&path).unwrap();
            let mid = bytes.len() / 2;
            bytes[mid] ^= 0x01;
            std::fs::write(&path, &bytes).unwrap();
            let manifest = persist::read_manifest(&copy).unwrap();
            match IvfIndex::load(&copy, &manifest) {
                Err(IndexError::Checksum { .. }) => {}
                other => panic!("flipped byte in {file}: expected a checksum error, got {other:?}"),
            }
            // Truncation is caught too.
            std::fs::write(&path, &bytes[..mid]).unwrap();
            assert!(matches!(
                IvfIndex::load(&copy, &manifest),
                Err(IndexError::Checksum { .. })
            ));
        }
    }
}

#[test]
fn deleted_ids_never_come_back() {
    for codes in [IvfCodes::Flat, IvfCodes::Pq { m: 8, bits: 6 }] {
        let (dim, base, queries) = small_set(Metric::L2);
        let n = base.len() / dim;
        let mut index =
            IvfIndex::build(&small_params(codes), dim, Metric::L2, &ids(n), &base).unwrap();
        // Remove every id the queries find first, plus every third id.
        let first = index.search_batch(&queries, K, &nprobe(32)).unwrap();
        let mut gone: Vec<u64> = first.iter().flatten().map(|h| h.id).collect();
        gone.extend((0..n as u64).step_by(3));
        gone.sort_unstable();
        gone.dedup();
        index.remove(&gone).unwrap();
        assert_eq!(index.len(), n - gone.len());
        for p in [1, 8, 32] {
            for hits in index.search_batch(&queries, K, &nprobe(p)).unwrap() {
                assert!(
                    hits.iter().all(|h| gone.binary_search(&h.id).is_err()),
                    "a deleted id came back"
                );
                if p == 32 {
                    assert_eq!(hits.len(), K, "k results when enough remain");
                }
            }
        }
        // Removing again is an unknown id, and nothing changes.
        let len = index.len();
        assert!(
            matches!(index.remove(&[gone[0]]), Err(IndexError::UnknownId { id }) if id == gone[0])
        );
        assert_eq!(index.len(), len);
        // Deleted ids stay deleted through save/load; re-adding one works.
        let tmp = tempfile::tempdir().unwrap();
        index.save(tmp.path().join("i").as_path()).unwrap();
        let manifest = persist::read_manifest(&tmp.path().join("i")).unwrap();
        let mut loaded = IvfIndex::load(&tmp.path().join("i"), &manifest).unwrap();
        assert_eq!(loaded.len(), len);
        let id = gone[0] as usize;
        loaded
            .add(&[gone[0]], &base[id * dim..(id + 1) * dim])
            .unwrap();
        let hits = loaded
            .search(&base[id * dim..(id + 1) * dim], 1, &nprobe(32))
            .unwrap();
        assert_eq!(hits[0].id, gone[0]);
    }
}

#[test]
fn concurrent_search_equals_serial() {
    for codes in [IvfCodes::Flat, IvfCodes::Pq { m: 8, bits: 6 }] {
        let (dim, base, queries) = small_set(Metric::Cosine);
        let n = base.len() / dim;
        let index =
            IvfIndex::build(&small_params(codes), dim, Metric::Cosine, &ids(n), &base).unwrap();
        let nq = queries.len() / dim;
        // Each query with its own nprobe, to check per-query parameters do not leak between threads.
        let params = |i: usize| nprobe(1 + i % 16);
        let serial: Vec<Vec<Hit>> = (0..nq)
            .map(|i| {
                index
                    .search(&queries[i * dim..(i + 1) * dim], K, &params(i))
                    .unwrap()
            })
            .collect();
        let index = &index;
        let queries = &queries;
        let parallel: Vec<Vec<Vec<Hit>>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|t| {
                    s.spawn(move || {
                        let mut out = Vec::new();
                        for round in 0..5 {
                            for i in (0..nq).map(|i| (i + t * 7 + round) % nq) {
                                out.push((
                                    i,
                                    index
                                        .search(&queries[i * dim..(i + 1) * dim], K, &params(i))
                                        .unwrap(),
                                ));
                            }
                        }
                        out.sort_by_key(|(i, _)| *i);
                        out.dedup_by_key(|(i, _)| *i);
                        out.into_iter().map(|(_, h)| h).collect()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for p in parallel {
            assert_eq!(p, serial);
        }
        // A batch equals the single queries when all share one nprobe.
        let batch = index.search_batch(queries, K, &nprobe(8)).unwrap();
        for (i, hits) in batch.iter().enumerate() {
            assert_eq!(
                hits,
                &index
                    .search(&queries[i * dim..(i + 1) * dim], K, &nprobe(8))
                    .unwrap()
            );
        }
    }
}

#[test]
fn errors_not_panics() {
    let (dim, base, queries) = small_set(Metric::L2);
    let n = base.len() / dim;
    let q = &queries[..dim];
    let p = small_params(IvfCodes::Flat);
    let mut index = IvfIndex::build(&p, dim, Metric::L2, &ids(n), &base).unwrap();

    // Wrong dimension: query, batch, add.
    assert!(matches!(
        index.search(&q[..dim - 1], K, &SearchParams::default()),
        Err(IndexError::Dimension { .. })
    ));
    assert!(matches!(
        index.search_batch(&queries[..dim + 1], K, &SearchParams::default()),
        Err(IndexError::Dimension { .. })
    ));
    assert!(index.add(&[1_000_000], &q[..dim - 1]).is_err());
    // NaN / infinity.
    let mut bad = q.to_vec();
    bad[3] = f32::NAN;
    assert!(matches!(
        index.add(&[1_000_000], &bad),
        Err(IndexError::NonFinite { id: 1_000_000 })
    ));
    assert!(index.search(&bad, K, &SearchParams::default()).is_err());
    bad[3] = f32::INFINITY;
    assert!(matches!(
        index.add(&[1_000_000], &bad),
        Err(IndexError::NonFinite { .. })
    ));
    let mut bad_base = base.clone();
    bad_base[5 * dim] = f32::NEG_INFINITY;
    assert!(matches!(
        IvfIndex::build(&p, dim, Metric::L2, &ids(n), &bad_base),
        Err(IndexError::NonFinite { id: 5 })
    ));
    // k = 0, nprobe = 0.
    assert!(matches!(
        index.search(q, 0, &SearchParams::default()),
        Err(IndexError::ZeroK)
    ));
    assert!(matches!(
        index.search(q, K, &nprobe(0)),
        Err(IndexError::InvalidParams { .. })
    ));
    // Duplicate and unknown ids; a failed call changes nothing.
    assert!(matches!(
        index.add(&[7], q),
        Err(IndexError::DuplicateId { id: 7 })
    ));
    assert!(matches!(
        index.remove(&[1, 999_999]),
        Err(IndexError::UnknownId { id: 999_999 })
    ));
    assert_eq!(index.len(), n);
    // Empty: every vector removed.
    index.remove(&ids(n)).unwrap();
    assert!(matches!(
        index.search(q, K, &SearchParams::default()),
        Err(IndexError::Empty)
    ));
    // Too few vectors to train, with a message that says what to do.
    assert!(matches!(
        IvfIndex::build(&p, dim, Metric::L2, &[], &[]),
        Err(IndexError::InvalidParams { .. })
    ));
    match IvfIndex::build(&p, dim, Metric::L2, &ids(10), &base[..10 * dim]) {
        Err(IndexError::InvalidParams { reason: msg }) => {
            assert!(msg.contains("too few vectors"), "{msg}")
        }
        other => panic!("expected too few vectors, got {other:?}"),
    }
    let pq = IvfParams {
        nlist: Some(4),
        codes: IvfCodes::Pq { m: 8, bits: 6 },
        ..p
    };
    match IvfIndex::build(&pq, dim, Metric::L2, &ids(50), &base[..50 * dim]) {
        Err(IndexError::InvalidParams { reason: msg }) => {
            assert!(msg.contains("too few vectors"), "{msg}")
        }
        other => panic!("expected too few vectors for PQ, got {other:?}"),
    }
    // Bad parameters.
    for codes in [
        IvfCodes::Pq { m: 5, bits: 8 },
        IvfCodes::Pq { m: 0, bits: 8 },
        IvfCodes::Pq { m: 8, bits: 17 },
        IvfCodes::Pq { m: 8, bits: 0 },
    ] {
        let bad = IvfParams { codes, ..p };
        assert!(
            matches!(
                IvfIndex::build(&bad, dim, Metric::L2, &ids(n), &base),
                Err(IndexError::InvalidParams { .. })
            ),
            "{codes:?}"
        );
    }
    for bad in [
        IvfParams {
            nlist: Some(0),
            ..p
        },
        IvfParams { nprobe: 0, ..p },
        IvfParams {
            train_size: Some(0),
            ..p
        },
    ] {
        assert!(matches!(
            IvfIndex::build(&bad, dim, Metric::L2, &ids(n), &base),
            Err(IndexError::InvalidParams { .. })
        ));
    }
    assert!(IvfIndex::build(&p, dim, Metric::L2, &[u64::MAX], &base[..dim]).is_err());
    // Loading another kind's folder or a missing folder is an error.
    let tmp = tempfile::tempdir().unwrap();
    assert!(persist::read_manifest(tmp.path()).is_err());
}

#[test]
fn add_after_build_and_config() {
    let (dim, base, _) = small_set(Metric::L2);
    let n = base.len() / dim;
    let half = n / 2;
    let mut index = IvfIndex::build(
        &small_params(IvfCodes::Pq { m: 8, bits: 6 }),
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
    assert!(index.memory_bytes() >= n * dim * 4);
    assert!(matches!(
        index.config(),
        IndexConfig::Ivf(IvfParams {
            nlist: Some(32),
            ..
        })
    ));
    // Every vector finds itself first with all lists visited (re-ranked exactly).
    for i in (0..n).step_by(97) {
        let hits = index
            .search(&base[i * dim..(i + 1) * dim], 3, &nprobe(32))
            .unwrap();
        assert_eq!(hits[0].id, i as u64);
        assert!(hits[0].score <= 1e-4);
    }
}
