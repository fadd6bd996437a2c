//! SigLIP's vision tower (transformers' `SiglipVisionTransformer`): patch and position embeddings (no
//! class token), the encoder, the final layer norm, and the attention-pooling head
//! (`SiglipMultiheadAttentionPoolingHead`: a learned probe attends over the patches, then a residual MLP).

use super::config::VisionConfig;
use crate::encoder::{layer_norm, Activation, Encoder, LayerNorm, PatchEmbedding};
use candle_core::{Module, Tensor};
use candle_nn::{linear, Linear, VarBuilder};

/// The pooling head: one query (the probe) over the patch tokens, `torch.nn.MultiheadAttention` weights.
struct PoolingHead {
    probe: Tensor,
    q: Linear,
    kv: Linear,
    out: Linear,
    ln: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    act: Activation,
    heads: usize,
}

impl PoolingHead {
    fn new(vb: VarBuilder, c: &VisionConfig) -> candle_core::Result<Self> {
        let h = c.hidden_size;
        let a = vb.pp("attention");
        let w = a.get((3 * h, h), "in_proj_weight")?;
        let b = a.get(3 * h, "in_proj_bias")?;
        let head_dim = h / c.num_attention_heads;
        let scale = (head_dim as f64).powf(-0.5);
        // The 1/sqrt(head_dim) scale is folded into the query projection.
        let q = Linear::new(
            (w.narrow(0, 0, h)? * scale)?,
            Some((b.narrow(0, 0, h)? * scale)?),
        );
        let kv = Linear::new(w.narrow(0, h, 2 * h)?, Some(b.narrow(0, h, 2 * h)?));
        Ok(Self {
            probe: vb.get((1, 1, h), "probe")?,
            q,
            kv,
            out: linear(h, h, a.pp("out_proj"))?,
            ln: layer_norm(h, c.layer_norm_eps, vb.pp("layernorm"))?,
            fc1: linear(h, c.intermediate_size, vb.pp("mlp.fc1"))?,
            fc2: linear(c.intermediate_size, h, vb.pp("mlp.fc2"))?,
            act: c.hidden_act,
            heads: c.num_attention_heads,
        })
    }

    /// `x`: b x n x hidden -> b x hidden.
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, n, h) = x.dims3()?;
        let d = h / self.heads;
        let q = self
            .q
            .forward(&self.probe.reshape((1, h))?)? // 1 x h
            .reshape((1, self.heads, 1, d))?
            .broadcast_as((b, self.heads, 1, d))?
            .contiguous()?;
        let kv = self
            .kv
            .forward(&x.reshape((b * n, h))?)?
            .reshape((b, n, 2, self.heads, d))?
            .permute((2, 0, 3, 1, 4))?
            .contiguous()?; // 2 x b x heads x n x d
        let (k, v) = (kv.get(0)?, kv.get(1)?);
        let probs = candle_nn::ops::softmax_last_dim(&q.matmul(&k.t()?)?)?; // b x heads x 1 x n
        let ctx = probs.matmul(&v)?.reshape((b, h))?;
        let pooled = self.out.forward(&ctx)?;
        let mlp = self.fc2.forward(
            &self
                .act
                .apply(&self.fc1.forward(&self.ln.forward(&pooled)?)?)?,
        )?;
        pooled + mlp
    }
}

/// The vision transformer with its pooling head: `b x 3 x S x S` pixels -> `b x hidden` image features.
pub(crate) struct VisionTransformer {
    patch: PatchEmbedding,
    positions: Tensor,
    encoder: Encoder,
    post_ln: LayerNorm,
    head: Option<PoolingHead>,
    image_size: usize,
}

impl VisionTransformer {
    /// Loads the tower under `vb` (the `vision_model` prefix).
    pub(crate) fn new(vb: VarBuilder, c: &VisionConfig) -> candle_core::Result<Self> {
        let e = vb.pp("embeddings");
        let patches = (c.image_size / c.patch_size).pow(2);
        Ok(Self {
            patch: PatchEmbedding::new(
                e.pp("patch_embedding"),
                (c.num_channels, c.hidden_size, c.patch_size),
                true,
                c.precision,
            )?,
            positions: e.get((patches, c.hidden_size), "position_embedding.weight")?,
            encoder: Encoder::new(vb.pp("encoder"), &c.encoder())?,
            post_ln: layer_norm(c.hidden_size, c.layer_norm_eps, vb.pp("post_layernorm"))?,
            head: if c.vision_use_head {
                Some(PoolingHead::new(vb.pp("head"), c)?)
            } else {
                None
            },
            image_size: c.image_size,
        })
    }

    /// Side of the square input images.
    pub(crate) fn image_size(&self) -> usize {
        self.image_size
    }

    /// The head's output (transformers' `pooler_output`); the mean of the tokens for a config without a
    /// head.
    pub(crate) fn forward(&self, pixels: &Tensor) -> candle_core::Result<Tensor> {
        let x = self.patch.forward(pixels)?; // b x patches x hidden
        let x = x.broadcast_add(&self.positions.unsqueeze(0)?)?;
        let x = self.post_ln.forward(&self.encoder.forward(&x, false)?)?;
        match &self.head {
            Some(head) => head.forward(&x),
            None => x.mean(1),
        }
    }
}
