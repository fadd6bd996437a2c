//! Exact search driven two ways on an exported dataset: one `search` call per query (how `vsearch bench` times
//! every index kind, giving per-query latencies) and one `search_batch` call for all queries (blocked matrix
//! products; how FAISS's `IndexFlat` is driven by `scripts/bench_peers.py`).
//!
//! ```sh
//! vsearch bench --dataset fashion-mnist --k 10 --queries 1000 --export-dataset /tmp/fm
//! cargo run --release -p vsearch-bench --example flat_batch -- /tmp/fm 2   # folder, threads
//! ```

use std::path::PathBuf;
use std::time::Instant;
use vsearch_bench::measure::{pool, run_queries};
use vsearch_index::eval::{read_fvecs, read_ivecs, recall_at_k};
use vsearch_index::{IndexConfig, Metric, SearchParams};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: flat_batch DIR [THREADS]")?);
    let threads: usize = args.next().map(|t| t.parse()).transpose()?.unwrap_or(1);
    let k = 10;
    let base = read_fvecs(&dir.join("base.fvecs"))?;
    let queries = read_fvecs(&dir.join("query.fvecs"))?;
    let dim = base.dim;
    if queries.dim != dim {
        return Err(format!("queries are {}-d, base vectors {dim}-d", queries.dim).into());
    }
    let truth = read_ivecs(&dir.join("gt.ivecs"))?.id_rows();
    let ids: Vec<u64> = (0..base.len() as u64).collect();
    let (base, queries) = (base.values, queries.values);
    let pool = pool(threads)?;
    let index = vsearch_index::build(&IndexConfig::Flat, dim, Metric::L2, &ids, &base)?;
    let params = SearchParams::default();
    let nq = queries.len() / dim;
    println!(
        "flat, {} x {dim} base, {nq} queries, k = {k}, {threads} threads",
        ids.len()
    );

    let single = run_queries(index.as_ref(), &queries, dim, k, &params, &pool)?;
    println!(
        "one query per call:  {:>8.0} QPS, recall {:.4}, p50 {:.2} ms",
        single.qps,
        recall_at_k(&single.found, &truth, k),
        single.p50_ms
    );
    for _ in 0..3 {
        let t = Instant::now();
        let hits = pool.install(|| index.search_batch(&queries, k, &params))?;
        let s = t.elapsed().as_secs_f64();
        println!(
            "one batched call:    {:>8.0} QPS, recall {:.4}",
            nq as f64 / s,
            recall_at_k(&hits, &truth, k)
        );
    }
    Ok(())
}
