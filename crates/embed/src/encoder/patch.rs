//! The patch embedding of a vision transformer: a convolution whose stride is its kernel size, run as
//! what it is, one linear layer over the flattened, non-overlapping `patch x patch` squares of the
//! image ([`Projection`]: the packed CPU kernels where they apply, candle's ops elsewhere).

use super::projection::{Projection, Then};
use crate::precision::Precision;
use candle_core::Tensor;
use candle_nn::{Linear, VarBuilder};

/// `patch_embedding.weight` (`hidden x channels x patch x patch`, and `bias` when the model has one) as
/// one projection of `channels * patch * patch` inputs.
pub(crate) struct PatchEmbedding {
    projection: Projection,
    patch: usize,
    channels: usize,
    hidden: usize,
}

impl PatchEmbedding {
    /// Loads the convolution under `vb` (a `patch_embedding` prefix), run at `precision` (the
    /// encoder's).
    pub(crate) fn new(
        vb: VarBuilder,
        (channels, hidden, patch): (usize, usize, usize),
        bias: bool,
        precision: Precision,
    ) -> candle_core::Result<Self> {
        let weight = vb
            .get((hidden, channels, patch, patch), "weight")?
            .reshape((hidden, channels * patch * patch))?;
        let bias = if bias {
            Some(vb.get(hidden, "bias")?)
        } else {
            None
        };
        Ok(Self {
            projection: Projection::new(Linear::new(weight, bias), precision)?,
            patch,
            channels,
            hidden,
        })
    }

    /// `b x channels x S x S` pixels -> `b x (S / patch)^2 x hidden`, patches in row-major order (as
    /// the convolution's output flattened).
    pub(crate) fn forward(&self, pixels: &Tensor) -> candle_core::Result<Tensor> {
        let (b, c, h, w) = pixels.dims4()?;
        let p = self.patch;
        if c != self.channels || h % p != 0 || w % p != 0 {
            candle_core::bail!(
                "patch embedding: {c} x {h} x {w} pixels, expected {} channels and sides that are \
                 multiples of {p}",
                self.channels
            )
        }
        let (gh, gw) = (h / p, w / p);
        // (b, c, gh, p, gw, p) -> (b, gh, gw, c, p, p): one row per patch, in the weight's order.
        let patches = pixels
            .reshape((b, c, gh, p, gw, p))?
            .permute((0, 2, 4, 1, 3, 5))?
            .contiguous()?
            .reshape((b * gh * gw, c * p * p))?;
        self.projection
            .forward(&patches, Then::Return)?
            .reshape((b, gh * gw, self.hidden))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Module};
    use candle_nn::VarMap;

    /// The same weights as candle's strided convolution, flattened as the towers did before.
    #[test]
    fn patch_embedding_equals_the_strided_convolution() -> candle_core::Result<()> {
        let dev = Device::Cpu;
        for bias in [false, true] {
            let (c, hidden, p, side, b) = (3, 40, 8, 32, 2);
            let map = VarMap::new();
            let vb = VarBuilder::from_varmap(&map, DType::F32, &dev);
            let embedding = PatchEmbedding::new(
                vb.pp("patch_embedding"),
                (c, hidden, p),
                bias,
                Precision::F32,
            )?;
            let cfg = candle_nn::Conv2dConfig {
                stride: p,
                ..Default::default()
            };
            let conv = if bias {
                candle_nn::conv2d(c, hidden, p, cfg, vb.pp("patch_embedding"))?
            } else {
                candle_nn::conv2d_no_bias(c, hidden, p, cfg, vb.pp("patch_embedding"))?
            };
            let pixels = Tensor::randn(0f32, 1.0, (b, c, side, side), &dev)?;
            let want = conv.forward(&pixels)?.flatten_from(2)?.transpose(1, 2)?;
            let got = embedding.forward(&pixels)?;
            let worst = crate::cpu::testing::max_abs_diff_tensors(&got, &want)?;
            assert!(worst < 1e-4, "bias {bias}: {worst}");
        }
        Ok(())
    }
}
