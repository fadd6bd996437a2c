//! Search throughput of FAISS IVF-Flat and IVF-PQ on fixed data, to compare FAISS builds (generic x86-64
//! against AVX2). See crates/index/FAISS.md for how each build is made and the figures.
//!
//! `cargo run --release -p vsearch-index --example faiss_simd` (set `OMP_NUM_THREADS=1` for one thread).

use faiss::index::SearchWithParamsMut;
use faiss::search_params::SearchParametersIVF;
use faiss::{index_factory, Index, MetricType};
use std::path::Path;
use std::time::Instant;
use vsearch_index::eval::{ClusteredSpec, FashionMnist, PixelScale, FASHION_MNIST_DIR};

const N: usize = 20_000;
const NQ: usize = 1_000;
const NLIST: usize = 512;
const NPROBE: usize = 16;
const K: usize = 10;

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
    let synth = ClusteredSpec {
        n: N,
        queries: NQ,
        dim: 128,
        clusters: 100,
        sigma: 0.2,
        seed: 42,
    }
    .generate();
    bench("clustered d=128", 128, &synth.base, &synth.queries)?;
    let fm = FashionMnist::read(Path::new(FASHION_MNIST_DIR))?;
    bench(
        "fashion-mnist d=784",
        fm.train.dim,
        &fm.train.vectors(PixelScale::Unit, N),
        &fm.test.vectors(PixelScale::Unit, NQ),
    )?;
    Ok(())
}
