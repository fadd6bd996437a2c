//! `vsearch bench`: sweep HNSW, IVF-Flat, IVF-PQ and exact search on a dataset, or merge peers' results.

use anyhow::Context;
use std::io::IsTerminal;
use std::path::PathBuf;
use vsearch_bench::{BenchOptions, DatasetSpec, Results};

/// Arguments of `vsearch bench`.
#[derive(clap::Args)]
pub struct Args {
    // The dataset forms come from vsearch-bench, which defines them once.
    #[arg(long, help = format!(
        "{} (a collection's queries are held out of its embeddings)",
        vsearch_bench::dataset::dataset_forms()
    ))]
    dataset: Option<String>,
    /// Neighbours per query; recall is recall@k.
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Use the first N queries (default: all of the dataset's; 1000 generated for synthetic, 1000 held out of a
    /// collection but at most half of it).
    #[arg(long)]
    queries: Option<usize>,
    /// Threads for queries and builds (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Output folder for results.json, report.md, recall_qps.svg and recall_qps.png.
    #[arg(long, default_value = "bench-out")]
    out: PathBuf,
    /// A small parameter grid (one build per index kind).
    #[arg(long)]
    quick: bool,
    /// Time each point over passes of all the queries lasting at least this long together and keep the
    /// fastest pass (scripts/bench_peers.py does the same); 0 for one pass.
    #[arg(long, value_name = "SECONDS", default_value_t = vsearch_bench::DEFAULT_MIN_PASS_SECONDS)]
    min_pass_seconds: f64,
    /// Measure only these index kinds (comma-separated: flat, hnsw, hnsw-int8, ivf-flat, ivf-pq, ivf-sq8, ivf-pq4fs;
    /// default: all).
    #[arg(long, value_delimiter = ',', value_name = "KINDS")]
    only: Vec<String>,
    /// Results files (from scripts/bench_peers.py or earlier runs) to merge into the table and plot.
    /// Without --dataset, the files are merged with no new measurement.
    #[arg(long, num_args = 1..)]
    compare: Vec<PathBuf>,
    /// Write base.fvecs, query.fvecs and gt.ivecs of the dataset into DIR (for scripts/bench_peers.py) and stop.
    #[arg(long, value_name = "DIR")]
    export_dataset: Option<PathBuf>,
    /// Add a Qdrant server's HNSW as a peer (its gRPC URL, e.g. http://127.0.0.1:6334): the dataset is loaded
    /// into a collection made for the run (--qdrant-collection, dropped first) and searched one query at a
    /// time and in batches over gRPC, for each ef_search of the grid.
    #[arg(long, value_name = "URL")]
    qdrant: Option<String>,
    /// The collection the Qdrant peer writes (deleted and created again by each run).
    #[arg(
        long,
        value_name = "NAME",
        default_value = "vsearch-bench",
        requires = "qdrant"
    )]
    qdrant_collection: String,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    if threads == 0 {
        anyhow::bail!("--threads must be at least 1");
    }
    let Some(spec) = &args.dataset else {
        return compare_only(&args);
    };
    let dataset: DatasetSpec = spec.parse()?;
    let opts = BenchOptions {
        dataset,
        k: args.k,
        queries: args.queries,
        threads,
        out: args.out.clone(),
        quick: args.quick,
        min_pass_seconds: args.min_pass_seconds,
        only: args.only.clone(),
        progress: std::io::stderr().is_terminal(),
        qdrant: None,
    };
    let opts = match &args.qdrant {
        None => opts,
        Some(url) => {
            let mut target = vsearch_engine::QdrantTarget::new(url.clone());
            target.collection = args.qdrant_collection.clone();
            vsearch_bench::BenchOptions {
                qdrant: Some(vsearch_bench::qdrant::QdrantPeer {
                    target,
                    ef_search: Vec::new(),
                }),
                ..opts
            }
        }
    };
    if let Some(dir) = &args.export_dataset {
        let ds = vsearch_bench::export_dataset(&opts, dir)
            .with_context(|| format!("exporting the dataset to {}", dir.display()))?;
        println!(
            "wrote {}/base.fvecs ({} x {}), query.fvecs ({} queries), gt.ivecs (k = {})",
            dir.display(),
            ds.n_base(),
            ds.dim,
            ds.n_queries(),
            args.k
        );
        return Ok(());
    }
    let mut results = vsearch_bench::run(&opts).context("benchmark failed")?;
    if !args.compare.is_empty() {
        merge(&mut results, &args.compare)?;
        vsearch_bench::write_outputs(&results, &args.out)?;
    }
    print_summary(&results, &args.out);
    Ok(())
}

fn merge(results: &mut Results, files: &[PathBuf]) -> anyhow::Result<()> {
    for w in vsearch_bench::compare(results, files)? {
        tracing::warn!("{w}");
    }
    Ok(())
}

fn compare_only(args: &Args) -> anyhow::Result<()> {
    let Some((first, rest)) = args.compare.split_first() else {
        anyhow::bail!(
            "give --dataset to run a benchmark, or --compare FILE... to merge results files"
        );
    };
    let mut results = Results::read(first)?;
    merge(&mut results, rest)?;
    vsearch_bench::write_outputs(&results, &args.out)?;
    print_summary(&results, &args.out);
    Ok(())
}

fn print_summary(results: &Results, out: &std::path::Path) {
    println!(
        "{}: {} points, k = {}, {} threads",
        results.dataset.name,
        results.points.len(),
        results.k,
        results.threads
    );
    println!(
        "{:<18} {:>9} {:>10} {:>8}  parameters",
        "series", "recall>=", "QPS", "recall"
    );
    for b in vsearch_bench::report::summary(&results.points) {
        match b.point {
            Some(p) => println!(
                "{:<18} {:>9.2} {:>10.0} {:>8.4}  {}",
                b.series,
                b.threshold,
                p.qps,
                p.recall,
                p.params_text()
            ),
            None => println!("{:<18} {:>9.2} {:>10}", b.series, b.threshold, "-"),
        }
    }
    println!(
        "wrote {}",
        [
            "results.json",
            "report.md",
            "recall_qps.svg",
            "recall_qps.png"
        ]
        .iter()
        .map(|f| out.join(f).display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
    );
}
