//! SigLIP's tokenizer, as transformers' `SiglipTokenizer` runs it over a SentencePiece model
//! (`spiece.model`), or from a `tokenizer.json` when the folder has one.
//!
//! `SiglipTokenizer` (the slow, SentencePiece-backed one; transformers has no fast version) does, per
//! text: split out the special tokens (`</s>`, `<unk>`) as they are written; prefix the text with `▁`
//! (SentencePiece's space); for each other piece, canonicalise it (lower-case, drop ASCII punctuation,
//! collapse whitespace, strip), encode `"<unk>" + piece` with SentencePiece and drop the pieces of
//! `"<unk>"` (its trick against SentencePiece's dummy prefix); drop a leading lone `▁` before a special
//! token; append `</s>` unless the ids already end with it; truncate and pad with `</s>` to the model's
//! length. This module does exactly that, with the SentencePiece model rebuilt as a `tokenizers` pipeline
//! (the model's precompiled normaliser, `▁` for spaces with a dummy prefix, the unigram model), as
//! transformers' `SpmConverter` builds it.

use crate::error::{EmbedError, Result};
use std::path::Path;
use tokenizers::models::unigram::Unigram;
use tokenizers::normalizers::{Precompiled, Replace, Strip};
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::{NormalizerWrapper, Tokenizer};

/// SentencePiece's space.
const SPACE: char = '\u{2581}';
const EOS: &str = "</s>";
const UNK: &str = "<unk>";

/// A piece of a SentencePiece model.
struct Piece {
    text: String,
    score: f32,
    kind: u64,
}

/// What `spiece.model` (a `sentencepiece.ModelProto`) holds that tokenising needs.
struct SpModel {
    pieces: Vec<Piece>,
    charsmap: Vec<u8>,
    add_dummy_prefix: bool,
}

/// Piece types of `sentencepiece.ModelProto.SentencePiece.Type`.
const UNKNOWN: u64 = 2;
const CONTROL: u64 = 3;

/// A protobuf field: number, and its varint value or bytes.
enum Field<'a> {
    Varint(u64, u64),
    Bytes(u64, &'a [u8]),
    Fixed32(u64, [u8; 4]),
}

/// The top-level fields of one protobuf message (only the wire types SentencePiece uses).
fn fields(mut b: &[u8]) -> std::result::Result<Vec<Field<'_>>, String> {
    fn varint(b: &mut &[u8]) -> std::result::Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = b.split_first().ok_or("truncated varint")?;
            *b = rest;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint too long".into())
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let key = varint(&mut b)?;
        let (number, wire) = (key >> 3, key & 7);
        match wire {
            0 => out.push(Field::Varint(number, varint(&mut b)?)),
            1 => {
                b = b.get(8..).ok_or("truncated fixed64")?;
            }
            2 => {
                let len = usize::try_from(varint(&mut b)?).map_err(|_| "length")?;
                let bytes = b.get(..len).ok_or("truncated bytes")?;
                b = &b[len..];
                out.push(Field::Bytes(number, bytes));
            }
            5 => {
                let bytes: [u8; 4] = b
                    .get(..4)
                    .and_then(|x| x.try_into().ok())
                    .ok_or("truncated fixed32")?;
                b = &b[4..];
                out.push(Field::Fixed32(number, bytes));
            }
            other => return Err(format!("wire type {other}")),
        }
    }
    Ok(out)
}

impl SpModel {
    fn parse(bytes: &[u8]) -> std::result::Result<Self, String> {
        let mut model = Self {
            pieces: Vec::new(),
            charsmap: Vec::new(),
            add_dummy_prefix: true,
        };
        for field in fields(bytes)? {
            match field {
                Field::Bytes(1, piece) => {
                    let mut p = Piece {
                        text: String::new(),
                        score: 0.0,
                        kind: 1,
                    };
                    for f in fields(piece)? {
                        match f {
                            Field::Bytes(1, t) => {
                                p.text = String::from_utf8(t.to_vec()).map_err(|e| e.to_string())?
                            }
                            Field::Fixed32(2, s) => p.score = f32::from_le_bytes(s),
                            Field::Varint(3, k) => p.kind = k,
                            _ => {}
                        }
                    }
                    model.pieces.push(p);
                }
                Field::Bytes(3, normalizer) => {
                    for f in fields(normalizer)? {
                        match f {
                            Field::Bytes(2, map) => model.charsmap = map.to_vec(),
                            Field::Varint(3, v) => model.add_dummy_prefix = v != 0,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if model.pieces.is_empty() {
            return Err("no pieces".into());
        }
        Ok(model)
    }
}

/// SigLIP's tokenizer.
pub struct SiglipTokenizer {
    inner: Tokenizer,
    /// Pieces SentencePiece gives `"<unk>"` alone (dropped after encoding `"<unk>" + text`).
    unk_pieces: usize,
    /// Special tokens split out of the text as written, with their ids.
    specials: Vec<(String, u32)>,
    space_id: Option<u32>,
    eos: u32,
    pad: u32,
    max_len: usize,
    lower_case: bool,
}

impl SiglipTokenizer {
    /// Loads the tokenizer of the SigLIP folder `dir` (`spiece.model`, with `tokenizer_config.json`'s
    /// `do_lower_case` when present) for texts of `max_len` ids.
    pub fn from_dir(dir: &Path, max_len: usize) -> Result<Self> {
        let path = dir.join("spiece.model");
        let bad = |reason: String| EmbedError::Tokenizer {
            reason: format!("{}: {reason}", path.display()),
        };
        let bytes = std::fs::read(&path).map_err(|e| bad(e.to_string()))?;
        let sp =
            SpModel::parse(&bytes).map_err(|e| bad(format!("not a SentencePiece model: {e}")))?;
        let unk_id = sp.pieces.iter().position(|p| p.kind == UNKNOWN);
        let vocab: Vec<(String, f64)> = sp
            .pieces
            .iter()
            .map(|p| {
                // Control pieces (`</s>`, `<pad>`) never come out of SentencePiece's segmentation: give
                // them text no input can hold.
                let text = if p.kind == CONTROL {
                    format!("\u{0}{}\u{0}", p.text)
                } else {
                    p.text.clone()
                };
                (text, f64::from(p.score))
            })
            .collect();
        let unigram = Unigram::from(vocab, unk_id, false).map_err(|e| bad(e.to_string()))?;
        let mut inner = Tokenizer::new(unigram);
        let mut normalizers: Vec<NormalizerWrapper> = Vec::new();
        if !sp.charsmap.is_empty() {
            let precompiled =
                Precompiled::from(&sp.charsmap).map_err(|e| bad(format!("normaliser: {e}")))?;
            normalizers.push(precompiled.into());
        }
        // SentencePiece's `remove_extra_whitespaces`: runs of spaces collapse, the ends are stripped.
        normalizers.push(
            Replace::new(
                tokenizers::normalizers::replace::ReplacePattern::Regex(" {2,}".into()),
                " ",
            )
            .map_err(|e| bad(e.to_string()))?
            .into(),
        );
        normalizers.push(Strip::new(true, true).into());
        inner
            .with_normalizer(Some(tokenizers::normalizers::Sequence::new(normalizers)))
            .map_err(|e| bad(e.to_string()))?;
        let scheme = if sp.add_dummy_prefix {
            PrependScheme::Always
        } else {
            PrependScheme::Never
        };
        inner.with_pre_tokenizer(Some(Metaspace::new(SPACE, scheme, true)));
        let id = |piece: &str| {
            sp.pieces
                .iter()
                .position(|p| p.text == piece)
                .map(|i| i as u32)
        };
        let eos = id(EOS).ok_or_else(|| bad(format!("no {EOS} piece")))?;
        let unk = id(UNK).ok_or_else(|| bad(format!("no {UNK} piece")))?;
        let mut tok = Self {
            inner,
            unk_pieces: 0,
            specials: vec![(EOS.to_string(), eos), (UNK.to_string(), unk)],
            space_id: id(&SPACE.to_string()),
            eos,
            pad: eos,
            max_len: max_len.max(1),
            lower_case: lower_case(dir),
        };
        tok.unk_pieces = tok.pieces(UNK)?.len();
        Ok(tok)
    }

    /// SentencePiece's ids of `text` (no special-token handling). SentencePiece takes a `▁` in its input
    /// for the space it stands for.
    fn pieces(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self
            .inner
            .encode(text.replace(SPACE, " "), false)
            .map_err(|e| EmbedError::Tokenizer {
                reason: e.to_string(),
            })?
            .get_ids()
            .to_vec())
    }

    /// Ids of one string, `</s>` last, padded with `</s>` to the model's length.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let text = format!("{SPACE}{}", text.replace(SPACE, " "));
        // (id, whether it is a special token)
        let mut tokens: Vec<(u32, bool)> = Vec::new();
        let mut rest = text.as_str();
        loop {
            let next = self
                .specials
                .iter()
                .filter_map(|(s, id)| rest.find(s.as_str()).map(|at| (at, s.len(), *id)))
                .min_by_key(|&(at, len, _)| (at, std::cmp::Reverse(len)));
            let (segment, special) = match next {
                Some((at, len, id)) => {
                    let seg = &rest[..at];
                    rest = &rest[at + len..];
                    (seg, Some(id))
                }
                None => (std::mem::take(&mut rest), None),
            };
            let canonical = canonicalize(segment, self.lower_case);
            if !canonical.is_empty() {
                let ids = self.pieces(&format!("{UNK}{canonical}"))?;
                let skip = if ids.len() >= self.unk_pieces {
                    self.unk_pieces
                } else {
                    0
                };
                tokens.extend(ids[skip..].iter().map(|&id| (id, false)));
            }
            match special {
                Some(id) => tokens.push((id, true)),
                None => break,
            }
        }
        if tokens.len() > 1 && Some(tokens[0].0) == self.space_id && !tokens[0].1 && tokens[1].1 {
            tokens.remove(0);
        }
        let mut ids: Vec<u32> = tokens.into_iter().map(|(id, _)| id).collect();
        if ids.last() != Some(&self.eos) {
            ids.push(self.eos);
        }
        if ids.len() > self.max_len {
            ids.truncate(self.max_len - 1);
            ids.push(self.eos);
        }
        ids.resize(self.max_len, self.pad);
        Ok(ids)
    }
}

/// `do_lower_case` of `tokenizer_config.json` (true when absent, as `SiglipTokenizer`'s default).
fn lower_case(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("tokenizer_config.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("do_lower_case").and_then(serde_json::Value::as_bool))
        .unwrap_or(true)
}

/// `SiglipTokenizer.canonicalize_text`: lower-case, drop ASCII punctuation, collapse whitespace, strip.
fn canonicalize(text: &str, lower_case: bool) -> String {
    let text = if lower_case {
        text.to_lowercase()
    } else {
        text.to_string()
    };
    let kept: String = text.chars().filter(|c| !c.is_ascii_punctuation()).collect();
    kept.split(is_python_space)
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Python's `str.isspace` (what `\s` and `strip()` match in `str` patterns).
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}
