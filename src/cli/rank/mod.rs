//! `vsearch rank`: the learned re-ranker. `rank train` fits it on the search analytics, `rank eval`
//! measures it on their held-out part, `rank simulate` measures it on simulated users of a ukbench
//! collection.

mod eval;
mod simulate;
mod train;

/// Arguments of `vsearch rank`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Train the re-ranker on the search analytics (results opened or pinned, and skipped above them)
    /// and store it in the records folder; a running `vsearch serve` switches to it within a second.
    Train(train::Args),
    /// Measure the stored re-ranker on the held-out part of the search analytics: NDCG@10 and MRR of
    /// the results opened, in its order and in the cosine order.
    Eval(eval::Args),
    /// Measure the re-ranker on simulated users of a ukbench collection: users looking for an object
    /// open its photos (with a position bias and noise); trained on some objects, measured on others.
    Simulate(simulate::Args),
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Simulate(args) => simulate::run(args),
    }
}

/// A line of figures: `NDCG@10 0.812, MRR 0.901 (40 searches)`.
fn figures(f: &vsearch_engine::rerank::RankingFigures) -> String {
    format!(
        "NDCG@10 {:.3}, MRR {:.3} ({} searches)",
        f.ndcg_at_10, f.mrr, f.lists
    )
}
