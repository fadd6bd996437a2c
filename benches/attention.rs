//! The fused multi-head attention of the transformer towers ([`vsearch_embed::cpu::attention`]) on the
//! shapes CLIP and SigLIP run: ViT-B/32's 50 tokens at batch 1 and 32, ViT-B/16's 197 tokens, and
//! batched captions (causal, 20 tokens, and the last layer's one query per caption), at every kernel level
//! this CPU runs, `f32` products, and bf16 products (what the towers at int8 run) where the CPU has AVX-512
//! BF16. Rounds alternate the sides (A B A B); each figure is the best round's.
//!
//! Run: `cargo bench --bench attention [-- --rounds 5]`. Prints, per shape and level, the multiply-adds
//! of `q k^T` and `p v` per second (GMAC/s), with the CPU model. Compare two commits by running their
//! binaries alternately.

use std::time::{Duration, Instant};
use vsearch_bench::measure::{pseudo_random, rounds_arg};
use vsearch_embed::cpu::{attention, AttentionProducts, Kernel, Queries};

/// Least time one round of one level on one shape runs.
const ROUND: Duration = Duration::from_millis(700);

/// An attention shape: what it is, sequence lengths, (heads, head_dim), causal, queries.
struct Shape {
    what: &'static str,
    lengths: Vec<usize>,
    heads: (usize, usize),
    causal: bool,
    queries: Queries,
}

fn shapes() -> Vec<Shape> {
    let shape = |what, batch, tokens, causal, queries| Shape {
        what,
        lengths: vec![tokens; batch],
        heads: (12, 64),
        causal,
        queries,
    };
    vec![
        shape("ViT-B/32 image, batch 1", 1, 50, false, Queries::All),
        shape("ViT-B/32 image, batch 32", 32, 50, false, Queries::All),
        shape("ViT-B/16 image, batch 8", 8, 197, false, Queries::All),
        shape("captions 16 x 20 tokens", 16, 20, true, Queries::All),
        shape("captions, last query only", 16, 20, true, Queries::Last),
    ]
}

/// Multiply-adds of one call: `q k^T` and `p v` over the computed queries.
fn macs(s: &Shape) -> f64 {
    let hidden = s.heads.0 * s.heads.1;
    s.lengths
        .iter()
        .map(|&n| {
            let queries = match s.queries {
                Queries::All => n,
                Queries::Last => 1,
            };
            (2 * queries * n * hidden) as f64
        })
        .sum()
}

/// Multiply-adds per second of the attention at `kernel` with `products` on `qkv` over one round.
fn round(kernel: Kernel, products: AttentionProducts, s: &Shape, qkv: &[f32]) -> f64 {
    let run = || {
        attention(
            kernel, products, qkv, &s.lengths, s.heads, s.causal, s.queries,
        )
    };
    let _ = run();
    let (mut calls, start) = (0u32, Instant::now());
    while start.elapsed() < ROUND || calls < 3 {
        std::hint::black_box(run());
        calls += 1;
    }
    macs(s) * f64::from(calls) / start.elapsed().as_secs_f64()
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let rounds =
        rounds_arg(&args, 5).ok_or_else(|| anyhow::anyhow!("--rounds needs a positive number"))?;
    let mut sides: Vec<(Kernel, AttentionProducts)> = Kernel::available()
        .map(|k| (k, AttentionProducts::F32))
        .collect();
    anyhow::ensure!(!sides.is_empty(), "this CPU has no AVX2");
    if AttentionProducts::for_int8(Kernel::Avx512) == AttentionProducts::Bf16 {
        sides.insert(0, (Kernel::Avx512, AttentionProducts::Bf16));
    }
    let name = |(kernel, products): (Kernel, AttentionProducts)| match products {
        AttentionProducts::F32 => kernel.name().to_string(),
        AttentionProducts::Bf16 => format!("{}-bf16", kernel.name()),
    };
    let (cpu, _) = vsearch_bench::measure::machine();
    println!(
        "fused attention, {cpu}, sides {:?}, {rounds} rounds alternated, best of each",
        sides.iter().map(|&s| name(s)).collect::<Vec<_>>()
    );
    println!("{:<30} {:>12} {:>10}", "shape", "side", "GMAC/s");
    for s in shapes() {
        let rows: usize = s.lengths.iter().sum();
        let qkv = pseudo_random(rows * 3 * s.heads.0 * s.heads.1, 7);
        let mut best = vec![0f64; sides.len()];
        for _ in 0..rounds {
            for (&(kernel, products), best) in sides.iter().zip(&mut best) {
                *best = best.max(round(kernel, products, &s, &qkv));
            }
        }
        for (&side, rate) in sides.iter().zip(&best) {
            println!("{:<30} {:>12} {:>10.1}", s.what, name(side), rate / 1e9);
        }
    }
    Ok(())
}
