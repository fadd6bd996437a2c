//! IVF-Flat batched search throughput and memory: 20,000 Fashion-MNIST training images (d = 784, queries from
//! t10k) when the Debian dataset is installed, else 20,000 clustered synthetic vectors (d = 128); nlist 512,
//! nprobe 16, k = 10, L2.
//!
//! `cargo run --release -p vsearch-index --example ivf_batch [threads]` (FAISS threads; default 1).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::Read;
use std::time::Instant;
use vsearch_index::ivf::IvfIndex;
use vsearch_index::{IvfCodes, IvfParams, Metric, SearchParams, VectorIndex};

const N: usize = 20_000;
const NQ: usize = 1_000;
const K: usize = 10;
const FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

fn clustered(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let centres: Vec<f32> = (0..100 * dim).map(|_| rng.gen_range(-1.0..1.0)).collect();
    (0..n)
        .flat_map(|_| {
            let c = rng.gen_range(0..100);
            (0..dim)
                .map(|j| centres[c * dim + j] + 0.3 * (rng.gen::<f32>() - 0.5))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn idx_images(path: &str, limit: usize) -> Result<Vec<f32>, Box<dyn std::error::Error>> {
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path)?).read_to_end(&mut bytes)?;
    let n = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
    let take = n.min(limit) * 784;
    let body = bytes.get(16..16 + take).ok_or("truncated idx file")?;
    Ok(body.iter().map(|&b| b as f32 / 255.0).collect())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let threads: usize = std::env::args()
        .nth(1)
        .map(|t| t.parse())
        .transpose()?
        .unwrap_or(1);
    vsearch_index::set_threads(threads);
    let (name, dim, base, queries) = match (
        idx_images(&format!("{FASHION_MNIST}/train-images-idx3-ubyte.gz"), N),
        idx_images(&format!("{FASHION_MNIST}/t10k-images-idx3-ubyte.gz"), NQ),
    ) {
        (Ok(b), Ok(q)) => ("fashion-mnist", 784, b, q),
        _ => {
            let all = clustered(N + NQ, 128, 42);
            let (b, q) = all.split_at(N * 128);
            ("clustered", 128, b.to_vec(), q.to_vec())
        }
    };
    let n = base.len() / dim;
    let ids: Vec<u64> = (0..n as u64).collect();
    let params = IvfParams {
        nlist: Some(512),
        nprobe: 16,
        codes: IvfCodes::Flat,
        rerank: false,
        train_size: Some(10_000),
    };
    let t = Instant::now();
    let index = IvfIndex::build(&params, dim, Metric::L2, &ids, &base)?;
    let build_s = t.elapsed().as_secs_f64();
    let sp = SearchParams::default();
    let best = |run: &dyn Fn() -> Result<(), vsearch_index::IndexError>| {
        let mut best = 0f64;
        for _ in 0..3 {
            let t = Instant::now();
            run()?;
            best = best.max((queries.len() / dim) as f64 / t.elapsed().as_secs_f64());
        }
        Ok::<f64, vsearch_index::IndexError>(best)
    };
    let batch = best(&|| index.search_batch(&queries, K, &sp).map(drop))?;
    let single = best(&|| {
        for q in queries.chunks_exact(dim) {
            index.search(q, K, &sp)?;
        }
        Ok(())
    })?;
    println!(
        "{name}: {n} x {dim}, IVF512,Flat nprobe 16, {threads} FAISS thread(s), kernels {}: build {build_s:.2} s, \
         memory_bytes {:.1} MiB (vectors {:.1} MiB), QPS batch {batch:.0}, single {single:.0}",
        vsearch_index::simd_level(),
        index.memory_bytes() as f64 / (1 << 20) as f64,
        (n * dim * 4) as f64 / (1 << 20) as f64,
    );
    Ok(())
}
