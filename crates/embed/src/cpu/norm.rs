//! Layer normalisation over the last dimension, vectorised for the kernel's level and spread over the
//! kernel threads ([`super::team`]) when the input is large.

use super::{team, Kernel, Unfilled};
use std::mem::MaybeUninit;

/// Inputs up to this many values are normalised on the calling thread (a parallel loop costs more).
const INLINE_MAX: usize = 64 * 1024;

/// Rows of `x` (each `gamma.len()` values) normalised to zero mean and unit variance (biased, plus
/// `eps`), then scaled by `gamma` and shifted by `beta`.
///
/// # Panics
/// If `beta` is not as long as `gamma` or `x` not a whole number of rows.
pub fn layer_norm(kernel: Kernel, x: &[f32], gamma: &[f32], beta: &[f32], eps: f32) -> Vec<f32> {
    let width = gamma.len();
    assert!(width > 0 && beta.len() == width, "gamma and beta differ");
    assert!(
        x.len().is_multiple_of(width),
        "input is not rows of {width}"
    );
    let mut out = Unfilled::new(x.len());
    let rows = x.len() / width;
    let parts = if x.len() <= INLINE_MAX {
        1
    } else {
        (team::threads() * 4).min(rows)
    };
    let dst = out.shared();
    team::for_each(parts, |t| {
        let (r0, r1) = (t * rows / parts, (t + 1) * rows / parts);
        // SAFETY: part t alone writes rows r0..r1 of `out`, which outlives the loop.
        let out = unsafe { dst.slots(r0 * width, (r1 - r0) * width) };
        normalise(kernel, &x[r0 * width..r1 * width], gamma, beta, eps, out);
    });
    // SAFETY: the parts cover all rows of `out`.
    unsafe { out.filled() }
}

/// A layer norm's parameters: `gamma` and `beta` (one value per feature) and epsilon.
#[derive(Debug, Clone, Copy)]
pub struct NormParams<'a> {
    pub gamma: &'a [f32],
    pub beta: &'a [f32],
    pub eps: f32,
}

/// Rows of `x` normalised as [`layer_norm`] does, into `out` (as long as `x`), on the calling thread.
pub(super) fn normalise_rows(
    kernel: Kernel,
    x: &[f32],
    p: NormParams<'_>,
    out: &mut [MaybeUninit<f32>],
) {
    normalise(kernel, x, p.gamma, p.beta, p.eps, out);
}

#[inline(always)]
fn normalise_body(x: &[f32], gamma: &[f32], beta: &[f32], eps: f32, out: &mut [MaybeUninit<f32>]) {
    let width = gamma.len();
    for (x, out) in x.chunks_exact(width).zip(out.chunks_exact_mut(width)) {
        // Sums in 16 lanes, so that the loops vectorise; the variance from the deviations (two passes).
        let mut lanes = [0f32; 16];
        let mut chunks = x.chunks_exact(16);
        for c in &mut chunks {
            for l in 0..16 {
                lanes[l] += c[l];
            }
        }
        let sum = chunks.remainder().iter().sum::<f32>() + lanes.iter().sum::<f32>();
        let mean = sum / width as f32;
        let mut lanes = [0f32; 16];
        let mut chunks = x.chunks_exact(16);
        for c in &mut chunks {
            for l in 0..16 {
                let d = c[l] - mean;
                lanes[l] += d * d;
            }
        }
        let squares = chunks
            .remainder()
            .iter()
            .map(|v| (v - mean) * (v - mean))
            .sum::<f32>()
            + lanes.iter().sum::<f32>();
        let scale = 1.0 / (squares / width as f32 + eps).sqrt();
        for (((o, v), g), b) in out.iter_mut().zip(x).zip(gamma).zip(beta) {
            o.write((v - mean) * scale * g + b);
        }
    }
}

super::vmath::per_level!(
    /// [`normalise_body`] compiled for the kernel's level.
    normalise(x: &[f32], gamma: &[f32], beta: &[f32], eps: f32, out: &mut [MaybeUninit<f32>]) => normalise_body
);

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    /// Against candle's layer norm, at every level, small (one thread) and large (the team) inputs.
    #[test]
    fn layer_norm_matches_candle() -> candle_core::Result<()> {
        let dev = Device::Cpu;
        for kernel in crate::cpu::testing::levels("embed layer norm") {
            for &(rows, width) in &[(3, 7), (77, 512), (400, 768)] {
                let x = Tensor::randn(0.5f32, 3.0, (rows, width), &dev)?;
                let g = Tensor::randn(1f32, 0.2, width, &dev)?;
                let b = Tensor::randn(0f32, 0.2, width, &dev)?;
                let want = candle_nn::ops::layer_norm(&x, &g, &b, 1e-5)?
                    .flatten_all()?
                    .to_vec1::<f32>()?;
                let got = layer_norm(
                    kernel,
                    &x.flatten_all()?.to_vec1::<f32>()?,
                    &g.to_vec1::<f32>()?,
                    &b.to_vec1::<f32>()?,
                    1e-5,
                );
                let worst = crate::cpu::testing::max_abs_diff(&got, &want);
                assert!(worst < 1e-5, "{kernel:?} {rows}x{width}: {worst}");
            }
        }
        Ok(())
    }
}
