//! Decoding image bytes into RGB with EXIF orientation applied and a pixel limit checked before decoding,
//! at the size its reader needs ([`DecodeSize`]), and the one list of image formats vsearch reads
//! ([`IMAGE_FORMATS`]).
//!
//! **Scaled JPEG decoding.** A 12-megapixel phone photo decoded in full costs several times what the
//! model does with it, while every reader wants far fewer pixels (the model 224 to 256 on the shorter
//! side, a thumbnail 256). A JPEG stores 8x8 blocks of DCT coefficients, so a decoder can produce the
//! image at 1/2, 1/4 or 1/8 of its size from the same coefficients, skipping most of the inverse DCT,
//! upsampling and colour conversion. [`decode_sized`] picks the smallest of those scales whose result
//! still has at least the pixels asked for and decodes with libjpeg-turbo (the `turbojpeg` crate,
//! libjpeg-turbo 3 with its SIMD built from source): the reference implementation of scaled decoding,
//! what Pillow's `draft` uses, and faster than the pure-Rust decoders at every scale (measured in the
//! README). At 1/8, the scale a phone photo takes for every reader, [`jpeg_eighth`] decodes the common
//! JPEGs (baseline, YCbCr or grayscale) to libjpeg-turbo's very pixels in less time, by passing over the
//! AC coefficients that scale does not use several at a time, and hands anything else to libjpeg-turbo.
//! Other formats, and a JPEG libjpeg-turbo refuses, take the `image` crate's full decode;
//! HEIC/HEIF and AVIF take libheif's ([`heif`]), which applies their container's orientation.

use crate::error::{EmbedError, Result};
use image::error::{ImageError, LimitErrorKind};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use std::io::Cursor;
use std::path::Path;

pub mod heif;
pub mod jpeg_eighth;

/// Default pixel limit: 100 megapixels.
pub const DEFAULT_MAX_PIXELS: u64 = 100_000_000;

/// Bytes a pixel may take in the decoder's allocation budget ([`decoder_limits`]): 16-bit RGBA, the widest
/// layout a photo decodes to.
pub const ALLOC_BYTES_PER_PIXEL: u64 = 8;

/// The least allocation budget of a decoder whatever the pixel limit: the `image` crate's own default.
pub const MIN_ALLOC_LIMIT: u64 = 512 << 20;

/// What a decoder may do for an image limit of `max_pixels`: neither side over `max_pixels` (an image with
/// one is over the limit whatever its other side), and at most [`ALLOC_BYTES_PER_PIXEL`] bytes a pixel
/// allocated at any one time (no less than [`MIN_ALLOC_LIMIT`]), so a file whose header lies about its
/// size or its chunks is refused instead of exhausting memory.
pub fn decoder_limits(max_pixels: u64) -> Limits {
    let side = u32::try_from(max_pixels).unwrap_or(u32::MAX);
    let mut limits = Limits::default();
    limits.max_image_width = Some(side);
    limits.max_image_height = Some(side);
    limits.max_alloc = Some(alloc_limit(max_pixels));
    limits
}

/// The decoder's allocation budget for an image limit of `max_pixels` (see [`decoder_limits`]).
fn alloc_limit(max_pixels: u64) -> u64 {
    max_pixels
        .saturating_mul(ALLOC_BYTES_PER_PIXEL)
        .max(MIN_ALLOC_LIMIT)
}

/// The error for a decoder's failure on an image whose limit is `max_pixels`: a limit it hit is named,
/// with the setting that raises it.
fn decode_error(error: ImageError, max_pixels: u64) -> EmbedError {
    let reason = match &error {
        ImageError::Limits(limit) => match limit.kind() {
            LimitErrorKind::DimensionError => format!(
                "a side of the image is over the limit of {max_pixels} pixels \
                 (raise it with --max-pixels)"
            ),
            LimitErrorKind::InsufficientMemory => memory_limit_reason(max_pixels),
            _ => error.to_string(),
        },
        _ => error.to_string(),
    };
    EmbedError::Decode { reason }
}

fn memory_limit_reason(max_pixels: u64) -> String {
    format!(
        "decoding needs more memory than the limit of {} MiB \
         ({ALLOC_BYTES_PER_PIXEL} bytes a pixel of --max-pixels {max_pixels}; raise it with --max-pixels)",
        alloc_limit(max_pixels) >> 20
    )
}

/// What decodes a format: the `image` crate (JPEG also libjpeg-turbo, see the module docs), or libheif.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// A format of the `image` crate.
    Image(ImageFormat),
    /// HEIF holding HEVC: what iPhones write (`.heic`), decoded by libheif ([`heif`]).
    Heic,
    /// HEIF holding AV1 (`.avif`), decoded by libheif ([`heif`]).
    Avif,
}

/// An image format vsearch reads: how people name it, the file extensions that claim it, its MIME type and
/// what decodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageFormatSpec {
    /// Display name, e.g. `JPEG`.
    pub name: &'static str,
    /// Lower-case file extensions without the dot, the usual one first.
    pub extensions: &'static [&'static str],
    /// The MIME type an HTTP response serving the file's bytes says, e.g. `image/jpeg`.
    pub mime_type: &'static str,
    /// What decodes it.
    pub codec: Codec,
}

/// Every image format vsearch reads (recognised by content, [`sniff_format`]; claimed by file extension,
/// [`is_image_extension`]).
pub const IMAGE_FORMATS: &[ImageFormatSpec] = &[
    ImageFormatSpec {
        name: "JPEG",
        extensions: &["jpg", "jpeg", "jpe"],
        mime_type: "image/jpeg",
        codec: Codec::Image(ImageFormat::Jpeg),
    },
    ImageFormatSpec {
        name: "PNG",
        extensions: &["png"],
        mime_type: "image/png",
        codec: Codec::Image(ImageFormat::Png),
    },
    ImageFormatSpec {
        name: "WebP",
        extensions: &["webp"],
        mime_type: "image/webp",
        codec: Codec::Image(ImageFormat::WebP),
    },
    ImageFormatSpec {
        name: "GIF",
        extensions: &["gif"],
        mime_type: "image/gif",
        codec: Codec::Image(ImageFormat::Gif),
    },
    ImageFormatSpec {
        name: "BMP",
        extensions: &["bmp"],
        mime_type: "image/bmp",
        codec: Codec::Image(ImageFormat::Bmp),
    },
    ImageFormatSpec {
        name: "TIFF",
        extensions: &["tif", "tiff"],
        mime_type: "image/tiff",
        codec: Codec::Image(ImageFormat::Tiff),
    },
    ImageFormatSpec {
        name: "HEIC",
        extensions: &["heic", "heif", "hif"],
        mime_type: "image/heic",
        codec: Codec::Heic,
    },
    ImageFormatSpec {
        name: "AVIF",
        extensions: &["avif"],
        mime_type: "image/avif",
        codec: Codec::Avif,
    },
];

/// Whether `ext` (without the dot, any case) is the extension of one of [`IMAGE_FORMATS`].
pub fn is_image_extension(ext: &str) -> bool {
    IMAGE_FORMATS
        .iter()
        .flat_map(|f| f.extensions)
        .any(|x| x.eq_ignore_ascii_case(ext))
}

/// Whether `path`'s extension claims an image ([`is_image_extension`]).
pub fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(is_image_extension)
}

/// The names of [`IMAGE_FORMATS`] joined by `separator`, e.g. `JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC, AVIF`.
pub fn format_names(separator: &str) -> String {
    IMAGE_FORMATS
        .iter()
        .map(|f| f.name)
        .collect::<Vec<_>>()
        .join(separator)
}

/// Refuses a picture of `width x height` past `max_pixels`, before any pixel of it is decoded; its
/// pixel count.
fn check_pixels(width: u32, height: u32, max_pixels: u64) -> Result<u64> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels > max_pixels {
        return Err(EmbedError::TooLarge {
            width,
            height,
            pixels,
            limit: max_pixels,
        });
    }
    Ok(pixels)
}

/// The format of `bytes`, recognised by content (HEIF and AVIF by their `ftyp` brands, [`heif::sniff`]),
/// if it is one of [`IMAGE_FORMATS`].
pub fn sniff_format(bytes: &[u8]) -> Option<&'static ImageFormatSpec> {
    let codec = match heif::sniff(bytes) {
        Some(codec) => codec,
        None => Codec::Image(image::guess_format(bytes).ok()?),
    };
    IMAGE_FORMATS.iter().find(|f| f.codec == codec)
}

/// Decodes `bytes` (one of [`IMAGE_FORMATS`], recognised by content), refusing images over `max_pixels`
/// before decoding their pixels and keeping the decoder within [`decoder_limits`], and applies the EXIF
/// orientation.
pub fn decode(bytes: &[u8], max_pixels: u64) -> Result<DynamicImage> {
    Ok(decode_sized(bytes, max_pixels, DecodeSize::Full)?.image)
}

/// How many pixels the reader of a decoded image needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DecodeSize {
    /// Every stored pixel.
    #[default]
    Full,
    /// At least this many pixels on the shorter side (the same whatever the orientation): JPEGs decode
    /// at the smallest DCT scale that still gives them.
    ShortSide(u32),
}

impl DecodeSize {
    /// The DCT scale denominator (1, 2, 4 or 8) a `width` x `height` JPEG decodes at for this size: the
    /// largest whose scaled shorter side (rounded up, as libjpeg does) is still at least the one asked.
    pub fn jpeg_denominator(self, width: u32, height: u32) -> u32 {
        let DecodeSize::ShortSide(side) = self else {
            return 1;
        };
        let short = width.min(height);
        [8, 4, 2]
            .into_iter()
            .find(|&d| short.div_ceil(d) >= side)
            .unwrap_or(1)
    }
}

/// An image decoded at a [`DecodeSize`]: its pixels (orientation applied) and the size it has in full.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The pixels, at the decoded scale.
    pub image: DynamicImage,
    /// Width of the whole image, orientation applied.
    pub full_width: u32,
    /// Height of the whole image, orientation applied.
    pub full_height: u32,
    /// The scale it was decoded at is `1 / denominator` (1 for a full decode).
    pub denominator: u32,
}

/// Decodes `bytes` as [`decode`] does, at the smallest size that satisfies `size` (see the module docs);
/// the limits apply to the full size, so a file refused in full is refused scaled.
pub fn decode_sized(bytes: &[u8], max_pixels: u64, size: DecodeSize) -> Result<Decoded> {
    if bytes.is_empty() {
        return Err(EmbedError::Decode {
            reason: "empty file".into(),
        });
    }
    let spec = sniff_format(bytes).ok_or_else(|| EmbedError::Decode {
        reason: format!("not a supported image ({})", format_names(", ")),
    })?;
    let format = match spec.codec {
        Codec::Image(format) => format,
        Codec::Heic | Codec::Avif => {
            let image = heif::decode(bytes, max_pixels)?;
            return Ok(Decoded {
                full_width: image.width(),
                full_height: image.height(),
                image,
                denominator: 1,
            });
        }
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(decoder_limits(max_pixels));
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| decode_error(e, max_pixels))?;
    let (width, height) = decoder.dimensions();
    check_pixels(width, height, max_pixels)?;
    if decoder.total_bytes() > alloc_limit(max_pixels) {
        return Err(EmbedError::Decode {
            reason: memory_limit_reason(max_pixels),
        });
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let denominator = size.jpeg_denominator(width, height);
    let scaled = if format == ImageFormat::Jpeg && denominator > 1 {
        // A JPEG libjpeg-turbo refuses (CMYK, a damaged stream it only warns about) takes the full
        // decode below, which reports what is wrong with it, or reads it.
        decode_jpeg_scaled(bytes, denominator).ok()
    } else {
        None
    };
    let (mut image, denominator) = match scaled {
        Some(image) => (image, denominator),
        None => (
            DynamicImage::from_decoder(decoder).map_err(|e| decode_error(e, max_pixels))?,
            1,
        ),
    };
    image.apply_orientation(orientation);
    let (full_width, full_height) = if oriented_sideways(orientation) {
        (height, width)
    } else {
        (width, height)
    };
    Ok(Decoded {
        image,
        full_width,
        full_height,
        denominator,
    })
}

/// Whether `orientation` turns the image by a quarter (its width becomes its height).
fn oriented_sideways(orientation: image::metadata::Orientation) -> bool {
    use image::metadata::Orientation::*;
    matches!(
        orientation,
        Rotate90 | Rotate270 | Rotate90FlipH | Rotate270FlipH
    )
}

/// Progressive scans libjpeg-turbo reads before giving up on a file (a crafted JPEG can hold thousands,
/// each a pass over the whole image).
const JPEG_SCAN_LIMIT: u32 = 500;

/// Decodes a JPEG at `1 / denominator` of its size, as RGB: at 1/8 by [`jpeg_eighth`] where it can
/// (libjpeg-turbo's pixels, in less time), otherwise with libjpeg-turbo.
fn decode_jpeg_scaled(bytes: &[u8], denominator: u32) -> std::result::Result<DynamicImage, String> {
    if denominator == 8 {
        if let Some(image) = jpeg_eighth::decode(bytes) {
            return Ok(DynamicImage::ImageRgb8(image));
        }
    }
    libjpeg_turbo_scaled(bytes, denominator).map(DynamicImage::ImageRgb8)
}

/// Decodes a JPEG at `1 / denominator` (1, 2, 4 or 8) of its size with libjpeg-turbo, as RGB; an error
/// where libjpeg-turbo fails or warns. (The reference [`jpeg_eighth`] is tested and measured against.)
pub fn libjpeg_turbo_scaled(
    bytes: &[u8],
    denominator: u32,
) -> std::result::Result<image::RgbImage, String> {
    let scale = turbojpeg::ScalingFactor::new(1, denominator as usize);
    let mut decompressor = turbojpeg::Decompressor::new().map_err(|e| e.to_string())?;
    decompressor
        .set_scan_limit(JPEG_SCAN_LIMIT)
        .map_err(|e| e.to_string())?;
    let header = decompressor
        .read_header(bytes)
        .map_err(|e| e.to_string())?
        .scaled(scale);
    decompressor
        .set_scaling_factor(scale)
        .map_err(|e| e.to_string())?;
    let mut out = turbojpeg::Image {
        pixels: vec![0u8; 3 * header.width * header.height],
        width: header.width,
        pitch: 3 * header.width,
        height: header.height,
        format: turbojpeg::PixelFormat::RGB,
    };
    decompressor
        .decompress(bytes, out.as_deref_mut())
        .map_err(|e| e.to_string())?;
    let width = u32::try_from(out.width).map_err(|e| e.to_string())?;
    let height = u32::try_from(out.height).map_err(|e| e.to_string())?;
    image::RgbImage::from_raw(width, height, out.pixels)
        .ok_or_else(|| "libjpeg-turbo returned a buffer of the wrong size".to_string())
}

/// Reads and decodes a file (see [`decode`]).
pub fn open(path: &Path, max_pixels: u64) -> Result<DynamicImage> {
    Ok(open_sized(path, max_pixels, DecodeSize::Full)?.image)
}

/// Reads and decodes a file at a size (see [`decode_sized`]).
pub fn open_sized(path: &Path, max_pixels: u64, size: DecodeSize) -> Result<Decoded> {
    let bytes = std::fs::read(path).map_err(|source| EmbedError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    decode_sized(&bytes, max_pixels, size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_are_recognised_in_any_case() {
        for ext in [
            "jpg", "JPEG", "jpe", "png", "WebP", "gif", "bmp", "tif", "TIFF", "heic", "HEIF",
            "hif", "avif",
        ] {
            assert!(is_image_extension(ext), "{ext}");
        }
        for ext in ["", "txt", "svg", ".jpg", "mp4", "mov"] {
            assert!(!is_image_extension(ext), "{ext}");
        }
        assert!(has_image_extension(Path::new("a/b.JPG")));
        assert!(!has_image_extension(Path::new("a/jpg")));
    }

    #[test]
    fn format_list_reads_as_before() {
        assert_eq!(
            format_names(", "),
            "JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC, AVIF"
        );
        let err = decode(b"hello, not an image", DEFAULT_MAX_PIXELS).unwrap_err();
        assert_eq!(
            err.to_string(),
            "could not decode image: not a supported image (JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC, AVIF)"
        );
    }

    #[test]
    fn every_format_is_sniffed_from_its_own_encoding() {
        let img = DynamicImage::new_rgb8(3, 2);
        for spec in IMAGE_FORMATS {
            let Codec::Image(format) = spec.codec else {
                // HEIF: sniffed by brand (heif's tests; the fixtures in the integration tests).
                continue;
            };
            let mut bytes = Vec::new();
            if img.write_to(&mut Cursor::new(&mut bytes), format).is_err() {
                // An encoder not compiled into `image` (the list is about reading).
                continue;
            }
            assert_eq!(sniff_format(&bytes), Some(spec), "{}", spec.name);
            assert_eq!(spec.mime_type, format.to_mime_type(), "{}", spec.name);
        }
    }
}
