//! CLIP ViT-B/32-shaped model (openai/clip-vit-base-patch32's config, random weights) on CPU:
//! images/s of the image tower at batch 1, 8 and 32 (preprocessed 224x224 input, model only) and texts/s of the
//! text tower at batch 1, 8 and 32 (77 tokens). Run: `cargo bench --bench clip_throughput`.
//! Peer figure: `scripts/torch_throughput_clip.py` (PyTorch, same config, 2 threads).

/// mimalloc keeps freed buffers for reuse; with the system allocator every tensor operation of a model takes
/// fresh pages from the OS (page faults and zeroing, a large share of CPU inference time).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};
use vsearch_embed::clip::{ClipConfig, ClipModel};
use vsearch_embed::{preprocess, Pixels};

const RUN: Duration = Duration::from_secs(6);

fn main() -> anyhow::Result<()> {
    let device = vsearch_embed::DeviceSpec::Cpu.to_candle()?;
    let model = ClipModel::random(&ClipConfig::vit_b32(), &device)?;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!("CLIP ViT-B/32 (random weights), candle CPU, {threads} threads");
    // A deterministic, image-like input (values in CLIP's normalised range).
    let data: Vec<f32> = (0..3 * 224 * 224)
        .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
        .collect();
    let pixels = Pixels {
        data,
        height: 224,
        width: 224,
    };
    for batch in [1usize, 8, 32] {
        let input = preprocess::batch_tensor(&vec![pixels.clone(); batch], &device)?;
        model.image_features(&input)?; // warm-up
        let (mut n, start) = (0usize, Instant::now());
        while start.elapsed() < RUN || n < 3 * batch {
            model.image_features(&input)?;
            n += batch;
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "image batch {batch:>2}: {:>7.1} images/s ({n} images in {secs:.1} s)",
            n as f64 / secs
        );
    }
    // 77 tokens: start, 75 text tokens, end-of-text (CLIP's full context).
    let ids: Vec<u32> = std::iter::once(49406)
        .chain((0..75).map(|i| 320 + i * 13))
        .chain([49407])
        .collect();
    for batch in [1usize, 8, 32] {
        let input = vec![ids.clone(); batch];
        model.text_features(&input)?; // warm-up
        let (mut n, start) = (0usize, Instant::now());
        while start.elapsed() < RUN || n < 3 * batch {
            model.text_features(&input)?;
            n += batch;
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "text  batch {batch:>2}: {:>7.1} texts/s ({n} texts in {secs:.1} s, 77 tokens)",
            n as f64 / secs
        );
    }
    Ok(())
}
