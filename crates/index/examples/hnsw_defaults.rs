//! Sweeps HNSW M / ef_construction / ef_search on the data the tests use and prints recall@10 and
//! ms/query (single-threaded queries). `cargo run --release -p vsearch-index --example hnsw_defaults`
use std::path::Path;

/// (name, dim, metric, base, queries)
type Set = (String, usize, Metric, Vec<f32>, Vec<f32>);
use std::time::Instant;
use vsearch_index::eval::{clustered, ground_truth, read_idx_images, recall_at_k};
use vsearch_index::hnsw::HnswIndex;
use vsearch_index::{HnswParams, Metric, SearchParams, VectorIndex};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let nq = 300;
    let mut sets: Vec<Set> = Vec::new();
    for (dim, metric) in [(128, Metric::L2), (512, Metric::Cosine)] {
        let all = clustered(20_000 + nq, dim, 100, dim as u64);
        let (b, q) = all.split_at(20_000 * dim);
        sets.push((
            format!("clustered-{dim}"),
            dim,
            metric,
            b.to_vec(),
            q.to_vec(),
        ));
    }
    let dir = Path::new("/usr/share/datasets/fashion-mnist");
    let (_, dim, train) = read_idx_images(&dir.join("train-images-idx3-ubyte.gz"))?;
    let (_, _, test) = read_idx_images(&dir.join("t10k-images-idx3-ubyte.gz"))?;
    sets.push((
        "fashion-mnist-10k".into(),
        dim,
        Metric::L2,
        train[..10_000 * dim].to_vec(),
        test[..nq * dim].to_vec(),
    ));
    for (name, dim, metric, base, queries) in &sets {
        let truth = ground_truth(base, queries, *dim, *metric, 10)?;
        let ids: Vec<u64> = (0..(base.len() / dim) as u64).collect();
        for m in [8, 12, 16] {
            for efc in [64, 100, 200] {
                let t = Instant::now();
                let p = HnswParams {
                    m,
                    ef_construction: efc,
                    ef_search: 32,
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
