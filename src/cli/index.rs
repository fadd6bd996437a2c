//! `vsearch index`: index an image folder into a collection, incrementally.

use anyhow::Context;
use std::path::PathBuf;
use vsearch_engine::video::VideoOptions;
use vsearch_engine::{
    image_io, index_folder, DeviceSpec, IndexKind, IndexOptions, ModelSpec, Precision,
};

/// Arguments of `vsearch index`.
#[derive(clap::Args)]
pub struct Args {
    /// The image folder to index (walked recursively; hidden folders are skipped).
    dir: PathBuf,
    /// Collection folder (default: DIR/.vsearch).
    #[arg(long)]
    collection: Option<PathBuf>,
    /// Model: auto (CLIP ViT-B/32 when available, else EfficientNet-Lite0, with a warning), a preset from
    /// `vsearch models list`, or a CLIPModel repo of the Hugging Face hub: `hf:OWNER/NAME[@REVISION]`.
    /// An existing collection keeps its model; another one needs --rebuild.
    #[arg(long, default_value = "auto")]
    model: String,
    /// A CLIP model folder (config.json, model.safetensors or shards or pytorch_model.bin, tokenizer.json)
    /// instead of --model.
    #[arg(long, value_name = "PATH")]
    model_dir: Option<PathBuf>,
    /// Index kinds to maintain, comma-separated, REPLACING the collection's set: kinds left out are
    /// deleted (default: the collection's, all three for a new one). To add one, use --add-index.
    #[arg(long, value_enum, value_delimiter = ',')]
    index: Vec<IndexKind>,
    /// Index kinds to add, comma-separated, keeping the collection's others.
    #[arg(long, value_enum, value_delimiter = ',')]
    add_index: Vec<IndexKind>,
    /// Images per model batch.
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Decoding threads (default: number of CPU cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Device for the model: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Arithmetic of the model's linear layers: f32, or int8 (CLIP and SigLIP on a CPU with AVX2: faster,
    /// embeddings within a cosine of 0.99 of f32's; see the README).
    #[arg(long, default_value = "f32")]
    precision: Precision,
    /// Images with more pixels are refused before decoding.
    #[arg(long, default_value_t = image_io::DEFAULT_MAX_PIXELS)]
    max_pixels: u64,
    /// Decode every pixel of large JPEGs (by default they decode at the smallest 1/2, 1/4 or 1/8 scale
    /// that still gives the model its input size: several times faster on phone photos, embeddings
    /// within the cosine the README states).
    #[arg(long)]
    exact_decode: bool,
    /// Take a frame of each video this often, from its start (`5s`, `2.5s`, `500ms`; a plain number is
    /// seconds). Videos (MP4, MOV, MKV, WebM, recognised by content) need ffmpeg.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_interval_ms)]
    video_frames_every: u64,
    /// At most this many frames per video: a longer video gets them spread evenly over its length.
    #[arg(long, value_name = "N", default_value_t = VideoOptions::default().max_frames)]
    video_max_frames: usize,
    /// Leave video files out (the frames of videos indexed before are removed).
    #[arg(long)]
    no_videos: bool,
    /// Start the collection over (needed to change the model).
    #[arg(long)]
    rebuild: bool,
    /// Index even when the free-space check says the run will not fit on the collection's disk (a run
    /// estimates what it will write before it embeds anything, and refuses when the disk cannot hold it).
    #[arg(long)]
    force: bool,
    /// Label policy (TOML) to put in force: zero-shot labels scored with the text tower (CLIP-family models
    /// only); a new policy re-scores every image from its stored vector, without re-embedding. Default: the
    /// collection's policy, the shipped default for a new collection.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Index nothing: check that the catalog, embedding matrix and indexes of the collection agree.
    #[arg(long)]
    check: bool,
    /// After indexing, keep watching the folder and index files as they appear, change or go (until
    /// Ctrl-C; an interrupted run resumes on the next start). `vsearch serve` picks up each commit.
    #[arg(long, conflicts_with = "check")]
    watch: bool,
    #[command(flatten)]
    qdrant: super::qdrant::QdrantArgs,
    /// Qdrant: shards of a new collection (default: one per node of the cluster).
    #[arg(long, requires = "qdrant")]
    shards: Option<u32>,
    /// Qdrant: copies of each shard in a new collection (default 1; 2 or more survive a node's loss).
    #[arg(long, requires = "qdrant")]
    replicas: Option<u32>,
    /// Quantization of the vectors searched through: `int8` (a byte per value, a quarter of the memory;
    /// answers are re-scored with the full vectors) or `none`. Local collections: the HNSW index walks
    /// int8 codes and maps its full vectors from disk (kept for later runs; an index that changes is
    /// rebuilt). Qdrant: a new collection's scalar quantization.
    #[arg(long, value_name = "KIND")]
    quantization: Option<QuantizationArg>,
    /// Qdrant: index only this worker's share of the files, I/N (1-based, stable by path): N workers with
    /// --part 1/N .. N/N index one folder tree into one collection in parallel.
    #[arg(long, value_name = "I/N", requires = "qdrant")]
    part: Option<vsearch_engine::qdrant::payload::Part>,
    /// Qdrant: the URL the images are served from; each point's payload gets `url` = URL/PATH.
    #[arg(long, value_name = "URL", requires = "qdrant")]
    base_url: Option<String>,
    /// Qdrant: the folder of vsearch's own records about the collection, whose blocks new images are
    /// checked against (default DIR/.vsearch/qdrant/COLLECTION, as `serve --root DIR` reads them).
    #[arg(long, value_name = "DIR", requires = "qdrant")]
    state: Option<PathBuf>,
}

/// `--quantization`: a [`vsearch_engine::Quantization`] by name, or `none`.
#[derive(Debug, Clone, Copy)]
struct QuantizationArg(Option<vsearch_engine::Quantization>);

impl std::str::FromStr for QuantizationArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("none") {
            return Ok(Self(None));
        }
        s.parse()
            .map(|q| Self(Some(q)))
            .map_err(|e| format!("{e} (or none)"))
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.check {
        return check(&args);
    }
    let model = match &args.model_dir {
        Some(dir) => ModelSpec::Dir(dir.clone()),
        None => args.model.parse::<ModelSpec>()?,
    };
    let device: DeviceSpec = args.device.parse()?;
    anyhow::ensure!(args.batch >= 1, "--batch must be at least 1");
    let policy = args
        .policy
        .as_deref()
        .map(vsearch_engine::PolicySource::read)
        .transpose()?;
    let defaults = IndexOptions::default();
    let options = IndexOptions {
        collection: args.collection.clone(),
        model,
        device,
        precision: args.precision,
        indexes: args.index.clone(),
        add_indexes: args.add_index.clone(),
        batch: args.batch,
        threads: args.threads.unwrap_or(defaults.threads).max(1),
        max_pixels: args.max_pixels,
        exact_decode: args.exact_decode,
        quantization: args.quantization.map(|q| q.0),
        rebuild: args.rebuild,
        progress: !args.json,
        force: args.force,
        policy,
        videos: VideoOptions {
            enabled: !args.no_videos,
            every_ms: args.video_frames_every,
            max_frames: args.video_max_frames,
            ..VideoOptions::default()
        },
    };
    if let Some(mut target) = args.qdrant.target()? {
        anyhow::ensure!(
            !args.watch && !args.rebuild && args.collection.is_none() && args.policy.is_none(),
            "--watch, --rebuild, --collection and --policy are for local collections, not with --qdrant"
        );
        target.layout.shards = args.shards;
        target.layout.replicas = args.replicas;
        target.layout.quantization = args.quantization.and_then(|q| q.0);
        let records = args
            .state
            .clone()
            .unwrap_or_else(|| vsearch_engine::qdrant_records_dir(&args.dir, &target.collection));
        let qdrant = vsearch_engine::QdrantIndexOptions {
            target,
            part: args.part,
            base_url: args.base_url.clone(),
            records: Some(records),
        };
        let report =
            vsearch_engine::index_into_qdrant(&args.dir, &options, &qdrant).with_context(|| {
                format!(
                    "cannot index {} into Qdrant collection `{}` at {}",
                    args.dir.display(),
                    qdrant.target.collection,
                    qdrant.target.url
                )
            })?;
        return print_report(&args, &report);
    }
    if args.watch {
        if options.rebuild {
            // Started over once; the watched runs then update it.
            let report = index_folder(&args.dir, &options)
                .with_context(|| format!("cannot index {}", args.dir.display()))?;
            print_report(&args, &report)?;
        }
        let options = IndexOptions {
            rebuild: false,
            ..options
        };
        let mut first = true;
        return vsearch_engine::watch_folder(
            &args.dir,
            &options,
            |event| match event {
                vsearch_engine::WatchEvent::Indexed(report) => {
                    // The first run is always reported; later ones when they changed something.
                    let changed =
                        report.indexed + report.updated + report.removed + report.failed.len() > 0;
                    if std::mem::take(&mut first) || changed {
                        if let Err(e) = print_report(&args, report) {
                            tracing::warn!("cannot print the report: {e}");
                        }
                    }
                }
                vsearch_engine::WatchEvent::Failed(e) => {
                    tracing::error!("indexing {} failed: {e}", args.dir.display())
                }
            },
            || true,
        )
        .with_context(|| format!("cannot watch {}", args.dir.display()));
    }
    let report = index_folder(&args.dir, &options)
        .with_context(|| format!("cannot index {}", args.dir.display()))?;
    print_report(&args, &report)
}

/// Prints what a run did: one line (and one per failed file), or JSON with --json.
fn print_report(args: &Args, report: &vsearch_engine::IndexReport) -> anyhow::Result<()> {
    if args.json {
        // One line per run when watching (JSON lines), pretty otherwise.
        if args.watch {
            println!("{}", serde_json::to_string(report)?);
        } else {
            println!("{}", serde_json::to_string_pretty(report)?);
        }
        return Ok(());
    }
    let rate = if report.seconds > 0.0 {
        report.embedded as f64 / report.seconds
    } else {
        0.0
    };
    println!(
        "{}: indexed {}, unchanged {}, updated {}, removed {}, failed {} ({} embedded with {} in {:.1} s, {:.1} images/s)",
        args.dir.display(),
        report.indexed,
        report.unchanged,
        report.updated,
        report.removed,
        report.failed.len(),
        report.embedded,
        report.model,
        report.seconds,
        rate
    );
    if report.embedded > 0 {
        // Which stage set the pace: the model, or decoding (the model waiting for images).
        let busy = report.model_seconds + report.waiting_for_decode_seconds;
        let slower = if report.waiting_for_decode_seconds > 0.1 * busy.max(f64::EPSILON) {
            "decoding is the slower stage (more --threads helps while cores are free)"
        } else {
            "the model is the slower stage"
        };
        println!(
            "  time: model {:.1} s, decoding {:.1} s of CPU beside it, the model waited {:.1} s for decoded images: {slower}",
            report.model_seconds, report.decode_cpu_seconds, report.waiting_for_decode_seconds
        );
    }
    if report.labelled > 0 {
        println!("  labels scored for {} images", report.labelled);
    }
    if report.blocked > 0 {
        println!(
            "  blocked on arrival: {} new images a block hides (see `vsearch blocks`; recorded in the audit log)",
            report.blocked
        );
    }
    if report.hash_matches > 0 {
        println!(
            "  hash banks: {} new images matched a bank's PDQ hash and were blocked (see `vsearch blocks`; the audit log names the bank and the distance)",
            report.hash_matches
        );
    }
    if report.pdq_hashed > 0 {
        println!(
            "  PDQ hashes computed for {} images indexed before the catalog kept them",
            report.pdq_hashed
        );
    }
    if report.videos > 0 {
        println!(
            "  videos: {} indexed as frames (each frame a result: VIDEO#t=SECONDS)",
            report.videos
        );
    }
    for f in &report.failed {
        println!("  failed: {}: {}", f.path.display(), f.reason);
    }
    Ok(())
}

/// A duration on the command line, in milliseconds: `5s`, `2.5s`, `500ms`, or a number of seconds.
fn parse_interval_ms(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, scale) = match text.strip_suffix("ms") {
        Some(n) => (n, 1.0),
        None => (text.strip_suffix('s').unwrap_or(text), 1000.0),
    };
    match number.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && n * scale >= 1.0 => Ok((n * scale).round() as u64),
        _ => Err(format!(
            "'{text}' is not a duration of at least 1 ms: write it as 5s, 2.5s or 500ms"
        )),
    }
}

fn check(args: &Args) -> anyhow::Result<()> {
    let path = args.collection.clone().unwrap_or_else(|| args.dir.clone());
    let report = vsearch_engine::verify(&path)
        .with_context(|| format!("cannot check {}", path.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{} indexed, {} failed, {} matrix rows, generation {} (indexes at {:?})",
            report.ok,
            report.failed,
            report.matrix_rows,
            report.generation,
            report.index_generation
        );
        for (kind, len) in &report.indexes {
            println!("  {kind} index: {len} vectors");
        }
        for p in &report.problems {
            println!("  problem: {p}");
        }
        if let Some(pending) = &report.pending {
            // Not damage: the catalog ran ahead of the last commit (an interrupted or failed run).
            println!(
                "  pending: {pending} (catalog at generation {}, indexes at {}): run `vsearch index {}` to finish",
                pending.catalog_generation,
                pending.committed_generation,
                args.dir.display()
            );
        }
    }
    anyhow::ensure!(
        report.is_consistent(),
        "the collection is inconsistent ({} problems): run `vsearch index DIR` to repair it",
        report.problems.len()
    );
    Ok(())
}
