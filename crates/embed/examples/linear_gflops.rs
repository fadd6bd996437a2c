//! GFLOP/s of the CLIP towers' linear layers: the packed CPU kernels at every SIMD level this CPU runs
//! against candle's `Linear` (the `gemm` crate) and candle's int8 (Q8_0) quantized product, at ViT-B/32's and
//! the text tower's shapes.
//! Run: `cargo run --release -p vsearch-embed --example linear_gflops [-- --packed]` (`--packed`: the
//! packed kernels alone, for comparing builds of them).

use candle_core::{Device, Module, Tensor};
use std::time::{Duration, Instant};
use vsearch_embed::cpu::{Epilogue, Kernel, PackedLinear};

/// Best of five 300 ms timings, in GFLOP/s.
fn rate(flops: f64, mut f: impl FnMut()) -> f64 {
    f();
    (0..5)
        .map(|_| {
            let (mut n, start) = (0u32, Instant::now());
            while start.elapsed() < Duration::from_millis(300) {
                f();
                n += 1;
            }
            flops * f64::from(n) / start.elapsed().as_secs_f64() / 1e9
        })
        .fold(0.0, f64::max)
}

fn main() -> anyhow::Result<()> {
    let dev = Device::Cpu;
    let packed_only = std::env::args().any(|a| a == "--packed");
    println!("threads {}", rayon::current_num_threads());
    // (rows, out, in): image tower b1/b8/b32 (50 tokens), text tower b1/b8 (77 tokens).
    for &(m, n, k) in &[
        (50, 2304, 768),
        (50, 3072, 768),
        (50, 768, 3072),
        (400, 3072, 768),
        (1600, 3072, 768),
        (1600, 768, 3072),
        (77, 1536, 512),
        (77, 512, 2048),
        (616, 2048, 512),
    ] {
        let flops = 2.0 * (m * n * k) as f64;
        let x = Tensor::randn(0f32, 1.0, (m, k), &dev)?;
        let w = Tensor::randn(0f32, 0.05, (n, k), &dev)?;
        let b = Tensor::randn(0f32, 1.0, n, &dev)?;
        let lin = candle_nn::Linear::new(w.clone(), Some(b.clone()));
        let candle = if packed_only {
            f64::NAN
        } else {
            rate(flops, || {
                lin.forward(&x).expect("candle linear");
            })
        };
        let (xs, ws, bs) = (
            x.flatten_all()?.to_vec1::<f32>()?,
            w.flatten_all()?.to_vec1::<f32>()?,
            b.to_vec1::<f32>()?,
        );
        let mut line = format!("{m:>5} x {n:>5} x {k:>5}: candle {candle:6.1}");
        for kernel in Kernel::available() {
            let packed = PackedLinear::new(kernel, &ws, Some(&bs), n, k);
            let g = rate(flops, || {
                std::hint::black_box(packed.forward(&xs, Epilogue::None));
            });
            line += &format!("  {} {g:6.1}", kernel.name());
        }
        if packed_only {
            println!("{line} GFLOP/s");
            continue;
        }
        let q8 = candle_core::quantized::QMatMul::from_qtensor(
            candle_core::quantized::QTensor::quantize(&w, candle_core::quantized::GgmlDType::Q8_0)?,
        )?;
        let g = rate(flops, || {
            q8.forward(&x).expect("candle q8_0 matmul");
        });
        line += &format!("  q8_0 {g:6.1}");
        println!("{line} GFLOP/s");
    }
    Ok(())
}
