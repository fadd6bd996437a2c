//! vsearch's side of `scripts/compare_runtimes.py`: one CLIP or SigLIP folder (Hugging Face `CLIPModel` or
//! `SiglipModel` layout, as its `config.json` says) on real inputs, model time only. Images: every photo
//! of a folder, decoded and preprocessed with vsearch's recipe for the family beforehand, then embedded at
//! batch 1 (one call per photo) and at batch 32 (the last batch holds the rest). Texts: the lines of a
//! captions file, tokenized beforehand, embedded in batches of 16 (CLIP: each caption to its own end of
//! text, as vsearch runs them; SigLIP: padded to the model's length, as SigLIP is defined). One warm-up
//! pass of each, then `--rounds` timed passes (best kept). Then the captions one per call, as a search box
//! sends them, with the median call of the best pass. Prints the rates, and with `--features PREFIX` writes the projected features (not normalised)
//! as little-endian `f32` rows to `PREFIX.image.f32` and `PREFIX.text.f32` (the script's cosines).
//!
//! Run: `cargo bench --bench clip_folder -- MODEL_DIR --images DIR --captions FILE [--precision f32|int8]
//! [--rounds N] [--features PREFIX]`.

/// The `vsearch` binary's allocator and settings, so the benchmark measures what the binary runs.
#[path = "../src/allocator.rs"]
mod allocator;

use anyhow::Context;
use candle_core::{Device, Tensor};
use std::path::{Path, PathBuf};
use std::time::Instant;
use vsearch_embed::clip::{ClipModel, ClipTokenizer, MAX_TOKENS};
use vsearch_embed::cpu::Kernel;
use vsearch_embed::preprocess::{self, ClipRecipe, SiglipRecipe};
use vsearch_embed::siglip::{SiglipModel, SiglipTokenizer};
use vsearch_embed::{Pixels, Precision};

/// Image batch sizes measured.
const IMAGE_BATCHES: [usize; 2] = [1, 32];
/// Captions per text batch.
const TEXT_BATCH: usize = 16;

/// Command line: the folder, the inputs, the precision.
struct Args {
    model: PathBuf,
    images: PathBuf,
    captions: PathBuf,
    precision: Precision,
    rounds: usize,
    features: Option<PathBuf>,
}

fn args() -> anyhow::Result<Args> {
    let mut model = None;
    let (mut images, mut captions, mut features) = (None, None, None);
    let (mut precision, mut rounds) = (Precision::F32, 1usize);
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--images" => images = Some(PathBuf::from(value()?)),
            "--captions" => captions = Some(PathBuf::from(value()?)),
            "--features" => features = Some(PathBuf::from(value()?)),
            "--precision" => precision = value()?.parse()?,
            "--rounds" => rounds = value()?.parse()?,
            // cargo bench passes --bench to every bench binary.
            "--bench" => {}
            other if !other.starts_with('-') => model = Some(PathBuf::from(other)),
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let usage = "usage: clip_folder MODEL_DIR --images DIR --captions FILE [--precision f32|int8] [--rounds N] [--features PREFIX]";
    Ok(Args {
        model: model.context(usage)?,
        images: images.context(usage)?,
        captions: captions.context(usage)?,
        precision,
        rounds: rounds.max(1),
        features,
    })
}

/// Seconds of the fastest of `rounds` calls of `f`, after one warm-up call; the warm-up's result.
fn best<T>(rounds: usize, mut f: impl FnMut() -> anyhow::Result<T>) -> anyhow::Result<(f64, T)> {
    let out = f()?;
    let mut best = f64::INFINITY;
    for _ in 0..rounds {
        let start = Instant::now();
        f()?;
        best = best.min(start.elapsed().as_secs_f64());
    }
    Ok((best, out))
}

/// A folder's model with its tokenizer and preprocessing: CLIP or SigLIP, as its `config.json` names it.
enum Towers {
    Clip(ClipModel, ClipTokenizer, ClipRecipe),
    Siglip(SiglipModel, SiglipTokenizer, SiglipRecipe),
}

impl Towers {
    fn load(dir: &Path, device: &Device, precision: Precision) -> anyhow::Result<Self> {
        Ok(if vsearch_embed::registry::is_siglip_dir(dir) {
            let model = SiglipModel::load(dir, device, precision)?;
            let tokenizer =
                SiglipTokenizer::from_dir(dir, model.config.text_config.max_position_embeddings)?;
            let size = u32::try_from(model.image_size())?;
            Self::Siglip(model, tokenizer, SiglipRecipe::from_dir(dir, size)?)
        } else {
            let model = ClipModel::load(dir, device, precision)?;
            let tokenizer = ClipTokenizer::from_dir(dir, MAX_TOKENS)?;
            Self::Clip(model, tokenizer, ClipRecipe::from_dir(dir)?)
        })
    }

    fn family(&self) -> &'static str {
        match self {
            Self::Clip(..) => "CLIP",
            Self::Siglip(..) => "SigLIP",
        }
    }

    fn preprocess(&self, image: &image::DynamicImage) -> anyhow::Result<Pixels> {
        Ok(match self {
            Self::Clip(_, _, recipe) => preprocess::clip(image, recipe)?,
            Self::Siglip(_, _, recipe) => preprocess::siglip(image, recipe)?,
        })
    }

    fn tokenize(&self, text: &str) -> anyhow::Result<Vec<u32>> {
        Ok(match self {
            Self::Clip(_, tokenizer, _) => tokenizer.encode(text)?,
            Self::Siglip(_, tokenizer, _) => tokenizer.encode(text)?,
        })
    }

    fn image_features(&self, pixels: &Tensor) -> anyhow::Result<Tensor> {
        Ok(match self {
            Self::Clip(model, ..) => model.image_features(pixels)?,
            Self::Siglip(model, ..) => model.image_features(pixels)?,
        })
    }

    fn text_features(&self, ids: &[Vec<u32>]) -> anyhow::Result<Tensor> {
        Ok(match self {
            Self::Clip(model, ..) => model.text_features(ids)?,
            Self::Siglip(model, ..) => model.text_features(ids)?,
        })
    }
}

/// The photos of `dir` (sorted by name), decoded and preprocessed with the folder's recipe.
fn photos(dir: &Path, towers: &Towers) -> anyhow::Result<Vec<Pixels>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    paths.retain(|p| vsearch_embed::image_io::has_image_extension(p));
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            let image = vsearch_embed::image_io::decode(&bytes, u64::MAX)
                .with_context(|| format!("decoding {}", p.display()))?;
            towers.preprocess(&image)
        })
        .collect()
}

/// Writes `rows` as little-endian `f32` values.
fn write_rows(path: &Path, rows: &[Vec<f32>]) -> anyhow::Result<()> {
    let bytes: Vec<u8> = rows
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

fn main() -> anyhow::Result<()> {
    allocator::keep_freed_memory();
    let a = args()?;
    let device = vsearch_embed::DeviceSpec::Cpu.to_candle()?;
    let model = Towers::load(&a.model, &device, a.precision)?;
    let pixels = photos(&a.images, &model)?;
    let captions = std::fs::read_to_string(&a.captions)
        .with_context(|| format!("reading {}", a.captions.display()))?;
    let ids = captions
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| model.tokenize(l))
        .collect::<anyhow::Result<Vec<_>>>()?;
    anyhow::ensure!(
        !pixels.is_empty() && !ids.is_empty(),
        "no photos or no captions"
    );
    let kernels = Kernel::selected().map_or("candle's ops", Kernel::name);
    println!(
        "vsearch {} {}: {} threads, kernels: {kernels}",
        model.family(),
        a.precision,
        rayon::current_num_threads()
    );
    let p = a.precision;
    let mut image_features = Vec::new();
    for batch in IMAGE_BATCHES {
        let inputs = pixels
            .chunks(batch)
            .map(|chunk| preprocess::batch_tensor(chunk, &device))
            .collect::<Result<Vec<_>, _>>()?;
        let (secs, rows) = best(a.rounds, || {
            let mut rows = Vec::new();
            for t in &inputs {
                rows.extend(model.image_features(t)?.to_vec2::<f32>()?);
            }
            Ok(rows)
        })?;
        let n = pixels.len();
        println!(
            "vsearch {p} image batch {batch:>2}: {:>7.1} images/s ({n} images in {secs:.2} s)",
            n as f64 / secs
        );
        image_features = rows;
    }
    let (secs, text_features) = best(a.rounds, || {
        let mut rows = Vec::new();
        for chunk in ids.chunks(TEXT_BATCH) {
            rows.extend(model.text_features(chunk)?.to_vec2::<f32>()?);
        }
        Ok(rows)
    })?;
    let lengths = ids.iter().map(Vec::len);
    let (shortest, longest) = (lengths.clone().min(), lengths.max());
    let n = ids.len();
    println!(
        "vsearch {p} text  batch {TEXT_BATCH}: {:>7.1} texts/s ({n} texts in {secs:.2} s, {}-{} tokens)",
        n as f64 / secs,
        shortest.unwrap_or(0),
        longest.unwrap_or(0)
    );
    // One caption per call, as a search box sends them: the rate, and the median call of the best pass.
    let mut best_pass = (f64::INFINITY, 0.0);
    for pass in 0..=a.rounds {
        let mut calls = Vec::with_capacity(n);
        let start = Instant::now();
        for row in &ids {
            let call = Instant::now();
            model.text_features(std::slice::from_ref(row))?;
            calls.push(call.elapsed().as_secs_f64());
        }
        let secs = start.elapsed().as_secs_f64();
        if pass > 0 && secs < best_pass.0 {
            calls.sort_by(f64::total_cmp);
            best_pass = (secs, calls[calls.len() / 2]);
        }
    }
    let (secs, median) = best_pass;
    println!(
        "vsearch {p} text  batch  1: {:>7.1} texts/s ({n} texts in {secs:.2} s, {}-{} tokens, median call {:.2} ms)",
        n as f64 / secs,
        shortest.unwrap_or(0),
        longest.unwrap_or(0),
        median * 1e3
    );
    if let Some(prefix) = a.features {
        let with = |ext: &str| PathBuf::from(format!("{}.{ext}", prefix.display()));
        write_rows(&with("image.f32"), &image_features)?;
        write_rows(&with("text.f32"), &text_features)?;
    }
    Ok(())
}
