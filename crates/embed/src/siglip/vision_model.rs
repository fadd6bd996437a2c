//! SigLIP's vision tower (transformers' `SiglipVisionTransformer`): patch and position embeddings (no
//! class token), the encoder, the final layer norm, and the attention-pooling head
//! (`SiglipMultiheadAttentionPoolingHead`: a learned probe attends over the patches, then a residual MLP).

use super::config::VisionConfig;
use crate::encoder::{layer_norm, Activation, Encoder, LayerNorm, PatchEmbedding};
use candle_core::{Module, Tensor};
use candle_nn::{linear, Linear, VarBuilder};

/// The pooling head: one query (the probe) over the patch tokens, `torch.nn.MultiheadAttention` weights.
///
/// The probe is a constant, so its projected query is too, and both projections of the patches fold
/// away at load time: head `h`'s score of patch `x` is `q_h . (W_k,h x + b_k,h) = (q_h W_k,h) . x` plus a
/// constant of the head, which the softmax cancels; and `sum_j p_j (W_v,h x_j + b_v,h) = W_v,h (sum_j p_j
/// x_j) + b_v,h`, since the probabilities sum to one. So the head scores the patches against one
/// `hidden`-vector per head and projects one pooled vector per head, `2 x heads x hidden` multiply-adds
/// per patch instead of the `2 x hidden x hidden` of projecting every patch to k and v (ViT-B/16: 1.8 M
/// instead of 231 M an image).
struct PoolingHead {
    /// `heads x hidden`: each head's query through its rows of the key projection (`q_h W_k,h`).
    keys: Tensor,
    /// `heads x hidden x head_dim`: each head's rows of the value projection, transposed.
    values: Tensor,
    /// The value projection's bias (`hidden`).
    value_bias: Tensor,
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
        let heads = c.num_attention_heads;
        let a = vb.pp("attention");
        let w = a.get((3 * h, h), "in_proj_weight")?;
        let b = a.get(3 * h, "in_proj_bias")?;
        let d = h / heads;
        let scale = (d as f64).powf(-0.5);
        let probe = vb.get((1, 1, h), "probe")?.reshape((1, h))?;
        // The probe's query, scaled by 1/sqrt(head_dim): 1 x h, as heads x 1 x d.
        let query = Linear::new(w.narrow(0, 0, h)?, Some(b.narrow(0, 0, h)?));
        let query = (query.forward(&probe)? * scale)?.reshape((heads, 1, d))?;
        // q_h W_k,h: (heads x 1 x d) (heads x d x h) -> heads x h.
        let keys = query
            .matmul(&w.narrow(0, h, h)?.reshape((heads, d, h))?)?
            .reshape((heads, h))?;
        let values = w
            .narrow(0, 2 * h, h)?
            .reshape((heads, d, h))?
            .transpose(1, 2)?
            .contiguous()?;
        Ok(Self {
            keys,
            values,
            value_bias: b.narrow(0, 2 * h, h)?,
            out: linear(h, h, a.pp("out_proj"))?,
            ln: layer_norm(h, c.layer_norm_eps, vb.pp("layernorm"))?,
            fc1: linear(h, c.intermediate_size, vb.pp("mlp.fc1"))?,
            fc2: linear(c.intermediate_size, h, vb.pp("mlp.fc2"))?,
            act: c.hidden_act,
            heads,
        })
    }

    /// `x`: b x n x hidden -> b x hidden.
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, n, h) = x.dims3()?;
        // Scores: (b*n x h) (h x heads) -> b x heads x n.
        let scores = x
            .reshape((b * n, h))?
            .matmul(&self.keys.t()?)?
            .reshape((b, n, self.heads))?
            .transpose(1, 2)?
            .contiguous()?;
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        // Each head's pooled patch: (b x heads x n) (b x n x h) -> b x heads x h, then through its
        // rows of the value projection: (heads x b x h) (heads x h x d) -> heads x b x d.
        let pooled = probs
            .matmul(&x.contiguous()?)?
            .transpose(0, 1)?
            .contiguous()?;
        let ctx = pooled
            .matmul(&self.values)?
            .transpose(0, 1)?
            .reshape((b, h))?
            .broadcast_add(&self.value_bias)?;
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
