//! CLIP's tokenizer from a `tokenizer.json`, or from `vocab.json` + `merges.txt` (repos that predate
//! fast tokenizers) laid into the pipeline transformers' converter builds for CLIP.

use crate::error::{EmbedError, Result};
use std::path::Path;

/// CLIP's tokenizer from a `tokenizer.json`: OpenAI's text cleaning, lower-cased BPE, start token first, at
/// most 77 ids with end-of-text last.
pub struct ClipTokenizer {
    inner: tokenizers::Tokenizer,
    bos: u32,
    eos: u32,
    max_len: usize,
}

/// The pipeline transformers' `CLIPConverter` writes into a CLIP `tokenizer.json` (NFC, whitespace runs
/// to one space, lower case; CLIP's split pattern, then byte-level; BPE with `</w>` word ends); the
/// vocabulary and merges are filled in from `vocab.json` and `merges.txt`.
const CLIP_PIPELINE: &str = r#"{
  "version": "1.0", "truncation": null, "padding": null,
  "added_tokens": [
    {"id": 0, "content": "<|startoftext|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
    {"id": 0, "content": "<|endoftext|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
  ],
  "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "}, {"type": "Lowercase"}]},
  "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+"}, "behavior": "Removed", "invert": true},
    {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}]},
  "post_processor": null,
  "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
  "model": {"type": "BPE", "dropout": null, "unk_token": "<|endoftext|>", "continuing_subword_prefix": "", "end_of_word_suffix": "</w>", "fuse_unk": false, "byte_fallback": false, "ignore_merges": false, "vocab": {}, "merges": []}
}"#;

impl ClipTokenizer {
    /// Loads the tokenizer of the CLIP folder `dir`: `tokenizer.json`, else `vocab.json` + `merges.txt`.
    pub fn from_dir(dir: &Path, max_len: usize) -> Result<Self> {
        let json = dir.join("tokenizer.json");
        if json.is_file() {
            return Self::from_file(&json, max_len);
        }
        let (vocab, merges) = (dir.join("vocab.json"), dir.join("merges.txt"));
        let bad = |path: &Path, reason: String| EmbedError::Tokenizer {
            reason: format!("{}: {reason}", path.display()),
        };
        let vocab_text = std::fs::read_to_string(&vocab).map_err(|e| bad(&vocab, e.to_string()))?;
        let vocab_map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&vocab_text).map_err(|e| bad(&vocab, e.to_string()))?;
        let merges_text =
            std::fs::read_to_string(&merges).map_err(|e| bad(&merges, e.to_string()))?;
        let merge_lines: Vec<serde_json::Value> = merges_text
            .lines()
            .filter(|l| !l.starts_with("#version") && !l.trim().is_empty())
            .map(|l| serde_json::Value::String(l.to_string()))
            .collect();
        let mut pipeline: serde_json::Value =
            serde_json::from_str(CLIP_PIPELINE).map_err(|e| bad(dir, e.to_string()))?;
        for (i, token) in ["<|startoftext|>", "<|endoftext|>"].iter().enumerate() {
            let id = vocab_map
                .get(*token)
                .and_then(serde_json::Value::as_u64)
                .ok_or_else(|| bad(&vocab, format!("no {token}")))?;
            pipeline["added_tokens"][i]["id"] = id.into();
        }
        pipeline["model"]["vocab"] = serde_json::Value::Object(vocab_map);
        pipeline["model"]["merges"] = serde_json::Value::Array(merge_lines);
        let inner: tokenizers::Tokenizer = pipeline
            .to_string()
            .parse()
            .map_err(|e| bad(dir, format!("vocab.json + merges.txt: {e}")))?;
        Self::from_tokenizer(inner, dir, max_len)
    }

    /// Loads `tokenizer.json`.
    pub fn from_file(path: &Path, max_len: usize) -> Result<Self> {
        let inner = tokenizers::Tokenizer::from_file(path).map_err(|e| EmbedError::Tokenizer {
            reason: format!("{}: {e}", path.display()),
        })?;
        Self::from_tokenizer(inner, path, max_len)
    }

    fn from_tokenizer(
        mut inner: tokenizers::Tokenizer,
        path: &Path,
        max_len: usize,
    ) -> Result<Self> {
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

    /// Ids of one string: `<|startoftext|>`, at most `max_len - 2` text tokens, `<|endoftext|>`. The
    /// text is cleaned first as OpenAI's CLIP cleans it (ftfy's fixes and HTML entities: `text_clean.rs`).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let text = super::text_clean::clean(text);
        let enc = self
            .inner
            .encode(text.as_ref(), false)
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
