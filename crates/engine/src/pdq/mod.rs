//! PDQ, Meta's perceptual image hash (the hash the industry's hash-sharing lists use: ThreatExchange,
//! StopNCII, GIFCT): 256 bits and a quality score from 0 to 100.
//!
//! - [`PdqHash`]: the hash, its 64-digit hex form (the form partners exchange) and its Hamming distance;
//! - [`hasher`]: computing the hash and its quality from an image, as Meta's reference implementation does;
//! - [`index`]: finding every hash of a large set within a Hamming distance of a query (multi-index
//!   hashing), what matching arriving images against a bank of a million hashes needs.
//!
//! Two images are taken for the same picture when their hashes are within [`MATCH_DISTANCE`] bits (the
//! PDQ authors' confident-match threshold); hashes of quality under [`MIN_QUALITY`] (flat, featureless
//! images, whose bits are mostly noise) are not matched unless asked.

pub mod hasher;
pub mod index;

pub use hasher::{pdq_of_image, pdq_of_luma, pdq_of_rgb};
pub use index::PdqIndex;

/// Hamming distance at or under which two PDQ hashes are taken for the same picture (the PDQ authors'
/// threshold for a confident match).
pub const MATCH_DISTANCE: u32 = 31;

/// Quality under which a hash is not matched unless asked (the PDQ authors' advice).
pub const MIN_QUALITY: u8 = 50;

/// A 256-bit PDQ hash. Bit `k` (0..256) is the `k`-th coefficient of the 16x16 DCT, in row-major
/// order, compared with the median; it is bit `k % 64` of `words[k / 64]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PdqHash {
    /// The bits, least significant word first.
    pub words: [u64; 4],
}

/// A hash that does not parse (see [`PdqHash::from_hex`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{text}' is not a PDQ hash: {reason} (a PDQ hash is 64 hexadecimal digits)")]
pub struct BadPdqHash {
    /// The text given (cut to 80 characters).
    pub text: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl PdqHash {
    /// Parses the 64-digit hex form (any case; the first digit holds the highest bits, as Meta's tools
    /// write it).
    pub fn from_hex(text: &str) -> Result<Self, BadPdqHash> {
        let bad = |reason| BadPdqHash {
            text: text.chars().take(80).collect(),
            reason,
        };
        let text = text.trim();
        if text.len() != 64 {
            return Err(bad("not 64 digits long"));
        }
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("not hexadecimal"));
        }
        let mut words = [0u64; 4];
        for (i, word) in words.iter_mut().enumerate() {
            // words[3] is the first 16 digits.
            let at = (3 - i) * 16;
            *word =
                u64::from_str_radix(&text[at..at + 16], 16).map_err(|_| bad("not hexadecimal"))?;
        }
        Ok(Self { words })
    }

    /// The 64-digit lower-case hex form.
    pub fn to_hex(&self) -> String {
        format!(
            "{:016x}{:016x}{:016x}{:016x}",
            self.words[3], self.words[2], self.words[1], self.words[0]
        )
    }

    /// The number of bits in which `self` and `other` differ (0..=256).
    #[inline]
    pub fn distance(&self, other: &Self) -> u32 {
        (self.words[0] ^ other.words[0]).count_ones()
            + (self.words[1] ^ other.words[1]).count_ones()
            + (self.words[2] ^ other.words[2]).count_ones()
            + (self.words[3] ^ other.words[3]).count_ones()
    }

    /// Whether bit `k` (0..256) is set.
    pub fn bit(&self, k: usize) -> bool {
        self.words[k / 64] >> (k % 64) & 1 == 1
    }

    /// Sets bit `k` (0..256).
    pub fn set_bit(&mut self, k: usize) {
        self.words[k / 64] |= 1 << (k % 64);
    }
}

impl std::fmt::Display for PdqHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl std::str::FromStr for PdqHash {
    type Err = BadPdqHash;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s)
    }
}

/// An image's PDQ hash and its quality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pdq {
    /// The hash.
    pub hash: PdqHash,
    /// 0 (flat: the hash means little) to 100.
    pub quality: u8,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_with_the_first_digit_highest() {
        let text = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
        let hash = PdqHash::from_hex(text).expect("parses");
        assert_eq!(hash.to_hex(), text);
        assert_eq!(hash.words[3], 0xf8f8f0cee0f4a84f);
        assert!(hash.bit(255) && hash.bit(1) && !hash.bit(0));
        assert_eq!(PdqHash::from_hex(&text.to_uppercase()), Ok(hash));
    }

    #[test]
    fn bad_hex_is_refused_with_the_reason() {
        assert_eq!(
            PdqHash::from_hex("abc").unwrap_err().reason,
            "not 64 digits long"
        );
        let err = PdqHash::from_hex(&"g".repeat(64)).unwrap_err();
        assert_eq!(err.reason, "not hexadecimal");
        assert!(err.to_string().contains("64 hexadecimal digits"));
    }

    #[test]
    fn distance_counts_differing_bits() {
        let a = PdqHash::default();
        let mut b = a;
        for k in [0, 63, 64, 200, 255] {
            b.set_bit(k);
        }
        assert_eq!(a.distance(&b), 5);
        assert_eq!(b.distance(&b), 0);
    }
}
