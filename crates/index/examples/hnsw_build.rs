//! HNSW build time: hnsw_rs's inserts, then the compact layout and its link repair (the split is logged
//! at debug level), with recall@10 of the built index at a few ef, so that a faster build is seen not to
//! cost graph quality. M = 16, ef_construction = 100, ROUNDS builds (default 1). Threads: rayon's, so
//! `RAYON_NUM_THREADS=1` for one. The rows: Fashion-MNIST (Debian `dataset-fashion-mnist`, L2, the first
//! N_BASE training images, default 60000; 1,000 test queries), or DATA, a dataset exported by
//! `vsearch bench` (base.fvecs, query.fvecs, dataset.json: its metric), such as the neural-embedding set.
//!
//! `RAYON_NUM_THREADS=1 cargo run --release -p vsearch-index --example hnsw_build [N_BASE | DATA] [ROUNDS]`
//!
//! hnswlib's build of the same rows, for the ratio, is `scripts/hnswlib_build.py` (run the two in turn).
//! `HNSW_BUILD_FINGERPRINT=1` also prints the checksum of the saved hnsw_rs graph file, which tells
//! whether a change to the insert path changed the graph it builds (one thread: builds are repeatable).

use std::path::Path;
use std::time::Instant;
use vsearch_index::eval::{
    exact_neighbours, read_fvecs, recall_at_k, FashionMnist, PixelScale, FASHION_MNIST_DIR,
};
use vsearch_index::hnsw::HnswIndex;
use vsearch_index::{HnswParams, Metric, SearchParams, VectorIndex};

const K: usize = 10;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "vsearch_index=debug".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut args = std::env::args().skip(1);
    let rows = args.next().unwrap_or_else(|| "60000".into());
    let rounds: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1);

    let (name, dim, metric, base, queries) = match rows.parse::<usize>() {
        Ok(n_base) => {
            let fm = FashionMnist::read(Path::new(FASHION_MNIST_DIR))?;
            let n = n_base.min(fm.train.len());
            (
                format!("fashion-mnist {n}"),
                fm.train.dim,
                Metric::L2,
                fm.train.vectors(PixelScale::Unit, n),
                fm.test.vectors(PixelScale::Unit, 1_000),
            )
        }
        Err(_) => {
            let dir = Path::new(&rows);
            let meta: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dir.join("dataset.json"))?)?;
            let metric = match meta["metric"].as_str() {
                Some("cosine") => Metric::Cosine,
                Some("l2") => Metric::L2,
                other => return Err(format!("{}: metric {other:?}", rows).into()),
            };
            let base = read_fvecs(&dir.join("base.fvecs"))?;
            let queries = read_fvecs(&dir.join("query.fvecs"))?;
            if queries.dim != base.dim {
                return Err(format!(
                    "{rows}: queries of dimension {}, base {}",
                    queries.dim, base.dim
                )
                .into());
            }
            let name = meta["name"].as_str().unwrap_or("dataset").to_string();
            (name, base.dim, metric, base.values, queries.values)
        }
    };
    let n = base.len() / dim;
    let ids: Vec<u64> = (0..n as u64).collect();
    let truth = exact_neighbours(dim, metric, &ids, &base, &queries, K)?;
    let params = HnswParams {
        m: 16,
        ef_construction: 100,
        ef_search: 32,
        quantization: None,
    };
    println!(
        "{name} x {dim}, {metric:?}, M=16 ef_construction=100, {} threads",
        rayon::current_num_threads()
    );
    for round in 1..=rounds {
        let t = Instant::now();
        let index = HnswIndex::build(&params, dim, metric, &ids, &base)?;
        let build = t.elapsed().as_secs_f64();
        let mut recalls = Vec::new();
        for ef in [16, 32, 64] {
            let p = SearchParams {
                ef_search: Some(ef),
                ..Default::default()
            };
            let results = queries
                .chunks_exact(dim)
                .map(|q| index.search(q, K, &p))
                .collect::<Result<Vec<_>, _>>()?;
            recalls.push(format!("ef {ef} {:.4}", recall_at_k(&results, &truth, K)));
        }
        println!(
            "round {round}: build {build:.2} s; recall@10 {}",
            recalls.join(", ")
        );
        if std::env::var_os("HNSW_BUILD_FINGERPRINT").is_some() {
            // The saved graph's checksum: builds at one thread of the same rows must give the same.
            let dir = tempfile::tempdir()?;
            index.save(dir.path())?;
            let graph = std::fs::read(dir.path().join("graph.hnsw.graph"))?;
            println!("graph.hnsw.graph crc32 {:08x}", crc32fast::hash(&graph));
        }
    }
    Ok(())
}
