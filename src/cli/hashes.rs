//! `vsearch hashes import|list|remove|export|scan`: banks of known-bad PDQ hashes in a collection's records
//! folder, matched against images as they arrive (see `vsearch_engine::safety::hashbanks`).

use anyhow::Context;
use std::path::{Path, PathBuf};
use vsearch_engine::safety::hashbanks::{self, HashBanks, MatchSettings};

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

/// Which collection.
#[derive(clap::Args)]
pub struct WhereArgs {
    /// Collection folder, or an indexed folder containing `.vsearch`.
    #[arg(long, default_value = ".")]
    collection: PathBuf,
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
    /// Collection folder, or an indexed folder containing `.vsearch`.
    #[arg(long, default_value = ".")]
    collection: PathBuf,
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

/// The records folder of the collection at `path` (where its banks live).
fn records(path: &Path) -> anyhow::Result<PathBuf> {
    vsearch_engine::resolve_collection_dir(path).with_context(|| {
        format!(
            "{} is not a collection: index it first (`vsearch index DIR`), then import hash banks into it",
            path.display()
        )
    })
}

fn banks(path: &Path) -> anyhow::Result<HashBanks> {
    let dir = records(path)?;
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
    let mut banks = banks(&args.at.collection)?;
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
    let list = banks(&args.collection)?.list()?;
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
    let removed = banks(&args.at.collection)?.remove(&args.bank)?;
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
        Some(bank) => banks(&args.collection)?.hashes(bank)?,
        None => {
            let dir = records(&args.collection)?;
            let collection = vsearch_engine::Collection::open_without_model(&dir)
                .with_context(|| format!("cannot open the collection at {}", dir.display()))?;
            let pdq = vsearch_engine::catalog::Catalog::open_read_only(&dir)?.pdq_hashes()?;
            hashbanks::own_takedowns(&collection, &pdq)
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
    let matched = hashbanks::scan(&args.collection)
        .with_context(|| format!("cannot scan {}", args.collection.display()))?;
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
            m.id, m.path, m.matched.bank, m.matched.distance, m.block
        );
    }
    Ok(())
}
