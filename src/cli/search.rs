//! `vsearch search`: query a collection from the command line.

use anyhow::Context;
use std::path::PathBuf;
use vsearch_engine::{Collection, DeviceSpec, IndexKind, Query, QueryOptions, SearchParams};

/// Arguments of `vsearch search`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("query").required(true).args(["image", "id", "text"])))]
pub struct Args {
    /// Collection folder, or an indexed folder containing `.vsearch`.
    #[arg(long, default_value = ".")]
    collection: PathBuf,
    /// Query by an image file.
    #[arg(long)]
    image: Option<PathBuf>,
    /// Query by an indexed image's id.
    #[arg(long)]
    id: Option<u64>,
    /// Query by text (CLIP collections only).
    #[arg(long)]
    text: Option<String>,
    /// Number of results.
    #[arg(short, long, default_value_t = 10)]
    k: usize,
    /// Index to use (default: the first of hnsw, ivf, flat the collection has).
    #[arg(long, value_enum)]
    index: Option<IndexKind>,
    /// HNSW: size of the candidate list.
    #[arg(long)]
    ef: Option<usize>,
    /// IVF: number of lists visited.
    #[arg(long)]
    nprobe: Option<usize>,
    /// Drop results scoring below this.
    #[arg(long)]
    min_score: Option<f32>,
    /// Device for the model: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=10_000).contains(&args.k),
        "-k must be between 1 and 10000"
    );
    let index = args.index;
    let query = if let Some(path) = &args.image {
        Query::ImageBytes(
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?,
        )
    } else if let Some(id) = args.id {
        Query::Id(id)
    } else if let Some(text) = &args.text {
        Query::Text(text.clone())
    } else {
        anyhow::bail!("give one of --image FILE, --id N or --text \"...\"");
    };
    let collection = if matches!(query, Query::Id(_)) {
        Collection::open_without_model(&args.collection)
    } else {
        let device: DeviceSpec = args.device.parse()?;
        Collection::open(&args.collection, &device)
    }
    .with_context(|| {
        format!(
            "cannot open the collection at {}",
            args.collection.display()
        )
    })?;
    let options = QueryOptions {
        k: args.k,
        index,
        params: SearchParams {
            ef_search: args.ef,
            nprobe: args.nprobe,
            rerank: None,
        },
        min_score: args.min_score,
        ..QueryOptions::default()
    };
    let response = collection
        .search(&query, &options)
        .context("search failed")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&response)?);
        return Ok(());
    }
    println!("{:>4}  {:>8}  {:>8}  PATH", "RANK", "SCORE", "ID");
    for r in &response.results {
        println!("{:>4}  {:>8.4}  {:>8}  {}", r.rank, r.score, r.id, r.path);
    }
    println!(
        "({} results from the {} index, model {}, embed {:.1} ms, search {:.2} ms)",
        response.results.len(),
        response.index,
        response.model,
        response.embed_ms,
        response.search_ms
    );
    Ok(())
}
