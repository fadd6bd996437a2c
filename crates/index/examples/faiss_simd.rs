//! Search throughput of FAISS IVF-Flat and IVF-PQ on fixed data, to compare FAISS builds (generic x86-64
//! against AVX2). See crates/index/FAISS.md for how each build is made and the figures.
//!
//! `cargo run --release -p vsearch-index --example faiss_simd` (set `OMP_NUM_THREADS=1` for one thread).

use faiss::index::SearchWithParamsMut;
use faiss::search_params::SearchParametersIVF;
use faiss::{index_factory, Index, MetricType};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::Read;
use std::time::Instant;

const N: usize = 20_000;
const NQ: usize = 1_000;
const NLIST: usize = 512;
const NPROBE: usize = 16;
const K: usize = 10;

fn clustered(n: usize, dim: usize, clusters: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let normal = |rng: &mut StdRng| -> f32 {
        let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
        let u2: f64 = rng.gen();
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    };
    let centres: Vec<f32> = (0..clusters * dim).map(|_| normal(&mut rng)).collect();
    (0..n)
        .flat_map(|_| {
            let c = rng.gen_range(0..clusters);
            (0..dim)
                .map(|j| centres[c * dim + j] + 0.35 * normal(&mut rng))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn idx_images(path: &str, limit: usize) -> Result<Vec<f32>, Box<dyn std::error::Error>> {
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path)?).read_to_end(&mut bytes)?;
    let n = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
    Ok(bytes[16..16 + n.min(limit) * 784]
        .iter()
        .map(|&b| b as f32 / 255.0)
        .collect())
}

/// Best of three runs, queries per second.
fn best_qps(mut run: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            run();
            NQ as f64 / t.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max)
}

fn bench(
    name: &str,
    dim: usize,
    base: &[f32],
    queries: &[f32],
) -> Result<(), Box<dyn std::error::Error>> {
    for desc in [
        format!("IVF{NLIST},Flat"),
        format!("IVF{NLIST},PQ{}x8np", dim / 4),
    ] {
        let mut index = index_factory(dim as u32, &desc, MetricType::L2)?;
        let t = Instant::now();
        index.train(&base[..10_000 * dim])?;
        let train_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        index.add(base)?;
        let add_s = t.elapsed().as_secs_f64();
        let mut sp = SearchParametersIVF::new()?;
        sp.set_nprobe(NPROBE);
        let sp = sp.upcast();
        let single = best_qps(|| {
            for q in queries.chunks_exact(dim) {
                index.search_with_params(q, K, &sp).expect("search");
            }
        });
        let batch = best_qps(|| {
            index.search_with_params(queries, K, &sp).expect("search");
        });
        println!("| {name} | {desc} | {single:.0} | {batch:.0} | {train_s:.2} | {add_s:.2} |");
    }
    Ok(())
}

pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("| data | index (nprobe {NPROBE}) | QPS one query at a time | QPS batch of {NQ} | train s | add s |");
    println!("|---|---|---|---|---|---|");
    let synth = clustered(N + NQ, 128, 100, 42);
    bench("clustered d=128", 128, &synth[..N * 128], &synth[N * 128..])?;
    let dir = "/usr/share/datasets/fashion-mnist";
    let base = idx_images(&format!("{dir}/train-images-idx3-ubyte.gz"), N)?;
    let queries = idx_images(&format!("{dir}/t10k-images-idx3-ubyte.gz"), NQ)?;
    bench("fashion-mnist d=784", 784, &base, &queries)?;
    Ok(())
}
