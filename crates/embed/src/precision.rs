//! How the transformer towers' linear layers multiply: in `f32` (the default, transformers' numbers to
//! 1e-4) or in 8-bit integers ([`Precision::Int8`], faster on the CPU, embeddings a little off).

use crate::error::{EmbedError, Result};
use std::fmt;
use std::str::FromStr;

/// Arithmetic of the CLIP and SigLIP towers' linear layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// 32-bit floats throughout.
    #[default]
    F32,
    /// The encoder layers' linear layers (attention's projections and the MLP) and the image towers'
    /// patch embedding on the CPU with 7-bit weights (per output feature) and 7-bit activations (per
    /// row) multiplied in integers ([`crate::cpu::QuantizedLinear`]); attention's two products with bf16
    /// operands and `f32` sums where the CPU has AVX-512 BF16 ([`crate::cpu::AttentionProducts`]), else
    /// `f32`; the softmax, norms and the final projection stay `f32`. Embeddings keep a cosine of 0.99 or
    /// more to the `f32` ones on the test models (README).
    Int8,
}

impl Precision {
    /// Every precision, the default first.
    pub const ALL: [Precision; 2] = [Precision::F32, Precision::Int8];

    /// The precision's name on the command line: `"f32"` or `"int8"`.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Int8 => "int8",
        }
    }
}

impl FromStr for Precision {
    type Err = EmbedError;

    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| EmbedError::Precision {
                reason: format!("unknown precision '{s}': use f32 or int8"),
            })
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_precisions() {
        for p in Precision::ALL {
            assert_eq!(p.name().parse::<Precision>().unwrap(), p);
        }
        assert_eq!("INT8".parse::<Precision>().unwrap(), Precision::Int8);
        let err = "fp16".parse::<Precision>().unwrap_err().to_string();
        assert!(err.contains("f32 or int8"), "{err}");
    }
}
