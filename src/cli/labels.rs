//! `vsearch labels apply`: recompute every image's label scores from the stored vectors (no re-embedding).

use anyhow::Context;
use std::path::PathBuf;
use vsearch_engine::{apply_labels, BackendOptions, DeviceSpec, PolicySource, QdrantCollection};

/// `vsearch labels` subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Recompute every image's label scores from its stored vector and the text embeddings of the policy's
    /// prompts, without re-embedding any image; with --policy, that policy is put in force first.
    Apply(ApplyArgs),
}

/// Arguments of `vsearch labels apply`.
#[derive(clap::Args)]
pub struct ApplyArgs {
    /// The collection: `--collection DIR`, or `--qdrant URL [--qdrant-collection C] --root DIR` (scores
    /// written into the points' payload; the policy kept in the records folder).
    #[command(flatten)]
    target: super::block::Target,
    /// Label policy (TOML) to put in force (default: the collection's).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Device for the text tower: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Apply(args) => apply(args),
    }
}

fn apply(args: ApplyArgs) -> anyhow::Result<()> {
    let device: DeviceSpec = args.device.parse()?;
    let policy = args.policy.as_deref().map(PolicySource::read).transpose()?;
    let options = args.target.options(device, true)?;
    let (what, report) = match &options {
        BackendOptions::Local { path, device, .. } => (
            path.display().to_string(),
            apply_labels(path, policy.as_ref(), device)
                .with_context(|| format!("cannot label {}", path.display()))?,
        ),
        BackendOptions::Qdrant(open) => {
            let collection = QdrantCollection::open(open)
                .with_context(|| format!("cannot open {}", options.describe()))?;
            let report = collection
                .apply_labels(policy.as_ref())
                .with_context(|| format!("cannot label {}", options.describe()))?;
            (options.describe(), report)
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{what}: {} labels scored for {} images ({} embedded{}, {:.1} s)",
            report.labels,
            report.labelled,
            report.embedded,
            if report.policy_changed {
                ", new policy"
            } else {
                ""
            },
            report.seconds
        );
    }
    Ok(())
}
