//! Model input recipes: resizing as PIL does, cropping, scaling and normalising into [`Pixels`].

use crate::embedder::Pixels;
use crate::error::{EmbedError, Result};
use fast_image_resize::images::{TypedImage, TypedImageRef};
use fast_image_resize::pixels::U8x3;
use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, RgbImage};
use std::borrow::Cow;

/// A crop rectangle in source pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crop {
    pub left: u32,
    pub top: u32,
    pub width: u32,
    pub height: u32,
}

/// Resizes (the `crop` of) an RGB image to `width x height` with PIL's BICUBIC: a separable convolution
/// with the Keys a = -0.5 kernel (Catmull-Rom), widened when downscaling (antialiasing), rounded to `u8`.
pub fn resize_bicubic(
    img: &RgbImage,
    crop: Option<Crop>,
    width: u32,
    height: u32,
) -> Result<RgbImage> {
    let (w, h) = img.dimensions();
    let region = crop.map_or((0.0, 0.0, w as f64, h as f64), |c| {
        (c.left as f64, c.top as f64, c.width as f64, c.height as f64)
    });
    resize_region_bicubic(img, region, width, height)
}

/// [`resize_bicubic`] of the `(left, top, width, height)` region of `img` in (fractional) source pixels.
fn resize_region_bicubic(
    img: &RgbImage,
    (left, top, region_width, region_height): (f64, f64, f64, f64),
    width: u32,
    height: u32,
) -> Result<RgbImage> {
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 || width == 0 || height == 0 {
        return Err(EmbedError::Preprocess {
            reason: "image has a zero dimension".into(),
        });
    }
    let resize_error = |e: &dyn std::fmt::Display| EmbedError::Preprocess {
        reason: format!("resize: {e}"),
    };
    // The typed call: `Resizer::resize` dispatches on the pixel type at run time, which compiles its
    // kernels for all thirteen pixel types (half of this crate's code) for the one RGB is.
    let src =
        TypedImageRef::<U8x3>::from_buffer(w, h, img.as_raw()).map_err(|e| resize_error(&e))?;
    let mut out = vec![0u8; width as usize * height as usize * 3];
    let mut dst =
        TypedImage::<U8x3>::from_buffer(width, height, &mut out).map_err(|e| resize_error(&e))?;
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::CatmullRom))
        .crop(left, top, region_width, region_height);
    Resizer::new()
        .resize_typed(&src, &mut dst, &options)
        .map_err(|e| resize_error(&e))?;
    RgbImage::from_raw(width, height, out).ok_or_else(|| EmbedError::Preprocess {
        reason: "resize produced a buffer of the wrong size".into(),
    })
}

/// Channel-major `f32` pixels: `(value * scale - mean[c]) / std[c]`.
pub fn to_pixels(img: &RgbImage, scale: f32, mean: [f32; 3], std: [f32; 3]) -> Pixels {
    let (w, h) = img.dimensions();
    let (w, h) = (w as usize, h as usize);
    let mut data = vec![0f32; 3 * w * h];
    for (i, p) in img.pixels().enumerate() {
        for c in 0..3 {
            data[c * w * h + i] = (p[c] as f32 * scale - mean[c]) / std[c];
        }
    }
    Pixels {
        data,
        height: h,
        width: w,
    }
}

/// The image as 8-bit RGB (alpha dropped, greyscale expanded), borrowed when it already is.
pub fn rgb(img: &DynamicImage) -> Cow<'_, RgbImage> {
    match img {
        DynamicImage::ImageRgb8(rgb) => Cow::Borrowed(rgb),
        other => Cow::Owned(other.to_rgb8()),
    }
}

/// [`batch_tensor`] of a batch that must be `side x side` pixels (the model called `model`'s input).
pub fn square_batch(
    batch: &[Pixels],
    side: usize,
    model: &str,
    device: &candle_core::Device,
) -> Result<candle_core::Tensor> {
    if batch.iter().any(|p| p.height != side || p.width != side) {
        return Err(EmbedError::Preprocess {
            reason: format!("{model} input must be {side}x{side} pixels"),
        });
    }
    batch_tensor(batch, device)
}

/// Stacks preprocessed images of one size into a `batch x 3 x h x w` tensor.
pub fn batch_tensor(batch: &[Pixels], device: &candle_core::Device) -> Result<candle_core::Tensor> {
    let first = batch.first().ok_or_else(|| EmbedError::Preprocess {
        reason: "empty batch".into(),
    })?;
    let (h, w) = (first.height, first.width);
    if batch
        .iter()
        .any(|p| p.height != h || p.width != w || p.data.len() != 3 * h * w)
    {
        return Err(EmbedError::Preprocess {
            reason: "images of one batch must share a size".into(),
        });
    }
    let flat: Vec<f32> = batch.iter().flat_map(|p| p.data.iter().copied()).collect();
    Ok(candle_core::Tensor::from_vec(
        flat,
        (batch.len(), 3, h, w),
        device,
    )?)
}

/// Scales each row of a `batch x dim` tensor to unit length and returns the rows.
pub fn normalized_rows(t: &candle_core::Tensor) -> Result<Vec<Vec<f32>>> {
    let mut rows = t.to_dtype(candle_core::DType::F32)?.to_vec2::<f32>()?;
    rows.iter_mut()
        .for_each(|r| vsearch_core::vector::normalize(r));
    Ok(rows)
}

/// CLIP's mean (RGB), as in transformers' `OPENAI_CLIP_MEAN`.
#[allow(clippy::excessive_precision)] // transformers' exact literals
pub const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
/// CLIP's standard deviation (RGB), as in transformers' `OPENAI_CLIP_STD`.
#[allow(clippy::excessive_precision)] // transformers' exact literals
pub const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];

/// transformers' `CLIPImageProcessor` settings (from `preprocessor_config.json`, else CLIP's defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct ClipRecipe {
    /// Target of the shortest side (`size.shortest_edge`).
    pub shortest_edge: u32,
    /// Centre crop `(height, width)`.
    pub crop: (u32, u32),
    /// Multiplier from `u8` to `[0, 1]` (`rescale_factor`).
    pub scale: f32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Default for ClipRecipe {
    fn default() -> Self {
        Self {
            shortest_edge: 224,
            crop: (224, 224),
            scale: 1.0 / 255.0,
            mean: CLIP_MEAN,
            std: CLIP_STD,
        }
    }
}

impl ClipRecipe {
    /// Reads `preprocessor_config.json` in `dir` when present; CLIP's defaults otherwise.
    pub fn from_dir(dir: &std::path::Path) -> Result<Self> {
        let mut r = Self::default();
        let Some(v) = preprocessor_config(dir)? else {
            return Ok(r);
        };
        match v.get("size") {
            Some(s) if s.is_object() => {
                if let Some(e) = s.get("shortest_edge").and_then(positive_u32) {
                    r.shortest_edge = e;
                }
            }
            Some(s) => {
                if let Some(e) = positive_u32(s) {
                    r.shortest_edge = e;
                }
            }
            None => {}
        }
        match v.get("crop_size") {
            Some(c) if c.is_object() => {
                if let (Some(h), Some(w)) = (
                    c.get("height").and_then(positive_u32),
                    c.get("width").and_then(positive_u32),
                ) {
                    r.crop = (h, w);
                }
            }
            Some(c) => {
                if let Some(s) = positive_u32(c) {
                    r.crop = (s, s);
                }
            }
            None => {}
        }
        read_normalisation(&v, &mut r.scale, &mut r.mean, &mut r.std);
        Ok(r)
    }
}

/// `preprocessor_config.json` of the folder `dir` as JSON; `None` when the folder has none.
fn preprocessor_config(dir: &std::path::Path) -> Result<Option<serde_json::Value>> {
    let path = dir.join("preprocessor_config.json");
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|source| EmbedError::Io {
        path: path.clone(),
        source,
    })?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| EmbedError::Config {
            path,
            reason: e.to_string(),
        })
}

/// A positive integer that fits `u32`.
fn positive_u32(v: &serde_json::Value) -> Option<u32> {
    v.as_u64()
        .and_then(|x| u32::try_from(x).ok())
        .filter(|&x| x > 0)
}

/// `rescale_factor`, `image_mean` and `image_std` of a preprocessor config, each where present.
fn read_normalisation(
    v: &serde_json::Value,
    scale: &mut f32,
    mean: &mut [f32; 3],
    std: &mut [f32; 3],
) {
    if let Some(f) = v.get("rescale_factor").and_then(serde_json::Value::as_f64) {
        *scale = f as f32;
    }
    if let Some(m) = rgb_triple(v, "image_mean") {
        *mean = m;
    }
    if let Some(s) = rgb_triple(v, "image_std") {
        *std = s;
    }
}

/// The three numbers (R, G, B) under `key` (`image_mean`, `image_std`).
fn rgb_triple(v: &serde_json::Value, key: &str) -> Option<[f32; 3]> {
    let a = v.get(key)?.as_array()?;
    if a.len() != 3 {
        return None;
    }
    Some([
        a[0].as_f64()? as f32,
        a[1].as_f64()? as f32,
        a[2].as_f64()? as f32,
    ])
}

/// Output size of transformers' shortest-edge resize: short side `target`, long side `int(target * long / short)`.
pub fn shortest_edge_size(width: u32, height: u32, target: u32) -> (u32, u32) {
    let (short, long) = if width <= height {
        (width, height)
    } else {
        (height, width)
    };
    let new_long =
        ((target as u64 * long as u64) / short.max(1) as u64).min(u32::MAX as u64) as u32;
    if width <= height {
        (target, new_long)
    } else {
        (new_long, target)
    }
}

/// Resized pixels over which CLIP's recipe resizes only the part of the image its centre crop keeps: a
/// photo is resized whole as transformers does, while an extreme aspect ratio (a 1 x 60000 strip would
/// be resized to 224 x 13 440 000) keeps memory bounded.
pub const CLIP_FULL_RESIZE_MAX_PIXELS: u64 = 1 << 24;

/// CLIP's recipe, as transformers' `CLIPImageProcessor` (PIL): RGB, shortest side to `shortest_edge` with PIL's
/// bicubic, centre crop (`top = (h - crop_h) // 2`), scale, normalise.
pub fn clip(image: &DynamicImage, recipe: &ClipRecipe) -> Result<Pixels> {
    clip_within(image, recipe, CLIP_FULL_RESIZE_MAX_PIXELS)
}

/// [`clip`], resizing the whole image only when the result has at most `full_resize_max_pixels` pixels.
fn clip_within(
    image: &DynamicImage,
    recipe: &ClipRecipe,
    full_resize_max_pixels: u64,
) -> Result<Pixels> {
    let img = rgb(image);
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 {
        return Err(EmbedError::Preprocess {
            reason: "image has a zero dimension".into(),
        });
    }
    let (nw, nh) = shortest_edge_size(w, h, recipe.shortest_edge);
    let (ch, cw) = recipe.crop;
    let top = (nh as i64 - ch as i64).div_euclid(2);
    let left = (nw as i64 - cw as i64).div_euclid(2);
    // The resized image, or the part of it the crop keeps, starting at (x0, y0) of the resized image.
    let (resized, x0, y0) = if (nw, nh) == (w, h) {
        (img.into_owned(), 0, 0)
    } else if u64::from(nw) * u64::from(nh) <= full_resize_max_pixels {
        (resize_bicubic(&img, None, nw, nh)?, 0, 0)
    } else {
        let (x0, x1) = (
            left.clamp(0, nw.into()),
            (left + i64::from(cw)).clamp(0, nw.into()),
        );
        let (y0, y1) = (
            top.clamp(0, nh.into()),
            (top + i64::from(ch)).clamp(0, nh.into()),
        );
        let (sx, sy) = (w as f64 / nw as f64, h as f64 / nh as f64);
        let region = (
            x0 as f64 * sx,
            y0 as f64 * sy,
            (x1 - x0) as f64 * sx,
            (y1 - y0) as f64 * sy,
        );
        let part = resize_region_bicubic(&img, region, (x1 - x0) as u32, (y1 - y0) as u32)?;
        (part, x0, y0)
    };
    let cropped = if (x0, y0) == (0, 0) && resized.dimensions() == (cw, ch) {
        resized
    } else {
        // Pads with zeros where the crop is larger than the image, as transformers does.
        let (rw, rh) = resized.dimensions();
        let mut out = RgbImage::new(cw, ch);
        for y in 0..ch as i64 {
            let sy = y + top - y0;
            if sy < 0 || sy >= rh as i64 {
                continue;
            }
            for x in 0..cw as i64 {
                let sx = x + left - x0;
                if sx >= 0 && sx < rw as i64 {
                    out.put_pixel(x as u32, y as u32, *resized.get_pixel(sx as u32, sy as u32));
                }
            }
        }
        out
    };
    Ok(to_pixels(&cropped, recipe.scale, recipe.mean, recipe.std))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(width: u32, height: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([
                (x * 7 % 256) as u8,
                (y * 3 % 256) as u8,
                ((x + y) % 256) as u8,
            ])
        }))
    }

    #[test]
    fn clip_resizing_only_the_cropped_part_matches_resizing_all() {
        let recipe = ClipRecipe::default();
        for (w, h) in [(30, 200), (400, 17), (224, 500)] {
            let img = gradient(w, h);
            let whole = clip_within(&img, &recipe, u64::MAX).expect("whole");
            let part = clip_within(&img, &recipe, 0).expect("part");
            assert_eq!((part.width, part.height), (whole.width, whole.height));
            // One step of u8 rounding, scaled by the largest 1 / (255 std).
            let step = 1.0 / (255.0 * 0.26);
            let worst = whole
                .data
                .iter()
                .zip(&part.data)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(worst <= 1.01 * step, "{w}x{h}: {worst}");
        }
    }

    #[test]
    fn clip_of_a_thin_strip_stays_small() {
        let recipe = ClipRecipe::default();
        for (w, h) in [(1, 100_000), (100_000, 1), (3, 60_000)] {
            let px = clip(&gradient(w, h), &recipe).expect("strip");
            assert_eq!((px.width, px.height), (224, 224), "{w}x{h}");
        }
    }
}

/// transformers' `SiglipImageProcessor` settings (from `preprocessor_config.json`, else SigLIP's
/// defaults): resize to `size` exactly (no crop, the aspect ratio is not kept), scale, normalise.
#[derive(Debug, Clone, PartialEq)]
pub struct SiglipRecipe {
    /// `(height, width)`.
    pub size: (u32, u32),
    pub scale: f32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl SiglipRecipe {
    /// Reads `preprocessor_config.json` in `dir` when present; `image_size` square, mean and std 0.5
    /// otherwise.
    pub fn from_dir(dir: &std::path::Path, image_size: u32) -> Result<Self> {
        let mut r = Self {
            size: (image_size, image_size),
            scale: 1.0 / 255.0,
            mean: [0.5; 3],
            std: [0.5; 3],
        };
        let Some(v) = preprocessor_config(dir)? else {
            return Ok(r);
        };
        if let Some(s) = v.get("size") {
            if let (Some(h), Some(w)) = (
                s.get("height").and_then(positive_u32),
                s.get("width").and_then(positive_u32),
            ) {
                r.size = (h, w);
            }
        }
        read_normalisation(&v, &mut r.scale, &mut r.mean, &mut r.std);
        Ok(r)
    }
}

/// SigLIP's recipe, as transformers' `SiglipImageProcessor` (PIL): RGB, resize to `size` with PIL's
/// bicubic, scale, normalise.
pub fn siglip(image: &DynamicImage, recipe: &SiglipRecipe) -> Result<Pixels> {
    let img = rgb(image);
    let (h, w) = recipe.size;
    let resized = if img.dimensions() == (w, h) {
        img.into_owned()
    } else {
        resize_bicubic(&img, None, w, h)?
    };
    Ok(to_pixels(&resized, recipe.scale, recipe.mean, recipe.std))
}
