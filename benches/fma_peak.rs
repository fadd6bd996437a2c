//! The f32 arithmetic ceiling of this CPU: fused multiply-adds per second on every core, at the widest SIMD
//! level vsearch's kernels use here (AVX-512F where present, else AVX2+FMA). A model's measured rate in
//! FLOP/s (images/s times its FLOPs per image) over this figure is the share of the machine it uses, which
//! bounds what any implementation, vsearch's or a runtime's, can reach on the same CPU.
//!
//! Each thread runs 12 independent chains of FMAs on registers (more than the FMA latency times the FMA
//! ports, so the ports never wait), for about a second; best of 3 passes.
//!
//! Run: `cargo bench --bench fma_peak [-- THREADS]` (default: every core).

use std::time::Instant;

/// FMA rounds per chain per pass.
const ROUNDS: u64 = 200_000_000;
/// Independent accumulator registers per thread.
const CHAINS: usize = 12;

#[cfg(target_arch = "x86_64")]
mod fma {
    use super::{CHAINS, ROUNDS};
    use std::arch::x86_64::*;
    use std::hint::black_box;

    /// `ROUNDS * CHAINS` 8-lane FMAs; returns a sum so that nothing is optimised away.
    #[target_feature(enable = "avx2,fma")]
    pub fn avx2() -> f32 {
        let mut acc = [_mm256_set1_ps(1.0); CHAINS];
        let (b, c) = (
            _mm256_set1_ps(black_box(0.999_999)),
            _mm256_set1_ps(black_box(1e-6)),
        );
        for _ in 0..black_box(ROUNDS) {
            for x in acc.iter_mut() {
                *x = _mm256_fmadd_ps(*x, b, c);
            }
        }
        let mut out = [0f32; 8];
        let sum = acc
            .iter()
            .fold(_mm256_setzero_ps(), |s, &x| _mm256_add_ps(s, x));
        // SAFETY: `out` holds 8 floats.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), sum) };
        out.iter().sum()
    }

    /// `ROUNDS * CHAINS` 16-lane FMAs.
    #[target_feature(enable = "avx512f")]
    pub fn avx512() -> f32 {
        let mut acc = [_mm512_set1_ps(1.0); CHAINS];
        let (b, c) = (
            _mm512_set1_ps(black_box(0.999_999)),
            _mm512_set1_ps(black_box(1e-6)),
        );
        for _ in 0..black_box(ROUNDS) {
            for x in acc.iter_mut() {
                *x = _mm512_fmadd_ps(*x, b, c);
            }
        }
        _mm512_reduce_add_ps(
            acc.iter()
                .fold(_mm512_setzero_ps(), |s, &x| _mm512_add_ps(s, x)),
        )
    }
}

fn main() -> anyhow::Result<()> {
    #[cfg(target_arch = "x86_64")]
    {
        let threads: usize = match std::env::args().skip(1).find(|a| a != "--bench") {
            Some(t) => t.parse()?,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let (level, lanes, run): (&str, f64, fn() -> f32) = if is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F was detected.
            ("avx512", 16.0, || unsafe { fma::avx512() })
        } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: AVX2 and FMA were detected.
            ("avx2", 8.0, || unsafe { fma::avx2() })
        } else {
            anyhow::bail!("this CPU has neither AVX-512F nor AVX2+FMA: vsearch's kernels fall back to portable code");
        };
        let (cpu, _) = vsearch_bench::measure::machine();
        let mut best = 0f64;
        for _ in 0..3 {
            let start = Instant::now();
            let workers: Vec<_> = (0..threads).map(|_| std::thread::spawn(run)).collect();
            let mut check = 0f32;
            for w in workers {
                check += w.join().map_err(|_| anyhow::anyhow!("a thread panicked"))?;
            }
            let flops = (ROUNDS * CHAINS as u64) as f64 * lanes * 2.0 * threads as f64;
            best = best.max(flops / start.elapsed().as_secs_f64());
            std::hint::black_box(check);
        }
        println!(
            "{cpu}, {level}, {threads} threads: f32 FMA peak {:.1} GFLOP/s ({:.1} per thread)",
            best / 1e9,
            best / 1e9 / threads as f64
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    anyhow::bail!("fma_peak measures x86-64 SIMD only");
    Ok(())
}
