//! The pixel signature duplicate verification compares: small grayscale descriptors of an image, its
//! mirror and windows of it, scored by normalised cross-correlation (see [`crate::safety::dupes`]).

use image::DynamicImage;

/// Side of the grayscale thumbnail windows are cut from.
const BASE: u32 = 96;

/// The least decode a signature needs: its thumbnail's side (a large JPEG decodes at a reduced DCT scale
/// that still gives it, see [`vsearch_embed::image_io::decode_sized`]).
pub const DECODE_SIZE: vsearch_embed::image_io::DecodeSize =
    vsearch_embed::image_io::DecodeSize::ShortSide(BASE);
/// Side of a compared descriptor.
const SIDE: usize = 24;
/// Window sizes (fractions of the image side) besides the whole image.
const WINDOW_SCALES: [f32; 3] = [0.9, 0.8, 0.7];
/// Window positions along each axis, as fractions of the slack.
const WINDOW_POSITIONS: [f32; 3] = [0.0, 0.5, 1.0];

/// What verification compares: the zero-mean, unit-norm `SIDE x SIDE` grayscale descriptor of the whole
/// image (the aspect ratio is not kept, so a proportional crop or resize lines up), its mirror image, and
/// the descriptors of windows of the image (the crops another image might be).
#[derive(Debug, Clone)]
pub struct Signature {
    whole: Vec<f32>,
    mirror: Vec<f32>,
    windows: Vec<Vec<f32>>,
}

impl Signature {
    /// The signature of a decoded image.
    pub fn new(image: &DynamicImage) -> Self {
        let gray = image.thumbnail_exact(BASE, BASE).to_luma32f();
        let base: Vec<f32> = gray.as_raw().clone();
        let (bw, bh) = (gray.width() as usize, gray.height() as usize);
        let whole = descriptor(&base, bw, bh, (0.0, 0.0, 1.0, 1.0));
        let mut mirror = whole.clone();
        for row in mirror.chunks_mut(SIDE) {
            row.reverse();
        }
        let mut windows = Vec::new();
        for s in WINDOW_SCALES {
            for py in WINDOW_POSITIONS {
                for px in WINDOW_POSITIONS {
                    let slack = 1.0 - s;
                    windows.push(descriptor(&base, bw, bh, (px * slack, py * slack, s, s)));
                }
            }
        }
        Self {
            whole,
            mirror,
            windows,
        }
    }

    /// How alike two images are, -1 to 1: the best normalised cross-correlation of one's whole image (or
    /// its mirror) with the other's whole image or windows, either way round.
    pub fn similarity(&self, other: &Signature) -> f32 {
        let dot = vsearch_core::vector::dot;
        let mut best = dot(&self.whole, &other.whole).max(dot(&self.whole, &other.mirror));
        for (mine, theirs) in [(self, other), (other, self)] {
            for w in &mine.windows {
                best = best.max(dot(w, &theirs.whole)).max(dot(w, &theirs.mirror));
            }
        }
        best
    }
}

/// The zero-mean unit-norm descriptor of the window `(x, y, w, h)` (fractions) of a `bw x bh` grayscale
/// image: each cell the mean of 3x3 bilinear samples.
fn descriptor(base: &[f32], bw: usize, bh: usize, (x, y, w, h): (f32, f32, f32, f32)) -> Vec<f32> {
    let sample = |fx: f32, fy: f32| -> f32 {
        let px = (fx * bw as f32 - 0.5).clamp(0.0, (bw - 1) as f32);
        let py = (fy * bh as f32 - 0.5).clamp(0.0, (bh - 1) as f32);
        let (x0, y0) = (px.floor() as usize, py.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(bw - 1), (y0 + 1).min(bh - 1));
        let (tx, ty) = (px - x0 as f32, py - y0 as f32);
        let at = |xx: usize, yy: usize| base.get(yy * bw + xx).copied().unwrap_or(0.0);
        let top = at(x0, y0) * (1.0 - tx) + at(x1, y0) * tx;
        let bottom = at(x0, y1) * (1.0 - tx) + at(x1, y1) * tx;
        top * (1.0 - ty) + bottom * ty
    };
    let mut out = Vec::with_capacity(SIDE * SIDE);
    let cell = (w / SIDE as f32, h / SIDE as f32);
    for j in 0..SIDE {
        for i in 0..SIDE {
            let mut sum = 0.0;
            for sy in 0..3 {
                for sx in 0..3 {
                    let fx = x + (i as f32 + (sx as f32 + 0.5) / 3.0) * cell.0;
                    let fy = y + (j as f32 + (sy as f32 + 0.5) / 3.0) * cell.1;
                    sum += sample(fx, fy);
                }
            }
            out.push(sum / 9.0);
        }
    }
    let mean = out.iter().sum::<f32>() / out.len() as f32;
    out.iter_mut().for_each(|v| *v -= mean);
    let norm = out.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm > 1e-6 {
        out.iter_mut().for_each(|v| *v /= norm);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Luma};

    fn pattern(w: u32, h: u32) -> DynamicImage {
        DynamicImage::ImageLuma8(GrayImage::from_fn(w, h, |x, y| {
            let v = ((x * 7 + y * 3) % 97) as f32
                + 80.0 * ((x as f32 / 23.0).sin() * (y as f32 / 31.0).cos());
            Luma([v.clamp(0.0, 255.0) as u8])
        }))
    }

    #[test]
    fn copies_score_high_and_other_pictures_low() {
        let a = pattern(320, 240);
        let sa = Signature::new(&a);
        assert!(sa.similarity(&sa) > 0.999);
        let flipped = Signature::new(&a.fliph());
        assert!(
            sa.similarity(&flipped) > 0.99,
            "{}",
            sa.similarity(&flipped)
        );
        let small =
            Signature::new(&a.resize_exact(160, 120, image::imageops::FilterType::Triangle));
        assert!(sa.similarity(&small) > 0.95);
        let cropped = Signature::new(&a.crop_imm(32, 24, 256, 192));
        assert!(sa.similarity(&cropped) > 0.9, "{}", sa.similarity(&cropped));
        let other = Signature::new(&pattern(240, 320).rotate90());
        assert!(sa.similarity(&other) < 0.8, "{}", sa.similarity(&other));
    }
}
