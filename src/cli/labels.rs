//! `vsearch labels apply`: recompute every image's label scores from the stored vectors (no re-embedding).

use anyhow::Context;
use std::path::PathBuf;
use vsearch_engine::{apply_labels, DeviceSpec, PolicySource};

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
    /// Collection folder, or an indexed folder containing `.vsearch`.
    #[arg(long, default_value = ".")]
    collection: PathBuf,
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
    let report = apply_labels(&args.collection, policy.as_ref(), &device)
        .with_context(|| format!("cannot label {}", args.collection.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{}: {} labels scored for {} images ({} embedded{}, {:.1} s)",
            args.collection.display(),
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
