//! Int8 scalar quantization: each vector as one signed byte per dimension, and the distance between
//! two such codes computed exactly in integers.
//!
//! The quantizer ([`Int8Quantizer`]) is trained once on the vectors an index is built from: a per-dimension
//! offset (the mean) and one scale for all dimensions (the 99.99th percentile of `|x - offset|` over a
//! sample, mapped to 127; the rare values beyond it saturate). A vector `x` is coded as
//! `c = round((x - offset) / scale)` (to the nearest integer, ties to even), in -127..=127. With one
//! scale, the squared distance of two vectors is `scale^2 * |c_a - c_b|^2`, and
//! `|c_a - c_b|^2 = |c_a|^2 + |c_b|^2 - 2 <c_a, c_b>`: each code's squared norm is kept beside it, so a
//! distance is one byte inner product (the [`crate::distance::dot_i8`] kernels). The query is coded the
//! same way (symmetric distance). Cosine indexes hold unit vectors, whose squared distance orders them
//! as `1 - <a, b>` does, so both metrics search the same codes.
//!
//! Codes order candidates during a graph walk; the answer is re-scored with the full vectors, so the
//! codes' error costs recall only where it changes which candidates the walk keeps.

use crate::distance;
use rayon::prelude::*;

/// Fraction of `|x - offset|` values the scale covers; the rest saturate at +-127.
const COVERED: f64 = 0.9999;
/// 1.5 * 2^23: a float of magnitude below 2^22 added to it is rounded to an integer (see
/// [`Int8Quantizer::encode`]).
const ROUNDING_BIAS: f32 = 12_582_912.0;
/// Vectors sampled to train the scale (evenly spaced, deterministic).
const TRAIN_SAMPLE: usize = 4096;

/// The offset and scale that map a vector to its int8 code.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Int8Quantizer {
    offset: Vec<f32>,
    scale: f32,
}

impl Int8Quantizer {
    /// Trains on `vectors` (rows of `dim` values; at least one row): the per-dimension mean over every
    /// row, and the scale covering [`COVERED`] of the deviations of up to [`TRAIN_SAMPLE`] rows.
    pub(crate) fn train(dim: usize, vectors: &[f32]) -> Self {
        let rows = vectors.len() / dim.max(1);
        let mut sum = vec![0f64; dim];
        for row in vectors.chunks_exact(dim) {
            for (s, &x) in sum.iter_mut().zip(row) {
                *s += f64::from(x);
            }
        }
        let offset: Vec<f32> = sum
            .iter()
            .map(|s| (s / rows.max(1) as f64) as f32)
            .collect();
        let step = rows.div_ceil(TRAIN_SAMPLE).max(1);
        let mut deviations: Vec<f32> = vectors
            .chunks_exact(dim)
            .step_by(step)
            .flat_map(|row| row.iter().zip(&offset).map(|(x, o)| (x - o).abs()))
            .collect();
        let scale = if deviations.is_empty() {
            1.0
        } else {
            let at = ((deviations.len() - 1) as f64 * COVERED).round() as usize;
            let (_, &mut bound, _) = deviations.select_nth_unstable_by(at, f32::total_cmp);
            let bound = if bound > 0.0 {
                bound
            } else {
                deviations.iter().copied().fold(0.0, f32::max)
            };
            if bound > 0.0 && bound.is_finite() {
                bound / 127.0
            } else {
                1.0
            }
        };
        Self { offset, scale }
    }

    /// Dimensions.
    pub(crate) fn dim(&self) -> usize {
        self.offset.len()
    }

    /// Writes the code of `vector` into `out` (both `dim` long).
    pub(crate) fn encode(&self, vector: &[f32], out: &mut [i8]) {
        let inverse = 1.0 / self.scale;
        for ((c, &x), &o) in out.iter_mut().zip(vector).zip(&self.offset) {
            // NaN-free (`max` and `min` return the number; `clamp` would keep a NaN), so the rounding
            // below is always defined.
            #[allow(clippy::manual_clamp)]
            let v = ((x - o) * inverse).max(-127.0).min(127.0);
            // Rounded to the nearest integer, ties to even, by the float adder: `v + ROUNDING_BIAS` lies
            // in [2^23, 2^24), where floats are the integers, and its low mantissa bits are the result.
            // Unlike `round` (a libm call on baseline x86-64) and `as i8` (a saturating conversion the
            // compiler keeps scalar), this is bit arithmetic the loop vectorises.
            *c = ((v + ROUNDING_BIAS).to_bits() as i32 - ROUNDING_BIAS.to_bits() as i32) as i8;
        }
    }

    /// The quantizer as values to save: the scale, then the offsets.
    pub(crate) fn to_values(&self) -> Vec<f32> {
        std::iter::once(self.scale)
            .chain(self.offset.iter().copied())
            .collect()
    }

    /// A quantizer saved by [`Int8Quantizer::to_values`] for `dim` dimensions; `None` when the values do
    /// not describe one (wrong length, a scale that is not positive and finite, a non-finite offset).
    pub(crate) fn from_values(dim: usize, values: &[f32]) -> Option<Self> {
        let (&scale, offset) = values.split_first()?;
        (offset.len() == dim
            && scale > 0.0
            && scale.is_finite()
            && offset.iter().all(|o| o.is_finite()))
        .then(|| Self {
            offset: offset.to_vec(),
            scale,
        })
    }
}

/// A query's code and its squared norm.
pub(crate) struct QueryCode {
    code: Vec<i8>,
    norm: i32,
}

/// The int8 codes of an index's vectors, slot by slot, with each code's squared norm.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Int8Codes {
    dim: usize,
    codes: Vec<i8>,
    norms: Vec<i32>,
}

impl Int8Codes {
    /// The codes of `vectors` (rows of the quantizer's dimension), computed in parallel.
    pub(crate) fn encode(quantizer: &Int8Quantizer, vectors: &[f32]) -> Self {
        let dim = quantizer.dim();
        let mut codes = vec![0i8; vectors.len()];
        if dim > 0 {
            codes
                .par_chunks_mut(dim)
                .zip(vectors.par_chunks(dim))
                .for_each(|(out, v)| quantizer.encode(v, out));
        }
        Self::from_codes(dim, codes)
    }

    /// Codes read back (rows of `dim` bytes), their norms recomputed.
    pub(crate) fn from_codes(dim: usize, codes: Vec<i8>) -> Self {
        let norms = if dim == 0 {
            Vec::new()
        } else {
            codes.par_chunks(dim).map(squared_norm).collect()
        };
        Self { dim, codes, norms }
    }

    /// All codes, slot by slot (what is saved).
    pub(crate) fn as_bytes(&self) -> &[i8] {
        &self.codes
    }

    /// The code of `query` (`dim` values).
    pub(crate) fn query(&self, quantizer: &Int8Quantizer, query: &[f32]) -> QueryCode {
        let mut code = vec![0i8; self.dim];
        quantizer.encode(query, &mut code);
        let norm = squared_norm(&code);
        QueryCode { code, norm }
    }

    /// The squared distance between `query` and `slot`'s code, in code units (`scale^2` times smaller
    /// than the vectors' own; only its order matters).
    #[inline]
    pub(crate) fn distance(&self, query: &QueryCode, slot: u32) -> f32 {
        let slot = slot as usize;
        let code = &self.codes[slot * self.dim..(slot + 1) * self.dim];
        (query.norm + self.norms[slot] - 2 * distance::dot_i8(&query.code, code)) as f32
    }

    /// The start of `slot`'s code, to prefetch.
    #[inline]
    pub(crate) fn row_ptr(&self, slot: u32) -> *const i8 {
        self.codes.as_ptr().wrapping_add(slot as usize * self.dim)
    }

    /// Heap bytes held.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.codes.capacity() + self.norms.capacity() * 4
    }
}

fn squared_norm(code: &[i8]) -> i32 {
    code.iter().map(|&c| i32::from(c) * i32::from(c)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_distance_is_the_scaled_squared_distance_of_the_decoded_vectors() {
        let dim = 37;
        let mut state = 3u64;
        let vectors: Vec<f32> = (0..200 * dim)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 1.0
            })
            .collect();
        let quantizer = Int8Quantizer::train(dim, &vectors);
        let codes = Int8Codes::encode(&quantizer, &vectors);
        assert_eq!(codes.norms.len(), 200);
        let query = codes.query(&quantizer, &vectors[5 * dim..6 * dim]);
        assert_eq!(codes.distance(&query, 5), 0.0);
        for slot in 0..200u32 {
            let a = &codes.codes[5 * dim..6 * dim];
            let b = &codes.codes[slot as usize * dim..(slot as usize + 1) * dim];
            let want: i32 = a
                .iter()
                .zip(b)
                .map(|(&x, &y)| (i32::from(x) - i32::from(y)).pow(2))
                .sum();
            assert_eq!(codes.distance(&query, slot), want as f32);
            // Decoded, the code is within half a step of the vector (no value here saturates by much).
            let exact = distance::l2_squared(
                &vectors[5 * dim..6 * dim],
                &vectors[slot as usize * dim..(slot as usize + 1) * dim],
            );
            let approx = want as f32 * quantizer.scale * quantizer.scale;
            assert!(
                (approx - exact).abs() <= 0.05 * exact.max(1.0),
                "{approx} {exact}"
            );
        }
        let saved = quantizer.to_values();
        assert_eq!(Int8Quantizer::from_values(dim, &saved), Some(quantizer));
        assert_eq!(Int8Quantizer::from_values(dim + 1, &saved), None);
    }

    #[test]
    fn encoding_rounds_to_the_nearest_even_and_saturates_at_127() {
        // Scale 1, offset 0: the code is the value rounded (ties to even), clamped to +-127; NaN is -127.
        let quantizer = Int8Quantizer {
            offset: vec![0.0],
            scale: 1.0,
        };
        let below_half = f32::from_bits(0x3EFF_FFFF);
        let mut values = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            below_half,
            -below_half,
            1.5,
            -1.5,
            2.5,
            -2.5,
            126.5,
            -126.5,
            127.49,
            127.5,
            -127.5,
            128.0,
            -128.0,
            1e9,
            -1e9,
        ];
        // Every float from -130 to 130 in steps of 1/64, and the floats next to each half.
        values.extend((-130 * 64..=130 * 64).map(|i| i as f32 / 64.0));
        values.extend((-130..130).flat_map(|i| {
            let half = i as f32 + 0.5;
            [
                f32::from_bits(half.to_bits() - 1),
                half,
                f32::from_bits(half.to_bits() + 1),
            ]
        }));
        for v in values {
            let mut code = [0i8];
            quantizer.encode(&[v], &mut code);
            assert_eq!(
                code[0],
                v.round_ties_even().clamp(-127.0, 127.0) as i8,
                "{v}"
            );
        }
        let mut code = [0i8];
        quantizer.encode(&[f32::NAN], &mut code);
        assert_eq!(code[0], -127);
    }
}
