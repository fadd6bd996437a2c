//! The vector a query searches with, whatever the backend: one example's (an indexed image's stored
//! vector, a text or an image through the model, a crop of an image), or a board's normalised weighted
//! sum; and the checks a search makes before it runs. A local collection and a Qdrant collection each
//! implement [`Examples`].

use crate::types::error::{EngineError, Result};
use crate::types::image_id::ImageId;
use crate::types::query::{Crop, Example, Query, QueryOptions};
use vsearch_embed::{image_io, Embedder};
use vsearch_index::{IndexError, Metric};

/// Crops smaller than this many pixels on a side are refused.
pub const MIN_CROP_PIXELS: u32 = 8;

/// Checks a search before it runs: `k` at least 1, a query vector of the collection's dimension with
/// finite components.
pub fn check_search(vector: &[f32], dim: usize, options: &QueryOptions) -> Result<()> {
    if options.k == 0 {
        return Err(IndexError::ZeroK.into());
    }
    if vector.len() != dim {
        return Err(IndexError::Dimension {
            expected: dim,
            got: vector.len(),
        }
        .into());
    }
    if vector.iter().any(|x| !x.is_finite()) {
        return Err(IndexError::InvalidParams {
            reason: "the query vector has a NaN or infinite component".into(),
        }
        .into());
    }
    Ok(())
}

/// What turning a query into a vector needs from a collection, local or in Qdrant.
pub trait Examples {
    /// Size of the collection's vectors.
    fn dim(&self) -> usize;
    fn metric(&self) -> Metric;
    /// The stored vector of an indexed image (refused when a block hides it).
    fn stored_vector(&self, id: ImageId) -> Result<Vec<f32>>;
    /// The file of an indexed image, for a crop (refused when a block hides it).
    fn stored_image(&self, id: ImageId) -> Result<Vec<u8>>;
    /// The model, for `what` (a query by text or by image).
    fn model(&self, what: &'static str) -> Result<&Embedder>;
}

/// The vector `query` searches `examples` with: one example's, or a board's normalised weighted sum.
pub fn query_vector(examples: &dyn Examples, query: &Query) -> Result<Vec<f32>> {
    match query {
        Query::Board(board) => {
            if board.positive.is_empty() {
                return Err(EngineError::BadQuery {
                    reason: "a board needs at least one positive example".into(),
                });
            }
            let dim = examples.dim();
            let metric = examples.metric();
            let mut sum = vec![0f32; dim];
            let mut positive_weight = 0f32;
            for (list, sign) in [(&board.positive, 1f32), (&board.negative, -1f32)] {
                for example in list {
                    if !example.weight.is_finite() || example.weight < 0.0 {
                        return Err(EngineError::BadQuery {
                            reason: format!(
                                "an example's weight must be a finite number >= 0, not {}",
                                example.weight
                            ),
                        });
                    }
                    let mut v = example_vector(examples, example)?;
                    if v.len() != dim {
                        return Err(IndexError::Dimension {
                            expected: dim,
                            got: v.len(),
                        }
                        .into());
                    }
                    if metric == Metric::Cosine {
                        vsearch_core::vector::normalize(&mut v);
                    }
                    if sign > 0.0 {
                        positive_weight += example.weight;
                    }
                    for (s, x) in sum.iter_mut().zip(&v) {
                        *s += sign * example.weight * x;
                    }
                }
            }
            match metric {
                Metric::Cosine => {
                    let norm = vsearch_core::vector::dot(&sum, &sum).sqrt();
                    if norm.is_nan() || norm <= 1e-6 {
                        return Err(EngineError::BadQuery {
                            reason: "the examples cancel out: their weighted sum is zero".into(),
                        });
                    }
                    vsearch_core::vector::normalize(&mut sum);
                }
                Metric::L2 => {
                    if positive_weight.is_nan() || positive_weight <= 0.0 {
                        return Err(EngineError::BadQuery {
                            reason: "the positive examples' weights sum to zero".into(),
                        });
                    }
                    sum.iter_mut().for_each(|s| *s /= positive_weight);
                }
            }
            Ok(sum)
        }
        single => example_vector(examples, &Example::new(single.clone())),
    }
}

/// The vector of one example (not a board).
fn example_vector(examples: &dyn Examples, example: &Example) -> Result<Vec<f32>> {
    match (&example.query, example.crop) {
        (Query::Board(_), _) => Err(EngineError::BadQuery {
            reason: "a board's example cannot itself be a board".into(),
        }),
        (Query::Id(id), None) => examples.stored_vector(*id),
        (Query::Vector(v), None) => Ok(v.clone()),
        (Query::Text(text), None) => examples
            .model("a query by text")?
            .embed_texts(&[text.as_str()])?
            .into_iter()
            .next()
            .ok_or(EngineError::NoQueryVector {
                query: "the query text",
            }),
        (Query::ImageBytes(bytes), crop) => {
            embed_image(examples.model("a query by image")?, bytes, crop)
        }
        (Query::Id(id), Some(crop)) => {
            let bytes = examples.stored_image(*id)?;
            embed_image(examples.model("a query by image")?, &bytes, Some(crop))
        }
        (Query::Text(_) | Query::Vector(_), Some(_)) => Err(EngineError::BadQuery {
            reason: "a crop applies to an image or an indexed id, not to a text or a vector".into(),
        }),
    }
}

/// Embeds an encoded image, or the region `crop` of it.
pub(crate) fn embed_image(
    embedder: &Embedder,
    bytes: &[u8],
    crop: Option<Crop>,
) -> Result<Vec<f32>> {
    // A crop keeps a fraction of each side, so the decode must be that much larger for the crop to
    // still give the model its input.
    let size = match (embedder.image.decode_size(), crop) {
        (image_io::DecodeSize::ShortSide(side), Some(c)) => {
            let fraction = c.w.min(c.h);
            if fraction > 0.0 && fraction.is_finite() {
                image_io::DecodeSize::ShortSide(
                    (side as f32 / fraction).ceil().min(u32::MAX as f32) as u32,
                )
            } else {
                image_io::DecodeSize::Full
            }
        }
        (size, _) => size,
    };
    let mut image = image_io::decode_sized(bytes, image_io::DEFAULT_MAX_PIXELS, size)?.image;
    if let Some(crop) = crop {
        let (x, y, w, h) = crop_pixels(crop, image.width(), image.height())?;
        image = image.crop_imm(x, y, w, h);
    }
    let pixels = embedder.image.preprocess(&image)?;
    embedder
        .image
        .embed_pixels(std::slice::from_ref(&pixels))?
        .into_iter()
        .next()
        .ok_or(EngineError::NoQueryVector {
            query: "the query image",
        })
}

/// The pixel rectangle `(x, y, w, h)` of a crop given in fractions of a `width x height` image.
pub fn crop_pixels(crop: Crop, width: u32, height: u32) -> Result<(u32, u32, u32, u32)> {
    let Crop { x, y, w, h } = crop;
    let fractions_ok = [x, y, w, h]
        .iter()
        .all(|f| f.is_finite() && (0.0..=1.0).contains(f))
        && w > 0.0
        && h > 0.0
        && x + w <= 1.0 + 1e-6
        && y + h <= 1.0 + 1e-6;
    if !fractions_ok {
        return Err(EngineError::BadQuery {
            reason: format!(
                "crop {{x: {x}, y: {y}, w: {w}, h: {h}}} must lie inside the image: fractions from 0 to 1 with w, h > 0, x + w <= 1 and y + h <= 1"
            ),
        });
    }
    let px = |f: f32, side: u32| ((f as f64 * side as f64).round() as u32).min(side);
    let (x0, y0) = (px(x, width), px(y, height));
    let (x1, y1) = (px(x + w, width), px(y + h, height));
    let (cw, ch) = (x1.saturating_sub(x0), y1.saturating_sub(y0));
    if cw < MIN_CROP_PIXELS || ch < MIN_CROP_PIXELS {
        return Err(EngineError::BadQuery {
            reason: format!(
                "the crop is {cw}x{ch} pixels of a {width}x{height} image; it needs at least {MIN_CROP_PIXELS} pixels on each side"
            ),
        });
    }
    Ok((x0, y0, cw, ch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crops_map_to_pixels_inside_the_image() {
        let c = |x, y, w, h| Crop { x, y, w, h };
        assert_eq!(
            crop_pixels(c(0.0, 0.0, 1.0, 1.0), 640, 480).ok(),
            Some((0, 0, 640, 480))
        );
        assert_eq!(
            crop_pixels(c(0.25, 0.5, 0.5, 0.5), 640, 480).ok(),
            Some((160, 240, 320, 240))
        );
        for bad in [
            c(0.5, 0.0, 0.6, 0.5),
            c(-0.1, 0.0, 0.5, 0.5),
            c(0.0, 0.0, 0.0, 1.0),
            c(f32::NAN, 0.0, 0.5, 0.5),
        ] {
            assert!(
                matches!(
                    crop_pixels(bad, 640, 480),
                    Err(EngineError::BadQuery { .. })
                ),
                "{bad:?}"
            );
        }
        assert!(
            crop_pixels(c(0.0, 0.0, 0.01, 0.01), 640, 480).is_err(),
            "too small"
        );
    }
}
