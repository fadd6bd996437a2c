//! Vector quantization: the compact codes an index keeps beside (or instead of) the full `f32` vectors,
//! named once for every place that offers it (the local HNSW and IVF indexes, Qdrant collections, the
//! command line and the benchmark).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How an index compresses the vectors it searches through. Every kind re-scores its final candidates
/// with the full vectors, so quantization trades memory and speed, not the order of the answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quantization {
    /// Scalar int8: one signed byte per dimension (a quarter of the `f32` vectors' memory).
    Int8,
}

impl Quantization {
    /// Every kind.
    pub const ALL: [Quantization; 1] = [Quantization::Int8];

    /// The kind's name on the command line, in JSON and in reports: `int8`.
    pub const fn name(self) -> &'static str {
        match self {
            Quantization::Int8 => "int8",
        }
    }

    /// Bytes of one vector's codes for `dim` dimensions.
    pub const fn code_bytes(self, dim: usize) -> usize {
        match self {
            Quantization::Int8 => dim,
        }
    }
}

impl fmt::Display for Quantization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A string that names no quantization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownQuantization {
    /// What was given.
    pub given: String,
}

impl fmt::Display for UnknownQuantization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Quantization::ALL.iter().map(|q| q.name()).collect();
        write!(
            f,
            "unknown quantization `{}`: the choice is {}",
            self.given,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownQuantization {}

impl FromStr for Quantization {
    type Err = UnknownQuantization;

    /// Parses a kind's name, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantization::ALL
            .into_iter()
            .find(|q| q.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownQuantization {
                given: s.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_serde_agree() {
        for q in Quantization::ALL {
            assert_eq!(q.name().parse::<Quantization>(), Ok(q));
            assert_eq!(
                serde_json::to_string(&q).unwrap(),
                format!("\"{}\"", q.name())
            );
        }
        let err = "pq".parse::<Quantization>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown quantization `pq`: the choice is int8"
        );
    }
}
