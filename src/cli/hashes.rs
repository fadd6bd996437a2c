//! `vsearch hashes import|list|remove|export|scan`: banks of known-bad PDQ hashes in a collection's records
//! folder, matched against images as they arrive (see `vsearch_engine::safety::hashbanks`).

use super::block::Target;
use anyhow::Context;
use std::path::PathBuf;
use vsearch_engine::safety::hashbanks::{self, HashBanks, MatchSettings};
use vsearch_engine::{BackendOptions, DeviceSpec};

/// `vsearch hashes` subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Import a list of PDQ hashes into a bank (one 64-digit hex hash per line, or ThreatExchange-style
    /// CSV/TSV with hash, quality and tags columns). Index runs then block matching images as they
    /// arrive; `vsearch hashes scan` checks the images already indexed.
    Import(ImportArgs),
    /// List the banks: name, hashes, match distance, least quality, reason.
    List(WhereArgs),
    /// Remove a bank and its hashes (blocks its matches made stay: lift them with `vsearch unblock`).
    Remove(RemoveArgs),
    /// Print a bank's hashes, or (without --bank) the PDQ hashes of every image the collection's blocks
    /// hide: its takedowns, to share without the images. CSV: hash,quality,tags.
    Export(ExportArgs),
    /// Match every indexed image against the banks and block the matches (after importing a bank).
    Scan(WhereArgs),
}

/// Which collection: a local one (`--collection`), or a Qdrant one (`--qdrant URL [--qdrant-collection
/// C] --root DIR [--state DIR]`, its banks in its records folder).
#[derive(clap::Args)]
pub struct WhereArgs {
    #[command(flatten)]
    target: Target,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `vsearch hashes import`.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// The hash list (`-` reads standard input).
    file: PathBuf,
    /// The bank to add the hashes to (created when new).
    #[arg(long)]
    bank: String,
    /// Why its matches are blocked (recorded with each block and in the audit log).
    #[arg(long)]
    reason: Option<String>,
    /// Largest Hamming distance (of 256 bits) that is a match; default 31, the PDQ authors'
    /// confident-match threshold.
    #[arg(long, value_name = "BITS")]
    distance: Option<u32>,
    /// Hashes of lower quality (the image's, or the bank's when the list gives it) are not matched;
    /// default 50 (flat images hash to noise). 0 matches every hash.
    #[arg(long, value_name = "Q")]
    min_quality: Option<u8>,
    #[command(flatten)]
    at: WhereArgs,
}

/// Arguments of `vsearch hashes remove`.
#[derive(clap::Args)]
pub struct RemoveArgs {
    /// The bank.
    bank: String,
    #[command(flatten)]
    at: WhereArgs,
}

/// Arguments of `vsearch hashes export`.
#[derive(clap::Args)]
pub struct ExportArgs {
    /// Export this bank's hashes instead of the collection's takedowns.
    #[arg(long)]
    bank: Option<String>,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
    #[command(flatten)]
    target: Target,
}

pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Import(args) => import(args),
        Command::List(args) => list(args),
        Command::Remove(args) => remove(args),
        Command::Export(args) => export(args),
        Command::Scan(args) => scan(args),
    }
}

/// The records folder of the collection `target` names (where its banks live): a local collection's
/// folder, or a Qdrant collection's records folder (which need not exist yet: banks may be imported
/// before the first index run).
fn records(target: &Target) -> anyhow::Result<PathBuf> {
    match target.options(DeviceSpec::Cpu, false)? {
        BackendOptions::Local { path, .. } => vsearch_engine::resolve_collection_dir(&path)
            .with_context(|| {
                format!(
                    "{} is not a collection: index it first (`vsearch index DIR`), then import hash banks into it",
                    path.display()
                )
            }),
        BackendOptions::Qdrant(open) => open.records.clone().with_context(|| {
            format!(
                "Qdrant collection {} has no records folder for its hash banks: give the indexed folder with --root DIR (records in ROOT/.vsearch/qdrant/COLLECTION) or a records folder with --state DIR",
                open.target.collection
            )
        }),
    }
}

fn banks(target: &Target) -> anyhow::Result<HashBanks> {
    let dir = records(target)?;
    HashBanks::open(&dir)
        .with_context(|| format!("cannot open the hash banks of {}", dir.display()))
}

fn import(args: ImportArgs) -> anyhow::Result<()> {
    let text = if args.file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
            .context("cannot read the hash list from standard input")?
    } else {
        std::fs::read_to_string(&args.file)
            .with_context(|| format!("cannot read the hash list {}", args.file.display()))?
    };
    let hashes = hashbanks::parse_hash_list(&args.file, &text)?;
    if let Some(d) = args.distance {
        anyhow::ensure!(d <= 256, "--distance {d}: a PDQ hash has 256 bits");
    }
    if let Some(q) = args.min_quality {
        anyhow::ensure!(
            q <= 100,
            "--min-quality {q}: PDQ quality goes from 0 to 100"
        );
    }
    let settings = (args.distance.is_some() || args.min_quality.is_some()).then(|| {
        let d = MatchSettings::default();
        MatchSettings {
            max_distance: args.distance.unwrap_or(d.max_distance),
            min_quality: args.min_quality.unwrap_or(d.min_quality),
        }
    });
    let mut banks = banks(&args.at.target)?;
    let report = banks.import(&args.bank, args.reason.as_deref(), settings, &hashes)?;
    if args.at.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "bank {}: {} hashes added ({} it had already), {} in all; run `vsearch hashes scan` to check the images indexed before",
            report.bank, report.added, report.already, report.total
        );
    }
    Ok(())
}

fn list(args: WhereArgs) -> anyhow::Result<()> {
    let list = banks(&args.target)?.list()?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    if list.is_empty() {
        println!("no hash banks (import one with `vsearch hashes import FILE --bank NAME`)");
    }
    for b in &list {
        println!(
            "{}: {} hashes, match within {} bits, quality at least {}, imported {}{}",
            b.name,
            b.hashes,
            b.settings.max_distance,
            b.settings.min_quality,
            b.imported_at,
            if b.reason.is_empty() {
                String::new()
            } else {
                format!(": {}", b.reason)
            }
        );
    }
    Ok(())
}

fn remove(args: RemoveArgs) -> anyhow::Result<()> {
    let removed = banks(&args.at.target)?.remove(&args.bank)?;
    if args.at.json {
        println!(
            "{}",
            serde_json::json!({"bank": args.bank, "removed": removed})
        );
    } else {
        println!(
            "bank {} removed with its {removed} hashes (blocks it made stay: see `vsearch blocks`)",
            args.bank
        );
    }
    Ok(())
}

fn export(args: ExportArgs) -> anyhow::Result<()> {
    let hashes = match &args.bank {
        Some(bank) => banks(&args.target)?.hashes(bank)?,
        None => {
            let backend = args.target.open(DeviceSpec::Cpu, false)?;
            backend
                .takedown_hashes()
                .context("cannot read the hashes of the images its blocks hide")?
        }
    };
    let text = hashbanks::write_hash_list(&hashes);
    match &args.output {
        Some(path) => {
            std::fs::write(path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("{} hashes written to {}", hashes.len(), path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

fn scan(args: WhereArgs) -> anyhow::Result<()> {
    let backend = args.target.open(DeviceSpec::Cpu, false)?;
    let matched = backend
        .scan_hash_banks()
        .context("cannot match the images against the hash banks")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&matched)?);
        return Ok(());
    }
    println!(
        "{} images matched a hash bank and are now blocked",
        matched.len()
    );
    for m in &matched {
        println!(
            "  {:>8}  {}  bank {}, distance {} (block {})",
            m.id.to_string(),
            m.path,
            m.matched.bank,
            m.matched.distance,
            m.block
        );
    }
    Ok(())
}
