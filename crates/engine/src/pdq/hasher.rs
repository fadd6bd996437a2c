//! Computing an image's PDQ hash and quality, step by step as Meta's reference implementation
//! (ThreatExchange's `pdq/cpp`) does, in the same `f32` arithmetic, so that the same pixels give the same
//! bits (the agreement is tested against the reference's own outputs, `tests/it/pdq.rs`):
//!
//! 1. luminance `0.299 R + 0.587 G + 0.114 B` of the full image (computed in `f64`, kept in `f32`);
//! 2. a tent filter: two passes of box filters along the rows and then the columns (Jarosz), the window
//!    a 128th of the side, rounded up;
//! 3. decimation to 64x64, sampling the centres of the 64x64 cells (an image of exactly 64x64 is used as
//!    it is);
//! 4. the quality: the sum of the 64x64 image's steps between neighbours, each in whole percents of the
//!    full range, divided by 90 and capped at 100;
//! 5. the 16x16 lowest frequencies of the 2D DCT of the 64x64 image (the constant term left out);
//! 6. one bit per coefficient: set when it is above the coefficients' median (Torben's method).
//!
//! Images with a side under 5 pixels have no hash. The cost is that of the filter over the full decode:
//! a few passes over every pixel (see the README's PDQ section for the measured figure).

use super::{Pdq, PdqHash};

/// Images with a side under this many pixels have no hash.
pub const MIN_SIDE: usize = 5;

/// The side of the decimated image the DCT reads.
const SIDE: usize = 64;

/// The side of the block of DCT coefficients kept.
const KEPT: usize = 16;

/// Passes of the box filter pair (two make the tent).
const FILTER_PASSES: usize = 2;

/// The PDQ hash and quality of a decoded image (its RGB pixels; alpha is ignored), `None` when a side is
/// under [`MIN_SIDE`] pixels.
pub fn pdq_of_image(image: &image::DynamicImage) -> Option<Pdq> {
    match image {
        image::DynamicImage::ImageRgb8(rgb) => {
            pdq_of_rgb(rgb.width() as usize, rgb.height() as usize, rgb.as_raw())
        }
        other => {
            let rgb = other.to_rgb8();
            pdq_of_rgb(rgb.width() as usize, rgb.height() as usize, rgb.as_raw())
        }
    }
}

/// The PDQ hash and quality of `width` x `height` RGB pixels (row-major, 3 bytes a pixel), `None` when a
/// side is under [`MIN_SIDE`] pixels or `rgb` is not that many pixels.
pub fn pdq_of_rgb(width: usize, height: usize, rgb: &[u8]) -> Option<Pdq> {
    if rgb.len() != width.checked_mul(height)?.checked_mul(3)? {
        return None;
    }
    let luma = rgb
        .chunks_exact(3)
        .map(|p| {
            (f64::from(p[0]) * 0.299 + f64::from(p[1]) * 0.587 + f64::from(p[2]) * 0.114) as f32
        })
        .collect();
    pdq_of_luma(height, width, luma)
}

/// The PDQ hash and quality of a luminance image of `rows` x `cols` (row-major), `None` when a side is
/// under [`MIN_SIDE`] pixels or `luma` is not that many values.
pub fn pdq_of_luma(rows: usize, cols: usize, mut luma: Vec<f32>) -> Option<Pdq> {
    if rows < MIN_SIDE || cols < MIN_SIDE || luma.len() != rows.checked_mul(cols)? {
        return None;
    }
    let small = if rows == SIDE && cols == SIDE {
        luma
    } else {
        tent_filter(&mut luma, rows, cols);
        decimate(&luma, rows, cols)
    };
    let quality = quality(&small);
    let dct = dct_16x16(&small);
    Some(Pdq {
        hash: bits(&dct),
        quality,
    })
}

/// The box filter's window along a side of `old` pixels, for an output of `new` pixels: a (2 `new`)-th of
/// the side, rounded up.
fn window(old: usize, new: usize) -> usize {
    old.div_ceil(2 * new)
}

/// Two passes of box filters, along the rows and then along the columns, in place.
fn tent_filter(luma: &mut [f32], rows: usize, cols: usize) {
    let along_rows = window(cols, SIDE);
    let along_cols = window(rows, SIDE);
    let mut scratch = vec![0.0f32; luma.len()];
    for _ in 0..FILTER_PASSES {
        for (row_in, row_out) in luma.chunks_exact(cols).zip(scratch.chunks_exact_mut(cols)) {
            box_1d(row_in, row_out, along_rows);
        }
        box_columns(&scratch, luma, cols, along_cols);
    }
}

/// [`box_1d`] down every column of `input` (rows of `cols` values) into `output`, a whole row at a time:
/// each column sees the same additions, subtractions and divisions in the same order as [`box_1d`] on
/// it alone (so the same bits), but memory is read row after row instead of with a stride.
fn box_columns(input: &[f32], output: &mut [f32], cols: usize, window: usize) {
    let rows = input.len() / cols;
    let window = window.clamp(1, rows);
    let half = (window + 2) / 2;
    let row = |i: usize| &input[i * cols..(i + 1) * cols];
    let mut sum = vec![0.0f32; cols];
    let mut count = 0usize;
    let (mut left, mut right, mut out) = (0usize, 0usize, 0usize);
    let mut write = |out: usize, sum: &[f32], count: usize| {
        for (o, s) in output[out * cols..(out + 1) * cols].iter_mut().zip(sum) {
            *o = s / count as f32;
        }
    };
    for _ in 0..half - 1 {
        sum.iter_mut().zip(row(right)).for_each(|(s, v)| *s += v);
        count += 1;
        right += 1;
    }
    for _ in 0..window - half + 1 {
        sum.iter_mut().zip(row(right)).for_each(|(s, v)| *s += v);
        count += 1;
        write(out, &sum, count);
        right += 1;
        out += 1;
    }
    for _ in 0..rows - window {
        sum.iter_mut()
            .zip(row(right).iter().zip(row(left)))
            .for_each(|(s, (add, sub))| {
                *s += add;
                *s -= sub;
            });
        write(out, &sum, count);
        left += 1;
        right += 1;
        out += 1;
    }
    for _ in 0..half - 1 {
        sum.iter_mut().zip(row(left)).for_each(|(s, v)| *s -= v);
        count -= 1;
        write(out, &sum, count);
        left += 1;
        out += 1;
    }
}

/// A box filter of `window` values along `input` into `output` (same length): the mean of the window
/// centred on each value (`window / 2 + 1` values ahead of the centre, counting it, the rest behind),
/// smaller windows at the ends, with one running sum.
fn box_1d(input: &[f32], output: &mut [f32], window: usize) {
    let len = input.len();
    let window = window.clamp(1, len);
    let half = (window + 2) / 2;
    let mut sum = 0.0f32;
    let mut count = 0usize;
    let mut right = 0usize;
    let mut left = 0usize;
    let mut out = 0usize;
    // Fill the window's leading part without writing.
    for _ in 0..half - 1 {
        sum += input[right];
        count += 1;
        right += 1;
    }
    // Growing window.
    for _ in 0..window - half + 1 {
        sum += input[right];
        count += 1;
        output[out] = sum / count as f32;
        right += 1;
        out += 1;
    }
    // Full window.
    for _ in 0..len - window {
        sum += input[right];
        sum -= input[left];
        output[out] = sum / count as f32;
        left += 1;
        right += 1;
        out += 1;
    }
    // Shrinking window.
    for _ in 0..half - 1 {
        sum -= input[left];
        count -= 1;
        output[out] = sum / count as f32;
        left += 1;
        out += 1;
    }
}

/// The 64x64 samples at the centres of the cells of a 64x64 grid over the image.
fn decimate(luma: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let at = |i: usize, n: usize| ((i as f64 + 0.5) * n as f64 / SIDE as f64) as usize;
    let mut out = Vec::with_capacity(SIDE * SIDE);
    for i in 0..SIDE {
        let row = at(i, rows);
        for j in 0..SIDE {
            out.push(luma[row * cols + at(j, cols)]);
        }
    }
    out
}

/// The quality: how much the 64x64 image varies, 0 (flat) to 100.
fn quality(small: &[f32]) -> u8 {
    let step = |u: f32, v: f32| (((u - v) * 100.0) / 255.0) as i32;
    let mut sum: i64 = 0;
    for i in 0..SIDE - 1 {
        for j in 0..SIDE {
            sum += i64::from(step(small[i * SIDE + j], small[(i + 1) * SIDE + j]).abs());
        }
    }
    for i in 0..SIDE {
        for j in 0..SIDE - 1 {
            sum += i64::from(step(small[i * SIDE + j], small[i * SIDE + j + 1]).abs());
        }
    }
    (sum / 90).min(100) as u8
}

/// The DCT basis: row `i` (0..16) is frequency `i + 1` over 64 samples, scaled by sqrt(2/64).
fn dct_basis() -> &'static [f32; KEPT * SIDE] {
    static BASIS: std::sync::OnceLock<[f32; KEPT * SIDE]> = std::sync::OnceLock::new();
    BASIS.get_or_init(|| {
        let scale = (2.0 / SIDE as f64).sqrt() as f32;
        let mut basis = [0.0f32; KEPT * SIDE];
        for i in 0..KEPT {
            for j in 0..SIDE {
                let angle = (std::f64::consts::PI / 2.0 / SIDE as f64)
                    * (i + 1) as f64
                    * (2 * j + 1) as f64;
                basis[i * SIDE + j] = (f64::from(scale) * angle.cos()) as f32;
            }
        }
        basis
    })
}

/// The 16x16 coefficients `D A Dᵀ` of the 64x64 image `A` (row-major), `D` the [`dct_basis`].
fn dct_16x16(small: &[f32]) -> [f32; KEPT * KEPT] {
    let d = dct_basis();
    let mut t = [0.0f32; KEPT * SIDE];
    for i in 0..KEPT {
        for j in 0..SIDE {
            let mut sum = 0.0f32;
            for k in 0..SIDE {
                sum += d[i * SIDE + k] * small[k * SIDE + j];
            }
            t[i * SIDE + j] = sum;
        }
    }
    let mut b = [0.0f32; KEPT * KEPT];
    for i in 0..KEPT {
        for j in 0..KEPT {
            let mut sum = 0.0f32;
            for k in 0..SIDE {
                sum += t[i * SIDE + k] * d[j * SIDE + k];
            }
            b[i * KEPT + j] = sum;
        }
    }
    b
}

/// One bit per coefficient, set when it is above the median.
fn bits(dct: &[f32; KEPT * KEPT]) -> PdqHash {
    let median = torben_median(dct);
    let mut hash = PdqHash::default();
    for (k, &v) in dct.iter().enumerate() {
        if v > median {
            hash.set_bit(k);
        }
    }
    hash
}

/// A median of `values` by Torben's method (bisection on the value range, no sorting or copying).
fn torben_median(values: &[f32]) -> f32 {
    let mut min = values.iter().copied().fold(f32::INFINITY, f32::min);
    let mut max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let half = values.len().div_ceil(2);
    loop {
        let guess = (min + max) / 2.0;
        let (mut less, mut greater, mut equal) = (0usize, 0usize, 0usize);
        let mut max_below = min;
        let mut min_above = max;
        for &v in values {
            if v < guess {
                less += 1;
                max_below = max_below.max(v);
            } else if v > guess {
                greater += 1;
                min_above = min_above.min(v);
            } else {
                equal += 1;
            }
        }
        if less <= half && greater <= half {
            return if less >= half {
                max_below
            } else if less + equal >= half {
                guess
            } else {
                min_above
            };
        }
        if less > greater {
            max = max_below;
        } else {
            min = min_above;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torben_finds_a_median() {
        let mut values: Vec<f32> = (0..256).map(|i| ((i * 37) % 256) as f32 * 0.5).collect();
        values[0] = 1e9;
        let median = torben_median(&values);
        assert!(values.contains(&median));
        assert!(values.iter().filter(|&&v| v < median).count() <= 128);
        assert!(values.iter().filter(|&&v| v > median).count() <= 128);
    }

    #[test]
    fn the_box_filter_averages_a_centred_window() {
        let input: Vec<f32> = (0..16).map(|i| i as f32).collect();
        let mut output = vec![0.0; 16];
        box_1d(&input, &mut output, 7);
        // The reference's worked example: window 7, sums 6, 10, ... over 4, 5, ... values.
        assert_eq!(output[0], 6.0 / 4.0);
        assert_eq!(output[4], 28.0 / 7.0);
        assert_eq!(output[15], 54.0 / 4.0);
    }

    #[test]
    fn the_column_filter_is_the_row_filter_down_each_column() {
        let (rows, cols) = (37, 5);
        let input: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 7919) % 255) as f32 * 0.37)
            .collect();
        let mut by_rows = vec![0.0; rows * cols];
        box_columns(&input, &mut by_rows, cols, 6);
        for j in 0..cols {
            let column: Vec<f32> = (0..rows).map(|i| input[i * cols + j]).collect();
            let mut out = vec![0.0; rows];
            box_1d(&column, &mut out, 6);
            for i in 0..rows {
                assert_eq!(
                    by_rows[i * cols + j].to_bits(),
                    out[i].to_bits(),
                    "({i}, {j})"
                );
            }
        }
    }

    #[test]
    fn tiny_and_flat_images() {
        assert_eq!(pdq_of_rgb(4, 100, &vec![0; 4 * 100 * 3]), None);
        assert_eq!(pdq_of_rgb(10, 10, &[0; 5]), None);
        let flat = pdq_of_rgb(100, 80, &vec![128; 100 * 80 * 3]).expect("hashed");
        assert_eq!(flat.quality, 0);
    }
}
