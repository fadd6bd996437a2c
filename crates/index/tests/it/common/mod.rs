//! Shared test data, drawn from `vsearch_index::eval`: clustered synthetic vectors, Fashion-MNIST subsets,
//! exact ground truth, recall, and the three sets the recall targets are checked on.

use std::path::Path;
use vsearch_index::eval::{self, ClusteredSpec, FashionMnist, PixelScale};
use vsearch_index::{IvfCodes, IvfParams, Metric, SearchParams};

#[allow(unused_imports)]
pub use vsearch_index::eval::recall_at_k as recall;

/// Noise of the test sets around their centres: 0.35 of the centres' spread (`1/sqrt(3)`).
pub const SIGMA: f32 = 0.2;

/// `n` base vectors and `nq` queries of dimension `dim` around `clusters` centres, noise [`SIGMA`].
pub fn clustered(
    n: usize,
    nq: usize,
    dim: usize,
    clusters: usize,
    seed: u64,
) -> (Vec<f32>, Vec<f32>) {
    let data = ClusteredSpec {
        n,
        queries: nq,
        dim,
        clusters,
        sigma: SIGMA,
        seed,
    }
    .generate();
    (data.base, data.queries)
}

/// Exact k nearest ids (ids are row numbers), by the flat index.
pub fn ground_truth(
    dim: usize,
    metric: Metric,
    base: &[f32],
    queries: &[f32],
    k: usize,
) -> Vec<Vec<u64>> {
    eval::exact_neighbours(dim, metric, &ids(base.len() / dim), base, queries, k)
        .expect("exact ground truth")
}

/// Ids `0..n`.
pub fn ids(n: usize) -> Vec<u64> {
    (0..n as u64).collect()
}

/// A Fashion-MNIST subset, pixels in `[0, 1]`: the first `n_base` training images and the first
/// `n_queries` test images, as `(dim, base, queries)`.
pub fn fashion_mnist(n_base: usize, n_queries: usize) -> (usize, Vec<f32>, Vec<f32>) {
    let fm = FashionMnist::read(Path::new(eval::FASHION_MNIST_DIR)).unwrap_or_else(|e| {
        panic!("{e}; install Debian's dataset-fashion-mnist");
    });
    (
        fm.train.dim,
        fm.train.vectors(PixelScale::Unit, n_base),
        fm.test.vectors(PixelScale::Unit, n_queries),
    )
}

/// Data a recall target is checked on.
pub struct RecallSet {
    pub name: &'static str,
    pub dim: usize,
    pub metric: Metric,
    pub base: Vec<f32>,
    pub queries: Vec<f32>,
}

/// Queries of every recall set.
pub const RECALL_QUERIES: usize = 300;

fn clustered_set(name: &'static str, dim: usize, metric: Metric, seed: u64) -> RecallSet {
    let (base, queries) = clustered(20_000, RECALL_QUERIES, dim, 100, seed);
    RecallSet {
        name,
        dim,
        metric,
        base,
        queries,
    }
}

/// 20,000 clustered 128-d vectors (100 centres), L2.
pub fn clustered_128() -> RecallSet {
    clustered_set("clustered-128", 128, Metric::L2, 1)
}

/// 20,000 clustered 512-d vectors (100 centres), cosine.
pub fn clustered_512() -> RecallSet {
    clustered_set("clustered-512", 512, Metric::Cosine, 2)
}

/// The first 10,000 Fashion-MNIST training images, L2.
pub fn fashion_mnist_10k() -> RecallSet {
    let (dim, base, queries) = fashion_mnist(10_000, RECALL_QUERIES);
    RecallSet {
        name: "fashion-mnist-10k",
        dim,
        metric: Metric::L2,
        base,
        queries,
    }
}

/// IVF search parameters visiting `n` lists.
#[allow(dead_code)]
pub fn nprobe(n: usize) -> SearchParams {
    SearchParams {
        nprobe: Some(n),
        ..Default::default()
    }
}

/// The small IVF tests' data: 3,000 clustered vectors of dimension 32 (20 centres) and 50 queries, drawn
/// with `seed`, as `(dim, base, queries)`.
#[allow(dead_code)]
pub fn small_ivf_set(seed: u64) -> (usize, Vec<f32>, Vec<f32>) {
    let dim = 32;
    let (base, queries) = clustered(3_000, 50, dim, 20, seed);
    (dim, base, queries)
}

/// The small IVF tests' build: 32 lists, nprobe 8, re-ranking on, `codes`, trained on `train_size` vectors.
#[allow(dead_code)]
pub fn small_ivf_params(codes: IvfCodes, train_size: Option<usize>) -> IvfParams {
    IvfParams {
        nlist: Some(32),
        nprobe: 8,
        codes,
        rerank: true,
        train_size,
    }
}
