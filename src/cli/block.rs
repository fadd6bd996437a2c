//! `vsearch block`, `vsearch blocks`, `vsearch unblock`: takedowns by similarity.

use super::qdrant::{QdrantArgs, QdrantReadArgs};
use anyhow::Context;
use std::path::PathBuf;
use std::sync::Arc;
use vsearch_engine::blocks::{BlockSource, BlockView, NewBlock, Reach};
use vsearch_engine::{Backend, DeviceSpec, ImageId};

/// Where the collection is: a local collection folder, or a Qdrant collection (`--qdrant URL
/// [--qdrant-collection C] --root DIR [--state DIR]`, its records in the records folder).
#[derive(clap::Args)]
pub struct Target {
    /// Collection folder, or an indexed folder containing `.vsearch`.
    #[arg(long, default_value = ".")]
    collection: PathBuf,
    #[command(flatten)]
    qdrant: QdrantArgs,
    #[command(flatten)]
    qdrant_read: QdrantReadArgs,
}

impl Target {
    /// How to open the collection (with its model when `model` is set).
    pub fn options(
        &self,
        device: DeviceSpec,
        model: bool,
    ) -> anyhow::Result<vsearch_engine::BackendOptions> {
        self.qdrant_read
            .backend(&self.qdrant, &self.collection, device, model)
    }

    /// Opens the collection (with its model when `model` is set).
    pub fn open(&self, device: DeviceSpec, model: bool) -> anyhow::Result<Arc<dyn Backend>> {
        let options = self.options(device, model)?;
        vsearch_engine::open_backend(&options)
            .with_context(|| format!("cannot open {}", options.describe()))
    }
}

/// Arguments of `vsearch block`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("example").required(true).args(["id", "image"])))]
pub struct BlockArgs {
    #[command(flatten)]
    target: Target,
    /// The example: an indexed image, by id (a number; a UUID in a Qdrant collection).
    #[arg(long)]
    id: Option<ImageId>,
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
    #[command(flatten)]
    target: Target,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `vsearch unblock`.
#[derive(clap::Args)]
pub struct UnblockArgs {
    /// The block's id (see `vsearch blocks`).
    block_id: u64,
    #[command(flatten)]
    target: Target,
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
        (Some(id), _) => (
            args.target.open(DeviceSpec::Cpu, false)?,
            BlockSource::Id(*id),
        ),
        (None, Some(file)) => {
            let bytes =
                std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            let device: DeviceSpec = args.device.parse()?;
            let collection = args.target.open(device, true)?;
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
            (collection, BlockSource::Image { bytes, name })
        }
        (None, None) => anyhow::bail!("give the example: --id ID or --image FILE"),
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
    let collection = args.target.open(DeviceSpec::Cpu, false)?;
    let blocks = collection.blocks().context("cannot list the blocks")?;
    let hidden = blocks
        .iter()
        .flat_map(|b| b.hides.iter().map(|h| h.id))
        .collect::<std::collections::HashSet<ImageId>>()
        .len();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "blocks": blocks,
                "hidden": hidden,
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
    println!("({} blocks hide {hidden} images)", blocks.len());
    Ok(())
}

/// `vsearch unblock`.
pub fn unblock(args: UnblockArgs) -> anyhow::Result<()> {
    let collection = args.target.open(DeviceSpec::Cpu, false)?;
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
