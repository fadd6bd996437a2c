//! CLIP's vision tower (transformers' `CLIPVisionTransformer`): patch and position embeddings, the
//! encoder, and the class token's features.
//!
//! The features are the class token's alone, so the last layer computes that token's row only (its
//! attention still reads every token's keys and values), as the text towers do for their pooled token:
//! the last layer's output projection and MLP on one row of 50 for ViT-B/32, 6% of the image's
//! multiply-adds. The encoder computes a sequence's last row so, and attention without a mask does not
//! depend on the tokens' order (each token's position is in its embedding), so the class token goes last
//! here, where transformers puts it first.

use super::config::VisionConfig;
use crate::encoder::{layer_norm, Encoder, LayerNorm, PatchEmbedding, Queries};
use candle_core::{Module, Tensor};
use candle_nn::VarBuilder;

/// The vision transformer, up to (not including) the visual projection.
pub(crate) struct VisionTransformer {
    class_embedding: Tensor,
    patch: PatchEmbedding,
    /// The position embeddings in the order the tokens go in: the patches', then the class token's.
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
        let positions = e.get((patches + 1, c.hidden_size), "position_embedding.weight")?;
        let positions = Tensor::cat(
            &[positions.narrow(0, 1, patches)?, positions.narrow(0, 0, 1)?],
            0,
        )?;
        Ok(Self {
            class_embedding: e.get(c.hidden_size, "class_embedding")?,
            patch: PatchEmbedding::new(
                e.pp("patch_embedding"),
                (c.num_channels, c.hidden_size, c.patch_size),
                false,
                c.precision,
            )?,
            positions,
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
        let (n, hidden) = (x.dim(1)? + 1, x.dim(2)?);
        let cls = self
            .class_embedding
            .reshape((1, 1, hidden))?
            .broadcast_as((b, 1, hidden))?;
        // The class token last (see the module's docs).
        let x = Tensor::cat(&[&x, &cls], 1)?.broadcast_add(&self.positions.unsqueeze(0)?)?;
        let x = self.pre_ln.forward(&x)?.reshape((b * n, hidden))?;
        let classes = self
            .encoder
            .forward_rows(&x, &vec![n; b], false, Queries::Last)?;
        self.post_ln.forward(&classes)
    }
}
