//! CLIP models with random weights (the configs of openai/clip-vit-base-patch32, -base-patch16 and
//! -large-patch14) on CPU: images/s of the image tower (preprocessed 224x224 input, model only) and texts/s
//! of ViT-B/32's text tower (77 tokens), at batch 1, 8 and 32 (ViT-B/16 and ViT-L/14: 1 and 8).
//! Run: `cargo bench --bench clip_throughput [-- b32 b16 l14] [--precision f32,int8]` (default: all
//! three, `f32`); with several precisions each batch runs at each in turn, so their ratio is measured
//! side by side.
//! Peer figure: `scripts/torch_throughput_clip.py` (PyTorch, same configs, 2 threads).
//! `VSEARCH_CPU_KERNELS=candle` runs candle's own ops instead of vsearch's CPU kernels, `=avx2` caps
//! the kernels at AVX2.

/// The `vsearch` binary's allocator and settings, so the benchmark measures what the binary runs.
#[path = "../src/allocator.rs"]
mod allocator;

use std::time::{Duration, Instant};
use vsearch_embed::clip::{ClipConfig, ClipModel};
use vsearch_embed::cpu::Kernel;
use vsearch_embed::{preprocess, Pixels, Precision};

const RUN: Duration = Duration::from_secs(6);

/// A benchmarked model: key on the command line, name, config, image batch sizes.
type Model = (
    &'static str,
    &'static str,
    fn() -> ClipConfig,
    &'static [usize],
);

/// Items per second of `f` (one batch of `batch` items per call): after a warm-up call, calls for at
/// least [`RUN`] and three batches.
fn rate(
    batch: usize,
    mut f: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<(f64, usize, f64)> {
    f()?;
    let (mut n, start) = (0usize, Instant::now());
    while start.elapsed() < RUN || n < 3 * batch {
        f()?;
        n += batch;
    }
    let secs = start.elapsed().as_secs_f64();
    Ok((n as f64 / secs, n, secs))
}

fn main() -> anyhow::Result<()> {
    allocator::keep_freed_memory();
    let device = vsearch_embed::DeviceSpec::Cpu.to_candle()?;
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let precisions: Vec<Precision> = match args.iter().position(|a| a == "--precision") {
        Some(at) if at + 1 < args.len() => {
            let list = args.remove(at + 1);
            args.remove(at);
            list.split(',').map(str::parse).collect::<Result<_, _>>()?
        }
        Some(_) => anyhow::bail!("--precision needs a value: f32, int8 or f32,int8"),
        None => vec![Precision::F32],
    };
    let wanted: Vec<String> = args.into_iter().filter(|a| !a.starts_with('-')).collect();
    let wanted = |name: &str| wanted.is_empty() || wanted.iter().any(|w| w == name);
    let threads = rayon::current_num_threads();
    let kernels = Kernel::selected().map_or("candle's ops", Kernel::name);
    println!("CLIP (random weights), candle CPU, {threads} threads, kernels: {kernels}");
    // A deterministic, image-like input (values in CLIP's normalised range).
    let data: Vec<f32> = (0..3 * 224 * 224)
        .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
        .collect();
    let pixels = Pixels {
        data,
        height: 224,
        width: 224,
    };
    let models: [Model; 3] = [
        ("b32", "ViT-B/32", ClipConfig::vit_b32, &[1, 8, 32]),
        ("b16", "ViT-B/16", ClipConfig::vit_b16, &[1, 8]),
        ("l14", "ViT-L/14", ClipConfig::vit_l14, &[1, 8]),
    ];
    for (key, name, config, batches) in models {
        if !wanted(key) {
            continue;
        }
        let models = precisions
            .iter()
            .map(|&p| Ok((p, ClipModel::random(&config().with_precision(p), &device)?)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        // Labelled by precision only when several are compared (the default output stays as it was).
        let label = |p: Precision| {
            if precisions.len() > 1 {
                format!(" {p:>4}")
            } else {
                String::new()
            }
        };
        for &batch in batches {
            let input = preprocess::batch_tensor(&vec![pixels.clone(); batch], &device)?;
            for (p, model) in &models {
                let (r, n, secs) = rate(batch, || Ok(model.image_features(&input).map(drop)?))?;
                println!(
                    "{name}{} image batch {batch:>2}: {r:>7.1} images/s ({n} images in {secs:.1} s)",
                    label(*p)
                );
            }
        }
        if key != "b32" {
            continue;
        }
        // 77 tokens: start, 75 text tokens, end-of-text (CLIP's full context).
        let ids: Vec<u32> = std::iter::once(49406)
            .chain((0..75).map(|i| 320 + i * 13))
            .chain([49407])
            .collect();
        for batch in [1usize, 8, 32] {
            let input = vec![ids.clone(); batch];
            for (p, model) in &models {
                let (r, n, secs) = rate(batch, || Ok(model.text_features(&input).map(drop)?))?;
                println!(
                    "{name}{} text  batch {batch:>2}: {r:>7.1} texts/s ({n} texts in {secs:.1} s, 77 tokens)",
                    label(*p)
                );
            }
        }
    }
    Ok(())
}
