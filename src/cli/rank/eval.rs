//! `vsearch rank eval`: the stored re-ranker on the held-out part of the search analytics.

use super::figures;
use crate::cli::records::Records;
use anyhow::Context;
use vsearch_engine::rerank::{train, Model};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    records: Records,
    /// Print the figures as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let dir = args.records.dir()?;
    let model = Model::load(&dir)?.with_context(|| {
        format!(
            "no re-ranker in {}: train one with `vsearch rank train --collection DIR`",
            dir.display()
        )
    })?;
    let (_, held) = train::split_log(&dir)?;
    let evaluation = train::evaluate(&model, &held);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&evaluation)?);
        return Ok(());
    }
    println!(
        "re-ranker v{} on the held-out part of the search analytics ({} searches with an open)",
        model.version, evaluation.searches
    );
    println!("cosine order: {}", figures(&evaluation.cosine));
    println!("re-ranked:    {}", figures(&evaluation.model));
    Ok(())
}
