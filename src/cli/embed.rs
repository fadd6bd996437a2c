//! `vsearch embed`: embeddings of image files (or CLIP text) as JSON lines.

use anyhow::Context;
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use vsearch_embed::{image_io, registry, DeviceSpec, ModelSpec, Precision};

/// Arguments of `vsearch embed`.
#[derive(clap::Args)]
pub struct Args {
    /// Model: `auto`, a preset (`vsearch models list`) or a hub repo `hf:OWNER/NAME[@REVISION]`.
    #[arg(long, default_value = "auto")]
    model: String,
    /// A Hugging Face CLIP folder (config.json, weights, tokenizer.json); overrides --model.
    #[arg(long, value_name = "PATH")]
    model_dir: Option<PathBuf>,
    /// `cpu` or `cuda[:N]` (CUDA needs a build with `--features cuda`).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Arithmetic of the model's linear layers: f32, or int8 (CLIP and SigLIP on a CPU with AVX2: faster,
    /// embeddings within a cosine of 0.99 of f32's; see the README).
    #[arg(long, default_value = "f32")]
    precision: Precision,
    /// Text to embed (CLIP models only); repeatable.
    #[arg(long)]
    text: Vec<String>,
    /// Images per model call.
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Decode every pixel of large JPEGs (by default they decode at the smallest DCT scale that still
    /// gives the model its input size).
    #[arg(long)]
    exact_decode: bool,
    /// Image files to embed.
    files: Vec<PathBuf>,
}

/// One file of a batch: its path and its preprocessed pixels, or why it could not be read.
type Decoded<'a> = (&'a PathBuf, vsearch_embed::Result<vsearch_embed::Pixels>);

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.files.is_empty() && args.text.is_empty() {
        anyhow::bail!("nothing to embed: give image FILEs and/or --text \"...\"");
    }
    let spec = match &args.model_dir {
        Some(dir) => ModelSpec::Dir(dir.clone()),
        None => args.model.parse::<ModelSpec>()?,
    };
    let device: DeviceSpec = args.device.parse()?;
    let embedder = registry::load_at(&spec, &device, args.precision)
        .with_context(|| format!("loading model {spec}"))?;
    let model = embedder.info.id.clone();
    let dim = embedder.info.dim;
    eprintln!("model: {model} (dim {dim})");

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut done = 0usize;

    if !args.text.is_empty() {
        let texts: Vec<&str> = args.text.iter().map(String::as_str).collect();
        let vectors = embedder.embed_texts(&texts)?;
        for (text, vector) in texts.iter().zip(vectors) {
            writeln!(
                out,
                "{}",
                json!({"text": text, "model": model, "dim": dim, "vector": vector})
            )?;
            done += 1;
        }
    }

    // Batches are decoded and preprocessed on the decoding threads (one per core) while the model
    // embeds the previous one (one batch ahead), each image at the size the model needs.
    let image = &embedder.image;
    let size = if args.exact_decode {
        image_io::DecodeSize::Full
    } else {
        image.decode_size()
    };
    let written: anyhow::Result<()> = vsearch_embed::run_ahead(
        args.files.chunks(args.batch.max(1)),
        1,
        |chunk| {
            use rayon::prelude::*;
            chunk
                .par_iter()
                .map(|path| {
                    let px = image_io::open_sized(path, image_io::DEFAULT_MAX_PIXELS, size)
                        .and_then(|decoded| image.preprocess(&decoded.image));
                    (path, px)
                })
                .collect::<Vec<Decoded>>()
        },
        |decoded| {
            // Failures get their own line, the rest go to the model.
            let mut ready = Vec::new();
            let mut pixels = Vec::new();
            for (path, result) in decoded {
                match result {
                    Ok(px) => {
                        ready.push(path);
                        pixels.push(px);
                    }
                    Err(e) => writeln!(
                        out,
                        "{}",
                        json!({"path": path, "model": model, "error": e.to_string()})
                    )?,
                }
            }
            if pixels.is_empty() {
                return Ok(());
            }
            match image.embed_pixels(&pixels) {
                Ok(vectors) => {
                    for (path, vector) in ready.iter().zip(vectors) {
                        writeln!(
                            out,
                            "{}",
                            json!({"path": path, "model": model, "dim": dim, "vector": vector})
                        )?;
                        done += 1;
                    }
                }
                Err(e) => {
                    for path in ready {
                        writeln!(
                            out,
                            "{}",
                            json!({"path": path, "model": model, "error": e.to_string()})
                        )?;
                    }
                }
            }
            Ok(())
        },
    );
    written?;
    out.flush()?;
    if done == 0 {
        anyhow::bail!("nothing could be embedded (see the error lines above)");
    }
    Ok(())
}
