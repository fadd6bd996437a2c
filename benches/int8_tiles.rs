//! The int8 linear layer (`--precision int8`) on each tile this CPU runs, side by side in one process:
//! the AVX-512 VNNI tile (`vpdpbusd`) against the AVX2 tile (`vpmaddubsw`), on the shapes of CLIP
//! ViT-B/32's layers at batch 1 (50 tokens of the image tower) and batch 32 (1,600 tokens).
//! Rounds alternate the tiles (A B A B); each figure is the best round's. The quantisation of the
//! activations is included (it is part of every call), so the figures are the layer's, not the tile's.
//!
//! Run: `cargo bench --bench int8_tiles [-- --rounds 5]`. Prints, per shape and tile, the multiply-adds
//! per second (GMAC/s) and the ratio to the AVX2 tile, with the CPU model.

use std::time::{Duration, Instant};
use vsearch_bench::measure::{pseudo_random, rounds_arg};
use vsearch_embed::cpu::{Epilogue, Int8Tile, Kernel, QuantizedLinear};

/// Least time one round of one tile on one shape runs.
const ROUND: Duration = Duration::from_millis(700);

/// A layer shape: what it is, tokens (rows), output features, input features.
type Shape = (&'static str, usize, usize, usize);

const SHAPES: [Shape; 6] = [
    ("q/k/v/out 768x768, batch 1", 50, 768, 768),
    ("fc1 768->3072, batch 1", 50, 3072, 768),
    ("fc2 3072->768, batch 1", 50, 768, 3072),
    ("q/k/v/out 768x768, batch 32", 1600, 768, 768),
    ("fc1 768->3072, batch 32", 1600, 3072, 768),
    ("fc2 3072->768, batch 32", 1600, 768, 3072),
];

/// Multiply-adds per second of `layer` on `x` over one round.
fn round(layer: &QuantizedLinear, x: &[f32], macs: f64) -> f64 {
    let _ = layer.forward(x, Epilogue::None);
    let (mut calls, start) = (0u32, Instant::now());
    while start.elapsed() < ROUND || calls < 3 {
        std::hint::black_box(layer.forward(std::hint::black_box(x), Epilogue::None));
        calls += 1;
    }
    macs * f64::from(calls) / start.elapsed().as_secs_f64()
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let rounds =
        rounds_arg(&args, 5).ok_or_else(|| anyhow::anyhow!("--rounds needs a positive number"))?;
    let kernel = Kernel::detect().ok_or_else(|| anyhow::anyhow!("this CPU has no AVX2"))?;
    let tiles: Vec<Int8Tile> = Int8Tile::ALL
        .into_iter()
        .filter(|t| t.is_supported())
        .collect();
    let (cpu, _) = vsearch_bench::measure::machine();
    println!(
        "int8 linear layers, {cpu}, kernels {}, tiles {:?}, {rounds} rounds alternated, best of each",
        kernel.name(),
        tiles.iter().map(|t| t.name()).collect::<Vec<_>>()
    );
    println!(
        "{:<30} {:>14} {:>10} {:>8}",
        "shape", "tile", "GMAC/s", "vs avx2"
    );
    for (what, m, n, k) in SHAPES {
        let (w, b, x) = (
            pseudo_random(n * k, 1),
            pseudo_random(n, 2),
            pseudo_random(m * k, 3),
        );
        let layers: Vec<QuantizedLinear> = tiles
            .iter()
            .filter_map(|&t| QuantizedLinear::with_tile(kernel, t, &w, Some(&b), n, k))
            .collect();
        let macs = (m * n * k) as f64;
        let mut best = vec![0f64; layers.len()];
        for _ in 0..rounds {
            for (layer, best) in layers.iter().zip(&mut best) {
                *best = best.max(round(layer, &x, macs));
            }
        }
        let avx2 = layers
            .iter()
            .zip(&best)
            .find(|(l, _)| l.tile() == Int8Tile::Avx2)
            .map(|(_, b)| *b);
        for (layer, rate) in layers.iter().zip(&best) {
            let ratio = avx2.map_or(String::from("-"), |a| format!("{:.2}x", rate / a));
            println!(
                "{what:<30} {:>14} {:>10.1} {ratio:>8}",
                layer.tile().name(),
                rate / 1e9
            );
        }
    }
    Ok(())
}
