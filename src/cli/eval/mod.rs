//! `vsearch eval`: measure a collection against truth a person made. `eval dupes` scores duplicate
//! detection on pairs, `eval labels` the zero-shot labels; both print precision, recall and F1 at the
//! threshold in force and the precision/recall curve over thresholds (Markdown), and plot the curve.
//! `eval ranking` measures the ranking stage (copies in the top k, intra-list similarity).

mod dupes;
mod labels;
mod ranking;

/// `vsearch eval` subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Duplicate detection against a truth CSV (`path_a,path_b,is_copy`, paths relative to the indexed
    /// folder): pair precision, recall and F1, the precision/recall curve, a plot.
    Dupes(dupes::DupesArgs),
    /// Label scores against hand labels (`path,label,0|1`): per label, precision, recall and F1 at the
    /// policy's threshold and the precision/recall curve over thresholds (Markdown), plus a plot.
    Labels(labels::LabelArgs),
    /// The ranking stage over a search by every image: the share of the top k that are copies of a result
    /// above them and the top k's mean pairwise cosine, without the stage and with it.
    Ranking(ranking::RankingArgs),
}

pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Dupes(args) => dupes::run(args),
        Command::Labels(args) => labels::run(args),
        Command::Ranking(args) => ranking::run(args),
    }
}
