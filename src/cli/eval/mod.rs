//! `vsearch eval`: measure a collection against truth a person made. `eval dupes` scores duplicate
//! detection on pairs, `eval labels` the zero-shot labels; both print precision, recall and F1 at the
//! threshold in force and the precision/recall curve over thresholds (Markdown), and plot the curve.

mod dupes;
mod labels;

/// `vsearch eval` subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Duplicate detection against a truth CSV (`path_a,path_b,is_copy`, paths relative to the indexed
    /// folder): pair precision, recall and F1, the precision/recall curve, a plot.
    Dupes(dupes::DupesArgs),
    /// Label scores against hand labels (`path,label,0|1`): per label, precision, recall and F1 at the
    /// policy's threshold and the precision/recall curve over thresholds (Markdown), plus a plot.
    Labels(labels::LabelArgs),
}

pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Dupes(args) => dupes::run(args),
        Command::Labels(args) => labels::run(args),
    }
}
