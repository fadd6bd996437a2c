//! Shared test data: clustered synthetic vectors, Fashion-MNIST subsets, brute-force ground truth, recall.
#![allow(dead_code)]

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use std::io::Read;
use std::path::Path;
use vsearch_index::{Hit, Metric};

/// Debian dataset-fashion-mnist location.
pub const FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

/// `n` points around `clusters` Gaussian centres (N(0,1) centres, N(0, 0.35^2) spread), plus `nq`
/// queries from the same distribution.
pub fn clustered(
    n: usize,
    nq: usize,
    dim: usize,
    clusters: usize,
    seed: u64,
) -> (Vec<f32>, Vec<f32>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let normal = move |rng: &mut StdRng| -> f32 {
        let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
        let u2: f64 = rng.gen();
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    };
    let centres: Vec<f32> = (0..clusters * dim).map(|_| normal(&mut rng)).collect();
    let point = |rng: &mut StdRng| -> Vec<f32> {
        let c = rng.gen_range(0..clusters);
        (0..dim)
            .map(|j| centres[c * dim + j] + 0.35 * normal(rng))
            .collect()
    };
    let base = (0..n).flat_map(|_| point(&mut rng)).collect();
    let queries = (0..nq).flat_map(|_| point(&mut rng)).collect();
    (base, queries)
}

pub fn normalized(dim: usize, v: &[f32]) -> Vec<f32> {
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

/// Exact k nearest ids by brute force (ids are row numbers).
pub fn ground_truth(
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

pub fn recall(results: &[Vec<Hit>], truth: &[Vec<u64>], k: usize) -> f64 {
    let found: usize = results
        .iter()
        .zip(truth)
        .map(|(r, t)| r.iter().take(k).filter(|h| t[..k].contains(&h.id)).count())
        .sum();
    found as f64 / (truth.len() * k) as f64
}

pub fn ids(n: usize) -> Vec<u64> {
    (0..n as u64).collect()
}

/// Reads an IDX image file (gzip) as `n x (rows*cols)` f32 in [0, 1], at most `limit` images.
pub fn read_idx_images(path: &Path, limit: usize) -> (usize, Vec<f32>) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut bytes)
        .expect("gzip");
    assert_eq!(&bytes[..4], &[0, 0, 8, 3], "IDX magic of a u8 3-d array");
    let be = |o: usize| {
        u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as usize
    };
    let (n, rows, cols) = (be(4), be(8), be(12));
    let take = n.min(limit);
    let dim = rows * cols;
    let data = bytes[16..16 + take * dim]
        .iter()
        .map(|&b| b as f32 / 255.0)
        .collect();
    (dim, data)
}

/// A Fashion-MNIST subset: the first `n_base` training images and the first `n_queries` test images.
pub fn fashion_mnist(n_base: usize, n_queries: usize) -> (usize, Vec<f32>, Vec<f32>) {
    let dir = Path::new(FASHION_MNIST);
    let (dim, base) = read_idx_images(&dir.join("train-images-idx3-ubyte.gz"), n_base);
    let (_, queries) = read_idx_images(&dir.join("t10k-images-idx3-ubyte.gz"), n_queries);
    (dim, base, queries)
}
