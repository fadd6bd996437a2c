//! SigLIP's text tower (transformers' `SiglipTextTransformer`): token and position embeddings, the
//! encoder (no causal mask, no attention mask: texts are padded to the full length as in training), the
//! final layer norm, the last position's features, and the linear head.

use super::config::TextConfig;
use crate::encoder::{layer_norm, Encoder, LayerNorm, Queries};
use candle_core::{Module, Tensor};
use candle_nn::{embedding, linear, Embedding, Linear, VarBuilder};

/// The text transformer with its head: `b x n` ids -> `b x projection_size` text features.
pub(crate) struct TextTransformer {
    tokens: Embedding,
    positions: Tensor,
    encoder: Encoder,
    final_ln: LayerNorm,
    head: Linear,
}

impl TextTransformer {
    /// Loads the tower under `vb` (the `text_model` prefix).
    pub(crate) fn new(vb: VarBuilder, c: &TextConfig) -> candle_core::Result<Self> {
        let e = vb.pp("embeddings");
        Ok(Self {
            tokens: embedding(c.vocab_size, c.hidden_size, e.pp("token_embedding"))?,
            positions: e.get(
                (c.max_position_embeddings, c.hidden_size),
                "position_embedding.weight",
            )?,
            encoder: Encoder::new(vb.pp("encoder"), &c.encoder())?,
            final_ln: layer_norm(c.hidden_size, c.layer_norm_eps, vb.pp("final_layer_norm"))?,
            head: linear(c.hidden_size, c.projection_size(), vb.pp("head"))?,
        })
    }

    /// `ids`: b x n (n at most the position count) -> b x projection_size, pooled at the last token: the
    /// last layer computes that token's row alone (its attention still reads every token).
    pub(crate) fn forward(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        let (b, n) = ids.dims2()?;
        let x = self
            .tokens
            .forward(ids)?
            .broadcast_add(&self.positions.narrow(0, 0, n)?.unsqueeze(0)?)?;
        let hidden = x.dim(2)?;
        let last = self.encoder.forward_rows(
            &x.reshape((b * n, hidden))?,
            &vec![n; b],
            false,
            Queries::Last,
        )?;
        self.head.forward(&self.final_ln.forward(&last)?)
    }
}
