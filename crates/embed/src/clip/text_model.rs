//! CLIP's text tower (transformers' `CLIPTextTransformer`): token and position embeddings, the encoder
//! under a causal mask, and the features at each sequence's end-of-text token.

use super::config::TextConfig;
use crate::encoder::{layer_norm, Encoder, LayerNorm, Queries};
use candle_core::{Module, Tensor};
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

    /// Token id rows (any lengths) -> `rows x hidden` features after the final layer norm, pooled at each
    /// row's [`Self::pool_position`] (transformers' `pooler_output`). Under the causal mask a token's
    /// features depend only on the tokens up to it, so each row runs only up to its pooled token, the
    /// rows packed one after the other without padding (the linear layers see the real tokens alone),
    /// and the last layer computes the pooled tokens only.
    pub(crate) fn forward(&self, ids: &[Vec<u32>]) -> candle_core::Result<Tensor> {
        let mut lengths = Vec::with_capacity(ids.len());
        let (mut tokens, mut positions) = (Vec::new(), Vec::new());
        for row in ids {
            if row.is_empty() {
                candle_core::bail!("an empty token sequence")
            }
            let n = self.pool_position(row) + 1;
            if n > self.max_positions {
                candle_core::bail!("{n} tokens, the model takes at most {}", self.max_positions)
            }
            lengths.push(n);
            tokens.extend_from_slice(&row[..n]);
            positions.extend(0..n as u32);
        }
        let device = self.positions.device();
        let count = tokens.len();
        let x = self
            .tokens
            .forward(&Tensor::from_vec(tokens, count, device)?)?
            .add(
                &self
                    .positions
                    .index_select(&Tensor::from_vec(positions, count, device)?, 0)?,
            )?;
        let pooled = self
            .encoder
            .forward_rows(&x, &lengths, true, Queries::Last)?;
        self.final_ln.forward(&pooled)
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
