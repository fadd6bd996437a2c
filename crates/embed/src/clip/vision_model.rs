//! CLIP's vision tower (transformers' `CLIPVisionTransformer`): patch and position embeddings, the
//! encoder, and the class token's features.

use super::config::VisionConfig;
use crate::encoder::{layer_norm, Encoder, LayerNorm, PatchEmbedding};
use candle_core::{IndexOp, Module, Tensor};
use candle_nn::VarBuilder;

/// The vision transformer, up to (not including) the visual projection.
pub(crate) struct VisionTransformer {
    class_embedding: Tensor,
    patch: PatchEmbedding,
    positions: Tensor,
    pre_ln: LayerNorm,
    encoder: Encoder,
    post_ln: LayerNorm,
    image_size: usize,
}

impl VisionTransformer {
    /// Loads the tower under `vb` (the `vision_model` prefix).
    pub(crate) fn new(vb: VarBuilder, c: &VisionConfig) -> candle_core::Result<Self> {
        let e = vb.pp("embeddings");
        let patches = (c.image_size / c.patch_size).pow(2);
        Ok(Self {
            class_embedding: e.get(c.hidden_size, "class_embedding")?,
            patch: PatchEmbedding::new(
                e.pp("patch_embedding"),
                (c.num_channels, c.hidden_size, c.patch_size),
                false,
                c.precision,
            )?,
            positions: e.get((patches + 1, c.hidden_size), "position_embedding.weight")?,
            // "pre_layrnorm" is transformers' spelling.
            pre_ln: layer_norm(c.hidden_size, c.layer_norm_eps, vb.pp("pre_layrnorm"))?,
            encoder: Encoder::new(vb.pp("encoder"), &c.encoder())?,
            post_ln: layer_norm(c.hidden_size, c.layer_norm_eps, vb.pp("post_layernorm"))?,
            image_size: c.image_size,
        })
    }

    /// Side of the square input images.
    pub(crate) fn image_size(&self) -> usize {
        self.image_size
    }

    /// `b x 3 x S x S` pixels -> `b x hidden`: the class token's features after the final layer norm
    /// (transformers' `pooler_output`).
    pub(crate) fn forward(&self, pixels: &Tensor) -> candle_core::Result<Tensor> {
        let b = pixels.dim(0)?;
        let x = self.patch.forward(pixels)?; // b x patches x hidden
        let hidden = x.dim(2)?;
        let cls = self
            .class_embedding
            .reshape((1, 1, hidden))?
            .broadcast_as((b, 1, hidden))?;
        let x = Tensor::cat(&[&cls, &x], 1)?.broadcast_add(&self.positions.unsqueeze(0)?)?;
        let x = self.encoder.forward(&self.pre_ln.forward(&x)?, false)?;
        self.post_ln.forward(&x.i((.., 0, ..))?)
    }
}
