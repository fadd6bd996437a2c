//! CLIP's text tower (transformers' `CLIPTextTransformer`): token and position embeddings, the encoder
//! under a causal mask, and the features at each sequence's end-of-text token.

use super::config::TextConfig;
use crate::encoder::{layer_norm, Encoder, LayerNorm};
use candle_core::{IndexOp, Module, Tensor};
use candle_nn::VarBuilder;

/// The text transformer, up to (not including) the text projection.
pub(crate) struct TextTransformer {
    tokens: candle_nn::Embedding,
    positions: Tensor,
    encoder: Encoder,
    final_ln: LayerNorm,
    eos_token_id: Option<u32>,
    max_positions: usize,
}

impl TextTransformer {
    /// Loads the tower under `vb` (the `text_model` prefix).
    pub(crate) fn new(vb: VarBuilder, c: &TextConfig) -> candle_core::Result<Self> {
        let e = vb.pp("embeddings");
        Ok(Self {
            tokens: candle_nn::embedding(c.vocab_size, c.hidden_size, e.pp("token_embedding"))?,
            positions: e.get(
                (c.max_position_embeddings, c.hidden_size),
                "position_embedding.weight",
            )?,
            encoder: Encoder::new(vb.pp("encoder"), &c.encoder())?,
            final_ln: layer_norm(c.hidden_size, c.layer_norm_eps, vb.pp("final_layer_norm"))?,
            eos_token_id: c.eos_token_id,
            max_positions: c.max_position_embeddings,
        })
    }

    /// `b x n` token ids (`u32`) -> `b x hidden` features after the final layer norm, pooled at `pool[i]`
    /// (transformers' `pooler_output`).
    pub(crate) fn forward(&self, ids: &Tensor, pool: &[usize]) -> candle_core::Result<Tensor> {
        let (b, n) = ids.dims2()?;
        if n > self.max_positions {
            candle_core::bail!("{n} tokens, the model takes at most {}", self.max_positions)
        }
        let x = self
            .tokens
            .forward(ids)?
            .broadcast_add(&self.positions.narrow(0, 0, n)?.unsqueeze(0)?)?;
        let x = self.final_ln.forward(&self.encoder.forward(&x, true)?)?;
        let rows = pool
            .iter()
            .enumerate()
            .map(|(i, &p)| x.i((i, p, ..)))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let pooled = Tensor::stack(&rows, 0)?;
        debug_assert_eq!(pooled.dim(0)?, b);
        Ok(pooled)
    }

    /// Pooling position of one id row: the first `eos_token_id`, else (legacy `2` or not found) the argmax id.
    pub(crate) fn pool_position(&self, ids: &[u32]) -> usize {
        let first_eos = match self.eos_token_id {
            Some(eos) if eos != 2 => ids.iter().position(|&t| t == eos),
            _ => None,
        };
        first_eos.unwrap_or_else(|| {
            ids.iter()
                .enumerate()
                .fold(
                    (0, 0u32),
                    |best, (i, &t)| if t > best.1 { (i, t) } else { best },
                )
                .0
        })
    }
}
