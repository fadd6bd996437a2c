//! IVF batched search answers as one query at a time (the same ids for IVF-Flat and re-ranked IVF-PQ, the same
//! up to float-rounding ties for IVF-PQ without re-ranking; with deletes and later adds); IVF-Flat keeps its vectors once (in FAISS), in memory and on disk; FAISS's thread count is set.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vsearch_index::ivf::IvfIndex;
use vsearch_index::{persist, Hit, IvfCodes, IvfParams, Metric, SearchParams, VectorIndex};

const K: usize = 10;
/// Batch and single scores agree to this (relative): FAISS computes a batch's query-centroid distances as a
/// matrix product (BLAS), and a single query's are computed one by one (IVF-Flat: by vsearch's own
/// distance kernels, which choose the lists FAISS then scans; the other codes: by FAISS's SIMD loop), which
/// round differently.
const SCORE_TOL: f32 = 1e-4;

/// Whether batch and single search give exactly the same ids. IVF-Flat: its scores are computed from the
/// vectors alone, the same way in both. IVF-PQ re-ranked: exact scores again. IVF-PQ without re-ranking
/// (L2, by residual): every score includes the query-centroid distance, whose rounding differs between the
/// two (see [`SCORE_TOL`]), so two candidates whose scores tie to within that rounding may swap.
fn exact_ids(codes: IvfCodes, rerank: bool) -> bool {
    codes == IvfCodes::Flat || rerank
}

/// `got` equals `want` except for ids whose scores tie, within [`SCORE_TOL`], with a different id at the
/// same rank.
fn same_up_to_near_ties(got: &[Hit], want: &[Hit], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (rank, (g, w)) in got.iter().zip(want).enumerate() {
        if g.id != w.id {
            assert!(
                (g.score - w.score).abs() <= SCORE_TOL * w.score.abs().max(1.0),
                "{what}: rank {rank}: id {} ({}) against {} ({}) is not a near tie",
                g.id,
                g.score,
                w.id,
                w.score
            );
        }
    }
}

/// `n` base points and `nq` queries around 20 Gaussian-ish centres (sums of uniforms), seeded.
fn clustered(n: usize, nq: usize, dim: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let centres: Vec<f32> = (0..20 * dim).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let point = |rng: &mut StdRng| -> Vec<f32> {
        let c = rng.gen_range(0..20);
        (0..dim)
            .map(|j| centres[c * dim + j] + 0.3 * (rng.gen::<f32>() + rng.gen::<f32>() - 1.0))
            .collect()
    };
    let base = (0..n).flat_map(|_| point(&mut rng)).collect();
    let queries = (0..nq).flat_map(|_| point(&mut rng)).collect();
    (base, queries)
}

fn params(codes: IvfCodes, rerank: bool) -> IvfParams {
    IvfParams {
        nlist: Some(32),
        nprobe: 6,
        codes,
        rerank,
        train_size: None,
    }
}

/// Builds, deletes every fifth id, adds 200 new ones, and checks batch against one-at-a-time search.
fn batch_equals_single(codes: IvfCodes, rerank: bool, metric: Metric) {
    let dim = 32;
    let n = 3_000;
    let (base, queries) = clustered(n + 200, 250, dim, 5);
    let ids: Vec<u64> = (0..n as u64).map(|i| i * 3 + 1).collect();
    let mut index =
        IvfIndex::build(&params(codes, rerank), dim, metric, &ids, &base[..n * dim]).unwrap();
    let gone: Vec<u64> = ids.iter().copied().step_by(5).collect();
    index.remove(&gone).unwrap();
    let later: Vec<u64> = (0..200u64).map(|i| 100_000 + i).collect();
    index.add(&later, &base[n * dim..]).unwrap();
    for nprobe in [1, 6, 32] {
        let sp = SearchParams {
            nprobe: Some(nprobe),
            ..Default::default()
        };
        let batch = index.search_batch(&queries, K, &sp).unwrap();
        assert_eq!(batch.len(), queries.len() / dim);
        for (qi, (q, got)) in queries.chunks_exact(dim).zip(&batch).enumerate() {
            let single = index.search(q, K, &sp).unwrap();
            let what = format!("{codes:?} rerank {rerank} {metric:?} nprobe {nprobe}: query {qi}");
            for (g, w) in got.iter().zip(&single) {
                assert!(
                    (g.score - w.score).abs() <= SCORE_TOL * w.score.abs().max(1.0),
                    "{what}: score {} against {}",
                    g.score,
                    w.score
                );
            }
            if exact_ids(codes, rerank) {
                let got_ids: Vec<u64> = got.iter().map(|h| h.id).collect();
                let want_ids: Vec<u64> = single.iter().map(|h| h.id).collect();
                assert_eq!(got_ids, want_ids, "{what}");
            } else {
                same_up_to_near_ties(got, &single, &what);
            }
            assert!(got.iter().all(|h| !gone.contains(&h.id)));
        }
    }
}

#[test]
fn flat_batch_equals_single() {
    batch_equals_single(IvfCodes::Flat, false, Metric::L2);
    batch_equals_single(IvfCodes::Flat, false, Metric::Cosine);
}

#[test]
fn pq_batch_equals_single() {
    let pq = IvfCodes::Pq { m: 8, bits: 6 };
    batch_equals_single(pq, true, Metric::L2);
    batch_equals_single(pq, true, Metric::Cosine);
    batch_equals_single(pq, false, Metric::L2);
}

#[test]
fn sq8_batch_equals_single() {
    batch_equals_single(IvfCodes::Sq8, true, Metric::L2);
    batch_equals_single(IvfCodes::Sq8, true, Metric::Cosine);
    batch_equals_single(IvfCodes::Sq8, false, Metric::L2);
}

#[test]
fn pq4fs_batch_equals_single() {
    let fs = IvfCodes::PqFastScan { m: 16 };
    batch_equals_single(fs, true, Metric::L2);
    batch_equals_single(fs, true, Metric::Cosine);
    batch_equals_single(fs, false, Metric::L2);
}

#[test]
fn flat_keeps_its_vectors_once() {
    let dim = 128;
    let n = 4_000;
    let (base, queries) = clustered(n, 20, dim, 6);
    let ids: Vec<u64> = (0..n as u64).collect();
    let flat =
        IvfIndex::build(&params(IvfCodes::Flat, false), dim, Metric::L2, &ids, &base).unwrap();
    let vectors = n * dim * 4;
    // FAISS's codes are the vectors; ids, the id map and centroids add far less than a second copy.
    assert!(
        flat.memory_bytes() < vectors * 3 / 2,
        "IVF-Flat holds {} bytes for {vectors} bytes of vectors",
        flat.memory_bytes()
    );
    let pq = IvfIndex::build(
        &params(IvfCodes::Pq { m: 16, bits: 8 }, true),
        dim,
        Metric::L2,
        &ids,
        &base,
    )
    .unwrap();
    assert!(
        pq.memory_bytes() >= vectors,
        "IVF-PQ keeps raw vectors to re-rank"
    );

    // On disk: no vectors.bin beside faiss.index; an index saved with one (the older layout) still loads.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("flat");
    flat.save(&dir).unwrap();
    assert!(!dir.join("vectors.bin").exists());
    let want = flat
        .search_batch(&queries, K, &SearchParams::default())
        .unwrap();
    let manifest = persist::read_manifest(&dir).unwrap();
    let loaded = IvfIndex::load(&dir, &manifest).unwrap();
    assert_eq!(
        loaded
            .search_batch(&queries, K, &SearchParams::default())
            .unwrap(),
        want
    );
    // One query at a time (the loaded index's own coarse step, then FAISS's scan of the lists it found):
    // the same ids, at every nprobe.
    for nprobe in [1, 6, 32, 1000] {
        let sp = SearchParams {
            nprobe: Some(nprobe),
            ..Default::default()
        };
        let batch = loaded.search_batch(&queries, K, &sp).unwrap();
        for (q, want) in queries.chunks_exact(dim).zip(&batch) {
            let got: Vec<u64> = loaded
                .search(q, K, &sp)
                .unwrap()
                .iter()
                .map(|h| h.id)
                .collect();
            let want: Vec<u64> = want.iter().map(|h| h.id).collect();
            assert_eq!(got, want, "loaded, nprobe {nprobe}");
        }
    }
    let older = tmp.path().join("older");
    let faiss = std::fs::read(dir.join("faiss.index")).unwrap();
    let id_bytes = std::fs::read(dir.join("ids.bin")).unwrap();
    let vec_bytes = vsearch_core::codec::to_le_bytes(&base);
    persist::save_dir(
        &older,
        manifest.clone(),
        &[
            ("faiss.index", &faiss),
            ("ids.bin", &id_bytes),
            ("vectors.bin", &vec_bytes),
        ],
    )
    .unwrap();
    let manifest = persist::read_manifest(&older).unwrap();
    let loaded = IvfIndex::load(&older, &manifest).unwrap();
    assert_eq!(
        loaded
            .search_batch(&queries, K, &SearchParams::default())
            .unwrap(),
        want
    );
}

#[test]
fn set_threads_reaches_every_calling_thread() {
    vsearch_index::set_threads(2);
    assert_eq!(vsearch_index::ivf::threads(), 2);
    let other = std::thread::spawn(vsearch_index::ivf::threads)
        .join()
        .unwrap();
    assert_eq!(other, 2);
    let in_pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(vsearch_index::ivf::threads);
    assert_eq!(in_pool, 2);
}

/// The BLAS under FAISS is read at run time: on a machine where `scripts/install_system_deps.sh` selected
/// OpenBLAS's OpenMP build (Debian's alternatives), that is the build loaded, and it says so.
#[test]
fn the_blas_under_faiss_is_the_selected_openblas_build() {
    use vsearch_index::ivf::{blas, BlasThreading};
    let info = blas();
    let selected = std::fs::read_link("/etc/alternatives/libblas.so.3-x86_64-linux-gnu")
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    if selected.contains("openblas-openmp") {
        assert_eq!(info.threading, BlasThreading::OpenMp, "{info}");
        assert!(
            info.config.as_deref().unwrap_or("").contains("OpenBLAS"),
            "{info}"
        );
    } else if selected.contains("openblas-pthread") {
        assert_eq!(info.threading, BlasThreading::Pthreads, "{info}");
    }
    // Whatever BLAS is loaded, FAISS still trains and searches with the requested threads.
    vsearch_index::set_threads(2);
    assert_eq!(vsearch_index::ivf::threads(), 2);
}
