//! HNSW search cost: the compact search layout against hnsw_rs's own search on the same graph (M = 16,
//! ef_construction = 100). Per ef: recall@10 against exact search, mean distance evaluations per query
//! and single-thread queries per second.
//!
//! `RAYON_NUM_THREADS=1 cargo run --release -p vsearch-index --example hnsw_ndis [N_BASE] [N_QUERIES]`
//!
//! Data: Fashion-MNIST (Debian `dataset-fashion-mnist`, L2; the first N_BASE training images, default
//! 60000, and the first N_QUERIES test images, default 1000), or 20k clustered synthetic vectors
//! (d = 128, L2) when it is not installed.

use std::path::Path;
use std::time::Instant;
use vsearch_index::eval::{
    exact_neighbours, recall_at_k, ClusteredSpec, FashionMnist, PixelScale, FASHION_MNIST_DIR,
};
use vsearch_index::hnsw::{HnswIndex, SearchStats};
use vsearch_index::{Hit, HnswParams, Metric, SearchParams};

const K: usize = 10;

type Search =
    fn(&HnswIndex, &[f32], usize, &SearchParams) -> vsearch_index::Result<(Vec<Hit>, SearchStats)>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n_base: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(60_000);
    let n_queries: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1_000);

    let dir = Path::new(FASHION_MNIST_DIR);
    let (name, dim, base, queries) = if let Ok(fm) = FashionMnist::read(dir) {
        let dim = fm.train.dim;
        let (nb, nq) = (n_base.min(fm.train.len()), n_queries.min(fm.test.len()));
        (
            format!("fashion-mnist {nb} x {dim}, {nq} queries"),
            dim,
            fm.train.vectors(PixelScale::Unit, nb),
            fm.test.vectors(PixelScale::Unit, nq),
        )
    } else {
        let spec = ClusteredSpec {
            n: n_base.min(20_000),
            queries: n_queries,
            seed: 7,
            ..ClusteredSpec::default()
        };
        let data = spec.generate();
        (
            format!(
                "clustered {} x {} (sigma {}), {} queries",
                spec.n, spec.dim, spec.sigma, spec.queries
            ),
            spec.dim,
            data.base,
            data.queries,
        )
    };
    let metric = Metric::L2;
    let n = base.len() / dim;
    let nq = queries.len() / dim;
    println!("{name}, L2, M=16 ef_construction=100");

    let ids: Vec<u64> = (0..n as u64).collect();
    let truth = exact_neighbours(dim, metric, &ids, &base, &queries, K)?;
    let params = HnswParams {
        m: 16,
        ef_construction: 100,
        ef_search: 32,
        quantization: None,
    };
    let t = Instant::now();
    let index = HnswIndex::build(&params, dim, metric, &ids, &base)?;
    println!("build {:.1} s", t.elapsed().as_secs_f64());

    let searches: [(&str, Search); 2] = [
        ("hnsw_rs", HnswIndex::search_hnsw_rs_with_stats),
        ("compact", HnswIndex::search_with_stats),
    ];
    println!(
        "{:>4} {:>8} {:>9} {:>10} {:>9} | {:>9} {:>10} {:>9} | {:>7}",
        "ef", "", "recall@10", "ndis/query", "QPS", "recall@10", "ndis/query", "QPS", "QPS x"
    );
    for ef in [16, 32, 64, 128] {
        let p = SearchParams {
            ef_search: Some(ef),
            ..Default::default()
        };
        let mut cells = Vec::new();
        let mut qps = Vec::new();
        for (_, search) in searches {
            // One warm-up pass, then the timed one.
            for q in queries.chunks_exact(dim).take(100) {
                search(&index, q, K, &p)?;
            }
            let t = Instant::now();
            let mut results = Vec::with_capacity(nq);
            let mut evals = 0usize;
            for q in queries.chunks_exact(dim) {
                let (hits, stats) = search(&index, q, K, &p)?;
                evals += stats.distance_evals;
                results.push(hits);
            }
            let rate = nq as f64 / t.elapsed().as_secs_f64();
            qps.push(rate);
            cells.push(format!(
                "{:>9.4} {:>10.1} {:>9.0}",
                recall_at_k(&results, &truth, K),
                evals as f64 / nq as f64,
                rate
            ));
        }
        println!(
            "{ef:>4} {:>8} {} | {} | {:>7.2}",
            "rs|cmp",
            cells[0],
            cells[1],
            qps[1] / qps[0]
        );
    }
    Ok(())
}
