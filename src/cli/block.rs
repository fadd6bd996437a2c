//! `vsearch block`, `vsearch blocks`, `vsearch unblock`: takedowns by similarity.

use anyhow::Context;
use std::path::PathBuf;
use vsearch_engine::blocks::{BlockSource, BlockView, NewBlock, Reach};
use vsearch_engine::{Collection, DeviceSpec};

/// Arguments of `vsearch block`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("example").required(true).args(["id", "image"])))]
pub struct BlockArgs {
    /// Collection folder, or an indexed folder containing `.vsearch`.
    #[arg(long, default_value = ".")]
    collection: PathBuf,
    /// The example: an indexed image, by id.
    #[arg(long)]
    id: Option<u64>,
    /// The example: an image file (embedded with the collection's model; need not be indexed).
    #[arg(long)]
    image: Option<PathBuf>,
    /// Reach: `--near` alone hides the example's copies (re-encoded, resized, cropped, flipped
    /// versions) too; `--near T` hides everything within cosine similarity T of the example.
    /// Without it, the example alone (and files with the very same bytes).
    #[arg(long, value_name = "T", num_args = 0..=1, default_missing_value = "copies")]
    near: Option<String>,
    /// Why (recorded with the block and in the audit log).
    #[arg(long)]
    reason: String,
    /// Who (default: the OS user).
    #[arg(long)]
    by: Option<String>,
    /// Device for the model (--image only): cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Print the block as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `vsearch blocks`.
#[derive(clap::Args)]
pub struct BlocksArgs {
    /// Collection folder, or an indexed folder containing `.vsearch`.
    #[arg(long, default_value = ".")]
    collection: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `vsearch unblock`.
#[derive(clap::Args)]
pub struct UnblockArgs {
    /// The block's id (see `vsearch blocks`).
    block_id: u64,
    /// Collection folder, or an indexed folder containing `.vsearch`.
    #[arg(long, default_value = ".")]
    collection: PathBuf,
    /// Who (default: the OS user).
    #[arg(long)]
    by: Option<String>,
    /// Why (recorded in the audit log).
    #[arg(long)]
    reason: Option<String>,
    /// Print the lifted block as JSON.
    #[arg(long)]
    json: bool,
}

/// The OS user running the command (`USER`, `LOGNAME` or `USERNAME`), else `unknown`.
pub(crate) fn os_user() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

pub(crate) fn parse_reach(near: Option<&str>) -> anyhow::Result<Reach> {
    Ok(match near {
        None => Reach::Example,
        Some("copies") => Reach::Copies,
        Some(t) => {
            let threshold: f32 = t
                .parse()
                .with_context(|| format!("--near {t}: expected a cosine similarity such as 0.9"))?;
            anyhow::ensure!(
                threshold.is_finite() && threshold > 0.0 && threshold <= 1.0,
                "--near {t}: the threshold must be above 0 and at most 1"
            );
            Reach::Within { threshold }
        }
    })
}

fn open(path: &std::path::Path) -> anyhow::Result<Collection> {
    Collection::open_without_model(path)
        .with_context(|| format!("cannot open the collection at {}", path.display()))
}

fn print_block(view: &BlockView, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(view)?);
        return Ok(());
    }
    let example = match (&view.example.id, &view.example.path) {
        (Some(id), Some(path)) => format!("image {id} ({path})"),
        (Some(id), None) => format!("image {id}"),
        (None, Some(path)) => format!("file {path}"),
        (None, None) => "an image".into(),
    };
    println!(
        "block {}: {example}, {}; by {} at {}: {}",
        view.id, view.reach, view.by, view.at, view.reason
    );
    println!("  hides {} images", view.hides.len());
    for h in &view.hides {
        println!("  {:>8}  {}", h.id, h.path);
    }
    Ok(())
}

/// `vsearch block`.
pub fn block(args: BlockArgs) -> anyhow::Result<()> {
    let reach = parse_reach(args.near.as_deref())?;
    let (collection, source) = match (&args.id, &args.image) {
        (Some(id), _) => (open(&args.collection)?, BlockSource::Id(*id)),
        (None, Some(file)) => {
            let bytes =
                std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            let device: DeviceSpec = args.device.parse()?;
            let collection = Collection::open(&args.collection, &device).with_context(|| {
                format!(
                    "cannot open the collection at {}",
                    args.collection.display()
                )
            })?;
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
            (collection, BlockSource::Image { bytes, name })
        }
        (None, None) => anyhow::bail!("give the example: --id N or --image FILE"),
    };
    let (view, _) = collection
        .add_block(NewBlock {
            source,
            reach,
            reason: args.reason,
            by: args.by.unwrap_or_else(os_user),
        })
        .context("cannot record the block")?;
    print_block(&view, args.json)
}

/// `vsearch blocks`.
pub fn blocks(args: BlocksArgs) -> anyhow::Result<()> {
    let collection = open(&args.collection)?;
    let blocks = collection.blocks();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "blocks": blocks,
                "hidden": collection.hidden_count(),
            }))?
        );
        return Ok(());
    }
    if blocks.is_empty() {
        println!("no blocks in force");
        return Ok(());
    }
    for b in &blocks {
        print_block(b, false)?;
    }
    println!(
        "({} blocks hide {} images)",
        blocks.len(),
        collection.hidden_count()
    );
    Ok(())
}

/// `vsearch unblock`.
pub fn unblock(args: UnblockArgs) -> anyhow::Result<()> {
    let collection = open(&args.collection)?;
    let by = args.by.unwrap_or_else(os_user);
    let (view, _) = collection
        .remove_block(args.block_id, &by, args.reason.as_deref())
        .context("cannot lift the block")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&view)?);
    } else {
        println!(
            "lifted block {} ({}): {} images shown again",
            view.id,
            view.reason,
            view.hides.len()
        );
    }
    Ok(())
}
