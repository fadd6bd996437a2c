//! `vsearch index` against the model alone, interleaved so that both sides of each ratio see the same minute of a
//! noisy host. Each round embeds batches with the model alone (preprocessed input, batch 32) for about as long
//! as an index run takes, and indexes copies of a photo folder from scratch (decode, EXIF, preprocess, embed,
//! catalog, flat index; batch 32, two decoding threads, as `vsearch index --batch 32`; the model loaded once,
//! before the rounds, as `vsearch index --watch` keeps it), the model first in odd rounds and second in even
//! ones. Prints each round's images/s and ratio, then the median.
//!
//! The model is EfficientNet-Lite0 (`vsearch models fetch efficientnet-lite0`) or, with `--model clip-b32`, a
//! CLIP ViT-B/32 of full size with random weights, written as a Hugging Face folder (the config of
//! openai/clip-vit-base-patch32; the tokenizer and preprocessor config of `tests/fixtures/clip-tiny`, which are
//! that model's) and loaded as `vsearch index --model DIR` loads one.
//!
//! ```text
//! cargo bench --bench index_overlap -- [--model lite0|clip-b32] [--precision f32|int8] [--rounds 6] [--copies 4] [--photos ../shared/data/ukbench-14]
//! ```

/// The `vsearch` binary's allocator and settings, so the benchmark measures what the binary runs.
#[path = "../src/allocator.rs"]
mod allocator;

use anyhow::{bail, Context};
use clap::Parser;
use std::path::PathBuf;
use std::time::Instant;
use vsearch_embed::clip::{self, ClipConfig};
use vsearch_engine::{
    image_io, DeviceSpec, IndexKind, IndexOptions, Indexer, ModelSpec, Precision,
};

const BATCH: usize = 32;

/// The model both sides run.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Model {
    /// EfficientNet-Lite0 (the preset).
    Lite0,
    /// CLIP ViT-B/32, full size, random weights.
    ClipB32,
}

/// `vsearch index` against the model alone, interleaved round by round.
#[derive(clap::Parser)]
struct Args {
    /// The model.
    #[arg(long, value_enum, default_value_t = Model::Lite0)]
    model: Model,
    /// Arithmetic of the model's linear layers, both sides (int8: CLIP only).
    #[arg(long, default_value = "f32")]
    precision: Precision,
    /// Rounds, each one model-alone run and one index run.
    #[arg(long, default_value_t = 6)]
    rounds: usize,
    /// Copies of the photo folder to index (each run indexes them all from scratch).
    #[arg(long, default_value_t = 4)]
    copies: usize,
    /// The photo folder.
    #[arg(long, default_value = "../shared/data/ukbench-14")]
    photos: PathBuf,
    /// Passed by `cargo bench`.
    #[arg(long = "bench", hide = true)]
    _bench: bool,
}

fn main() -> anyhow::Result<()> {
    allocator::keep_freed_memory();
    let args = Args::parse();
    let mut photos: Vec<PathBuf> = std::fs::read_dir(&args.photos)
        .with_context(|| format!("cannot read {}", args.photos.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| image_io::has_image_extension(p))
        .collect();
    photos.sort();
    if photos.is_empty() {
        bail!("no photos in {}", args.photos.display());
    }
    let folder = tempfile::tempdir()?;
    for copy in 0..args.copies {
        for path in &photos {
            let name = path.file_name().context("photo without a name")?;
            let target = folder
                .path()
                .join(format!("c{copy}_{}", name.to_string_lossy()));
            std::fs::copy(path, target)?;
        }
    }
    let collection = tempfile::tempdir()?;
    let checkpoint = tempfile::tempdir()?;
    let (spec, name) = match args.model {
        Model::Lite0 => (ModelSpec::Preset("efficientnet-lite0".into()), "Lite0"),
        Model::ClipB32 => (
            ModelSpec::Dir(random_clip_folder(checkpoint.path())?),
            "CLIP ViT-B/32 (random weights)",
        ),
    };
    let options = IndexOptions {
        collection: Some(collection.path().to_path_buf()),
        model: spec.clone(),
        device: DeviceSpec::Cpu,
        precision: args.precision,
        indexes: vec![IndexKind::Flat],
        add_indexes: Vec::new(),
        batch: BATCH,
        threads: 2,
        max_pixels: image_io::DEFAULT_MAX_PIXELS,
        rebuild: true,
        progress: false,
        force: false,
        policy: None,
        ..IndexOptions::default()
    };
    let model = vsearch_embed::load_at(&spec, &DeviceSpec::Cpu, args.precision)?;
    let image = image_io::open(&photos[0], image_io::DEFAULT_MAX_PIXELS)?;
    let pixels = vec![model.image.preprocess(&image)?; BATCH];
    // Warm-up.
    model.image.embed_pixels(&pixels)?;
    // The index runs share one loaded model, as `vsearch index --watch` does: a run's time is the
    // pipeline's, not the one-off load (which, for CLIP, would be a tenth of a run this short). A first
    // run loads it.
    let mut indexer = Indexer::default();
    indexer.run(folder.path(), &options)?;
    println!(
        "{} photos ({} x {}), {name}, {}, batch {BATCH}; per round: the model alone and `vsearch index`, in turn first",
        photos.len() * args.copies,
        photos.len(),
        args.copies,
        args.precision
    );
    let mut ratios = Vec::new();
    let mut span = 4.0f64;
    let model_alone = |span: f64| -> anyhow::Result<f64> {
        let (mut images, start) = (0usize, Instant::now());
        while start.elapsed().as_secs_f64() < span {
            model.image.embed_pixels(&pixels)?;
            images += BATCH;
        }
        Ok(images as f64 / start.elapsed().as_secs_f64())
    };
    for round in 1..=args.rounds {
        // Odd rounds run the model first (for as long as the last index run took), even rounds the index
        // first, so that a host growing faster or slower through the run favours neither side.
        let (alone, report) = if round % 2 == 1 {
            let alone = model_alone(span)?;
            (alone, indexer.run(folder.path(), &options)?)
        } else {
            let report = indexer.run(folder.path(), &options)?;
            (model_alone(report.seconds)?, report)
        };
        if report.embedded == 0 || report.seconds <= 0.0 {
            bail!(
                "the index run embedded nothing ({} failed)",
                report.failed.len()
            );
        }
        let indexed = report.embedded as f64 / report.seconds;
        span = report.seconds;
        let ratio = indexed / alone;
        println!(
            "round {round}: model alone {alone:6.1} images/s, vsearch index {indexed:6.1} images/s ({} in {:.1} s): {:.0}%",
            report.embedded,
            report.seconds,
            100.0 * ratio
        );
        ratios.push(ratio);
    }
    ratios.sort_by(f64::total_cmp);
    let mid = ratios.len() / 2;
    let median = if ratios.len() % 2 == 0 {
        (ratios[mid - 1] + ratios[mid]) / 2.0
    } else {
        ratios[mid]
    };
    println!("median: {:.0}%", 100.0 * median);
    Ok(())
}

/// A Hugging Face CLIP folder under `dir` with ViT-B/32's config and random weights, and the tokenizer and
/// preprocessor config of the tiny CLIP fixture (openai/clip-vit-base-patch32's own).
fn random_clip_folder(dir: &std::path::Path) -> anyhow::Result<PathBuf> {
    let folder = dir.join("clip-vit-b32-random");
    std::fs::create_dir_all(&folder)?;
    clip::write_random_checkpoint(&ClipConfig::vit_b32(), &folder, &candle_core::Device::Cpu)?;
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clip-tiny");
    std::fs::copy(
        fixture.join("preprocessor_config.json"),
        folder.join("preprocessor_config.json"),
    )?;
    let gz = std::fs::File::open(fixture.join("tokenizer.json.gz"))?;
    let mut tokenizer = std::fs::File::create(folder.join("tokenizer.json"))?;
    std::io::copy(&mut flate2::read::GzDecoder::new(gz), &mut tokenizer)?;
    Ok(folder)
}
