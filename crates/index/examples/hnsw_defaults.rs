//! Sweeps HNSW M / ef_construction / ef_search on the data the tests use and prints recall@10 and
//! ms/query (single-threaded queries). `cargo run --release -p vsearch-index --example hnsw_defaults`
use std::path::Path;
use std::time::Instant;
use vsearch_index::eval::{
    exact_neighbours, recall_at_k, ClusteredSpec, FashionMnist, PixelScale, FASHION_MNIST_DIR,
};
use vsearch_index::hnsw::HnswIndex;
use vsearch_index::{HnswParams, Metric, SearchParams, VectorIndex};

/// (name, dim, metric, base, queries)
type Set = (String, usize, Metric, Vec<f32>, Vec<f32>);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let nq = 300;
    let mut sets: Vec<Set> = Vec::new();
    // The tests' recall sets (crates/index/tests/common).
    for (dim, metric, seed) in [(128, Metric::L2, 1), (512, Metric::Cosine, 2)] {
        let data = ClusteredSpec {
            n: 20_000,
            queries: nq,
            dim,
            clusters: 100,
            sigma: 0.2,
            seed,
        }
        .generate();
        sets.push((
            format!("clustered-{dim}"),
            dim,
            metric,
            data.base,
            data.queries,
        ));
    }
    let fm = FashionMnist::read(Path::new(FASHION_MNIST_DIR))?;
    sets.push((
        "fashion-mnist-10k".into(),
        fm.train.dim,
        Metric::L2,
        fm.train.vectors(PixelScale::Unit, 10_000),
        fm.test.vectors(PixelScale::Unit, nq),
    ));
    for (name, dim, metric, base, queries) in &sets {
        let ids: Vec<u64> = (0..(base.len() / dim) as u64).collect();
        let truth = exact_neighbours(*dim, *metric, &ids, base, queries, 10)?;
        for m in [8, 12, 16] {
            for efc in [64, 100, 200] {
                let t = Instant::now();
                let p = HnswParams {
                    m,
                    ef_construction: efc,
                    ef_search: 32,
                    quantization: None,
                };
                let index = HnswIndex::build(&p, *dim, *metric, &ids, base)?;
                let build_s = t.elapsed().as_secs_f64();
                let mut line = format!("{name} M={m} efc={efc} build {build_s:.1}s |");
                for ef in [16, 24, 32, 48, 64] {
                    let sp = SearchParams {
                        ef_search: Some(ef),
                        ..Default::default()
                    };
                    let t = Instant::now();
                    let res: Vec<_> = queries
                        .chunks_exact(*dim)
                        .map(|q| index.search(q, 10, &sp))
                        .collect::<Result<_, _>>()?;
                    let ms = t.elapsed().as_secs_f64() * 1e3 / (queries.len() / dim) as f64;
                    line += &format!(" ef={ef}: {:.3} {ms:.3}ms", recall_at_k(&res, &truth, 10));
                }
                println!("{line}");
            }
        }
    }
    Ok(())
}
