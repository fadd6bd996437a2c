//! `vsearch rank train`: fits the re-ranker on the training part of the search analytics and stores it.

use super::figures;
use crate::cli::records::Records;
use vsearch_engine::rerank::{train, TrainOutcome, MIN_POSITIVES};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    records: Records,
    /// Fewest opened or pinned results to train on; with fewer, no model is trained and the re-ranker
    /// stays off.
    #[arg(long, default_value_t = MIN_POSITIVES)]
    min_positives: usize,
    /// Print the outcome as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let dir = args.records.dir()?;
    let outcome = train::train(&dir, args.min_positives)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
        return Ok(());
    }
    match outcome {
        TrainOutcome::Trained {
            model,
            path,
            held_out,
        } => {
            println!(
                "trained re-ranker v{} on {} results ({} opened or pinned) of {} searches; stored in {}",
                model.version,
                model.examples,
                model.positives,
                model.searches,
                path.display()
            );
            if held_out.searches == 0 {
                println!("held-out searches: none with an open yet, nothing to measure");
            } else {
                println!(
                    "held-out searches, cosine order: {}",
                    figures(&held_out.cosine)
                );
                println!(
                    "held-out searches, re-ranked:    {}",
                    figures(&held_out.model)
                );
            }
            println!("a running `vsearch serve` of this collection switches to it within a second");
        }
        TrainOutcome::TooLittleData {
            positives,
            needed,
            searches,
        } => {
            println!(
                "not enough data: {positives} opened or pinned results in {searches} searches, {needed} needed; \
                 no model trained, the re-ranker stays off (searches keep the cosine order). \
                 `vsearch serve` records opens from the page; run this again when there are more"
            );
        }
    }
    Ok(())
}
