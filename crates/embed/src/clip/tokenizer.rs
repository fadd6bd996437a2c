//! CLIP's tokenizer from a `tokenizer.json`.

use crate::error::{EmbedError, Result};
use std::path::Path;

/// CLIP's tokenizer from a `tokenizer.json`: lower-cased BPE, start token first, at most 77 ids with end-of-text last.
pub struct ClipTokenizer {
    inner: tokenizers::Tokenizer,
    bos: u32,
    eos: u32,
    max_len: usize,
}

impl ClipTokenizer {
    /// Loads `tokenizer.json`.
    pub fn from_file(path: &Path, max_len: usize) -> Result<Self> {
        let mut inner =
            tokenizers::Tokenizer::from_file(path).map_err(|e| EmbedError::Tokenizer {
                reason: format!("{}: {e}", path.display()),
            })?;
        inner.with_padding(None);
        inner
            .with_truncation(None)
            .map_err(|e| EmbedError::Tokenizer {
                reason: e.to_string(),
            })?;
        let id = |t: &str| {
            inner.token_to_id(t).ok_or_else(|| EmbedError::Tokenizer {
                reason: format!("{}: no {t} token", path.display()),
            })
        };
        let bos = id("<|startoftext|>")?;
        let eos = id("<|endoftext|>")?;
        Ok(Self {
            inner,
            bos,
            eos,
            max_len: max_len.max(2),
        })
    }

    /// Id of `<|endoftext|>`.
    pub fn eos_id(&self) -> u32 {
        self.eos
    }

    /// Ids of one string: `<|startoftext|>`, at most `max_len - 2` text tokens, `<|endoftext|>`.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| EmbedError::Tokenizer {
                reason: e.to_string(),
            })?;
        let body = enc.get_ids();
        let keep = body.len().min(self.max_len - 2);
        let mut ids = Vec::with_capacity(keep + 2);
        ids.push(self.bos);
        ids.extend_from_slice(&body[..keep]);
        ids.push(self.eos);
        Ok(ids)
    }
}
