//! `vsearch dupes`: groups of exact and near copies in a collection, best copy first.

use anyhow::Context;
use vsearch_engine::dupes::{self, DupesOptions, Verification};
use vsearch_engine::DeviceSpec;

/// Arguments of `vsearch dupes`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    target: super::block::Target,
    #[command(flatten)]
    cuts: Cuts,
    /// Verification: `thumbnails` (flip- and crop-aware pixel correlation), `pdq` (the PDQ hashes stored
    /// at index time, nothing decoded; blind to flips and crops), `both` (pairs PDQ matches are copies,
    /// the others are verified by thumbnails) or `cosine` (none: the embedding cosine decides, which also
    /// groups photos of the same object). Default `both`: the measured choice (README, "Duplicates").
    #[arg(long, value_parser = parse_verification, default_value = "both")]
    verify: Verification,
    /// Print JSON (`{"groups": [...]}`) instead of a list.
    #[arg(long)]
    json: bool,
}

/// The cuts of duplicate detection, shared by `vsearch dupes` and `vsearch eval dupes`.
#[derive(clap::Args)]
pub struct Cuts {
    /// Verification score a pair needs to be a copy (thumbnail correlation, -1 to 1; default 0.86, or
    /// 1 - 31/256 for `--verify pdq`: PDQ's match distance).
    #[arg(long)]
    pub threshold: Option<f32>,
    /// Embedding cosine a neighbour needs to be verified at all.
    #[arg(long, default_value_t = dupes::DEFAULT_MIN_COSINE)]
    pub min_cosine: f32,
    /// Nearest neighbours of each image verified.
    #[arg(long, default_value_t = dupes::DEFAULT_NEIGHBOURS)]
    pub neighbours: usize,
}

impl Cuts {
    /// The threshold given, else the default of `verification`'s score.
    pub fn threshold_for(&self, verification: Verification) -> f32 {
        self.threshold.unwrap_or(match verification {
            Verification::Pdq => dupes::PDQ_THRESHOLD,
            _ => dupes::DEFAULT_THRESHOLD,
        })
    }
}

/// Parses `thumbnails`, `pdq`, `both` or `cosine`.
pub fn parse_verification(s: &str) -> Result<Verification, String> {
    match s {
        "thumbnails" => Ok(Verification::Thumbnails),
        "cosine" => Ok(Verification::Cosine),
        "pdq" => Ok(Verification::Pdq),
        "both" => Ok(Verification::Both),
        other => Err(format!(
            "unknown verification `{other}`: use thumbnails, pdq, both or cosine"
        )),
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let collection = args.target.open(DeviceSpec::Cpu, false)?;
    let options = DupesOptions {
        threshold: args.cuts.threshold_for(args.verify),
        min_cosine: args.cuts.min_cosine,
        neighbours: args.cuts.neighbours,
        verification: args.verify,
    };
    let groups = collection
        .duplicates(&options)
        .context("find the duplicate groups")?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "groups": groups }))?
        );
        return Ok(());
    }
    if groups.is_empty() {
        println!("no duplicates among {} images", collection.info().count);
        return Ok(());
    }
    let copies: usize = groups.iter().map(|g| g.images.len() - 1).sum();
    println!(
        "{} groups, {copies} copies that could go (of {} images):",
        groups.len(),
        collection.info().count
    );
    for (n, g) in groups.iter().enumerate() {
        println!(
            "\ngroup {} ({})",
            n + 1,
            if g.exact {
                "exact copies"
            } else {
                "near copies"
            }
        );
        for im in &g.images {
            let score = im.score.map_or("-".to_string(), |s| format!("{s:.3}"));
            println!(
                "  {} {:>6} {:>5}x{:<5} {:>9} B  score {score:>6}  {}",
                if im.keep { "keep" } else { "    " },
                im.id,
                im.width,
                im.height,
                im.bytes,
                im.path
            );
        }
    }
    Ok(())
}
