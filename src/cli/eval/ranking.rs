//! `vsearch eval ranking`: the ranking stage's effect on a collection (a search by every image): the
//! share of the top k that are copies of a result above them, and the top k's mean pairwise cosine,
//! without the stage, with collapse alone, and with collapse and diversity.

use anyhow::Context;
use std::path::PathBuf;
use vsearch_engine::answers::measure::measure;
use vsearch_engine::{BackendOptions, DeviceSpec};

/// Arguments of `vsearch eval ranking`.
#[derive(clap::Args)]
pub struct RankingArgs {
    /// The collection (an indexed folder or its `.vsearch`).
    #[arg(long, default_value = ".")]
    collection: PathBuf,
    /// Results per search measured.
    #[arg(short, long, default_value_t = 20)]
    k: usize,
    /// Diversity of the measured stage, 0 to 1.
    #[arg(long, default_value_t = 0.3)]
    diversity: f32,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: RankingArgs) -> anyhow::Result<()> {
    let options = BackendOptions::Local {
        path: args.collection.clone(),
        device: DeviceSpec::Cpu,
        load_model: false,
    };
    let backend = vsearch_engine::open_backend(&options)
        .with_context(|| format!("cannot open {}", options.describe()))?;
    let f = measure(&*backend, args.k, args.diversity).context("measuring the ranking stage")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&f)?);
        return Ok(());
    }
    println!(
        "{} searches (one by each image), top {}; {} images in duplicate groups\n",
        f.queries, f.k, f.images_in_groups
    );
    println!("| setting | copies of a result above (share of the top {k}) | searches with such a copy | mean intra-list similarity |", k = f.k);
    println!("|---|---|---|---|");
    for (name, l) in [
        ("retrieval (no stage)".to_string(), f.without),
        ("collapse".to_string(), f.collapse_only),
        (format!("collapse + diversity {}", f.diversity), f.with),
    ] {
        println!(
            "| {name} | {:.4} | {:.4} | {:.4} |",
            l.copy_share, l.queries_with_copies, l.intra_list_similarity
        );
    }
    Ok(())
}
