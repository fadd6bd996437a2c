//! Decoding image bytes into RGB with EXIF orientation applied and a pixel limit checked before decoding.

use crate::error::{EmbedError, Result};
use image::{DynamicImage, ImageDecoder, ImageReader};
use std::io::Cursor;

/// Default pixel limit: 100 megapixels.
pub const DEFAULT_MAX_PIXELS: u64 = 100_000_000;

/// Image formats recognised by content.
pub fn sniff_format(bytes: &[u8]) -> Option<image::ImageFormat> {
    use image::ImageFormat::*;
    let format = image::guess_format(bytes).ok()?;
    matches!(format, Jpeg | Png | WebP | Gif | Bmp | Tiff).then_some(format)
}

/// Decodes `bytes` (JPEG, PNG, WebP, GIF, BMP, TIFF, recognised by content), refusing images over
/// `max_pixels` before decoding their pixels, and applies the EXIF orientation.
pub fn decode(bytes: &[u8], max_pixels: u64) -> Result<DynamicImage> {
    if bytes.is_empty() {
        return Err(EmbedError::Decode("empty file".into()));
    }
    let format = sniff_format(bytes).ok_or_else(|| {
        EmbedError::Decode("not a supported image (JPEG, PNG, WebP, GIF, BMP, TIFF)".into())
    })?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    // The decoder's own allocation limit is a second guard behind the explicit pixel check.
    reader.no_limits();
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| EmbedError::Decode(e.to_string()))?;
    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    if pixels > max_pixels {
        return Err(EmbedError::TooLarge {
            width,
            height,
            pixels,
            limit: max_pixels,
        });
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img =
        DynamicImage::from_decoder(decoder).map_err(|e| EmbedError::Decode(e.to_string()))?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// Reads and decodes a file (see [`decode`]).
pub fn open(path: &std::path::Path, max_pixels: u64) -> Result<DynamicImage> {
    let bytes = std::fs::read(path).map_err(|source| EmbedError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    decode(&bytes, max_pixels)
}
