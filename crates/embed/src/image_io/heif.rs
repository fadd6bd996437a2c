//! HEIC/HEIF and AVIF: recognised by the brands of their ISO-BMFF `ftyp` box, decoded by libheif (the
//! system's, through `libheif-rs`; HEVC by libde265, AV1 by dav1d or libaom).
//!
//! **Orientation.** A HEIF file says how to turn its stored pixels upright with the container's
//! transforms (`irot`, `imir`, and a crop, `clap`), which libheif applies while decoding. Phones also keep
//! the EXIF orientation tag of the capture in the file, saying the same turn again: that tag describes the
//! stored pixels before the container's transforms, so it is **not** applied (HEIF, ISO/IEC 23008-12: the
//! transformative properties are authoritative; libheif's own tools read it so too).
//!
//! **Size.** HEVC and AV1 frames have no reduced-scale decode like a JPEG's DCT scaling, so an image is
//! decoded in full and its reader resizes it, as for PNG. (The small thumbnail a HEIC may carry is an
//! encoder's choice of size and quality, and not used.)

use super::Codec;
use crate::error::{EmbedError, Result};
use image::{DynamicImage, RgbImage};
use libheif_rs::{ColorSpace, HeifContext, RgbChroma};

/// The `ftyp` brands of the two codecs libheif decodes here: HEVC ([`HEIC_BRANDS`]) and AV1
/// ([`AVIF_BRANDS`]); [`sniff`] says how a file's brands are read.
pub const HEIC_BRANDS: &[[u8; 4]] = &[
    *b"heic", *b"heix", *b"hevc", *b"hevx", *b"heim", *b"heis", *b"hevm", *b"hevs",
];

/// AV1 still images (`avif`) and image sequences (`avis`).
pub const AVIF_BRANDS: &[[u8; 4]] = &[*b"avif", *b"avis"];

/// Brands of the HEIF structure that name no codec (`mif1` images, `msf1` sequences): a file with only
/// these is a HEIF whose codec libheif finds from the image items.
pub const GENERIC_HEIF_BRANDS: &[[u8; 4]] = &[*b"mif1", *b"msf1"];

/// The brands of an ISO-BMFF file's `ftyp` box, major brand first, or `None` when `bytes` do not start
/// with one.
pub fn ftyp_brands(bytes: &[u8]) -> Option<Vec<[u8; 4]>> {
    let size = u32::from_be_bytes(bytes.get(0..4)?.try_into().ok()?) as usize;
    if bytes.get(4..8)? != b"ftyp" || size < 16 || size > bytes.len() {
        return None;
    }
    // major brand (8..12), minor version (12..16), compatible brands (16..size).
    let brand = |at: usize| -> Option<[u8; 4]> { bytes.get(at..at + 4)?.try_into().ok() };
    let mut brands = vec![brand(8)?];
    brands.extend((16..size).step_by(4).filter_map(brand));
    Some(brands)
}

/// The codec a HEIF file's brands name ([`Codec::Heic`] or [`Codec::Avif`]), or `None` when `bytes` are
/// not a HEIF file. The first brand (major, then compatible ones) that names a codec decides; a file whose
/// brands name none but are HEIF's generic ones ([`GENERIC_HEIF_BRANDS`]) counts as HEIC, the common case.
pub fn sniff(bytes: &[u8]) -> Option<Codec> {
    let brands = ftyp_brands(bytes)?;
    brands
        .iter()
        .find_map(|b| {
            if AVIF_BRANDS.contains(b) {
                Some(Codec::Avif)
            } else if HEIC_BRANDS.contains(b) {
                Some(Codec::Heic)
            } else {
                None
            }
        })
        .or_else(|| {
            brands
                .iter()
                .any(|b| GENERIC_HEIF_BRANDS.contains(b))
                .then_some(Codec::Heic)
        })
}

/// Decodes a HEIF or AVIF file's primary image to 8-bit RGB, its container's transforms applied (see the
/// module docs), refusing an image of more than `max_pixels` before decoding its pixels.
pub fn decode(bytes: &[u8], max_pixels: u64) -> Result<DynamicImage> {
    let error = |e: libheif_rs::HeifError| EmbedError::Decode {
        reason: format!("HEIF: {}", heif_reason(&e)),
    };
    let context = HeifContext::read_from_bytes(bytes).map_err(error)?;
    let handle = context.primary_image_handle().map_err(error)?;
    // The size after the container's transforms, from the item's properties: known before decoding.
    let (width, height) = (handle.width(), handle.height());
    let pixels = super::check_pixels(width, height, max_pixels)?;
    if pixels == 0 {
        return Err(EmbedError::Decode {
            reason: "HEIF: the image has no pixels".into(),
        });
    }
    let decoded = handle
        .decode(ColorSpace::Rgb(RgbChroma::Rgb), None)
        .map_err(error)?;
    let (out_width, out_height) = (decoded.width(), decoded.height());
    // A coded image larger than its declared size would slip past the limit above.
    if u64::from(out_width) * u64::from(out_height) > pixels {
        return Err(EmbedError::Decode {
            reason: format!(
                "HEIF: the coded image ({out_width}x{out_height}) is larger than the file \
                 declares ({width}x{height})"
            ),
        });
    }
    let plane = decoded
        .planes()
        .interleaved
        .ok_or_else(|| EmbedError::Decode {
            reason: "HEIF: libheif returned no interleaved RGB plane".into(),
        })?;
    let row = 3 * plane.width as usize;
    if plane.storage_bits_per_pixel != 24 || plane.stride < row {
        return Err(EmbedError::Decode {
            reason: format!(
                "HEIF: libheif returned {} bits a pixel, stride {} for {} pixels a row",
                plane.storage_bits_per_pixel, plane.stride, plane.width
            ),
        });
    }
    let mut rgb = Vec::with_capacity(row * plane.height as usize);
    for line in plane.data.chunks(plane.stride).take(plane.height as usize) {
        rgb.extend_from_slice(line.get(..row).ok_or_else(|| EmbedError::Decode {
            reason: "HEIF: libheif returned a short row".into(),
        })?);
    }
    RgbImage::from_raw(plane.width, plane.height, rgb)
        .map(DynamicImage::ImageRgb8)
        .ok_or_else(|| EmbedError::Decode {
            reason: "HEIF: libheif returned a buffer of the wrong size".into(),
        })
}

/// libheif's message, or its error code when the message is empty.
fn heif_reason(e: &libheif_rs::HeifError) -> String {
    if e.message.is_empty() {
        format!("{:?} ({:?})", e.code, e.sub_code)
    } else {
        e.message.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ftyp(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
        let size = 16 + 4 * compatible.len() as u32;
        let mut b = size.to_be_bytes().to_vec();
        b.extend_from_slice(b"ftyp");
        b.extend_from_slice(major);
        b.extend_from_slice(&[0; 4]);
        for c in compatible {
            b.extend_from_slice(*c);
        }
        b.extend_from_slice(b"\0\0\0\x08meta");
        b
    }

    #[test]
    fn brands_are_read_major_first() {
        let bytes = ftyp(b"heic", &[b"mif1", b"heic", b"miaf"]);
        assert_eq!(
            ftyp_brands(&bytes).unwrap(),
            vec![*b"heic", *b"mif1", *b"heic", *b"miaf"]
        );
        assert_eq!(
            ftyp_brands(b"\0\0\0\x10ftypheic"),
            None,
            "box longer than the file"
        );
        assert_eq!(ftyp_brands(b"\0\0\0\x10moovheic\0\0\0\0"), None);
        assert_eq!(ftyp_brands(b"\xff\xd8\xff"), None);
    }

    #[test]
    fn a_codec_brand_decides_before_the_generic_ones() {
        let sniffed = |major, compatible: &[&[u8; 4]]| sniff(&ftyp(major, compatible));
        assert_eq!(sniffed(b"avif", &[b"mif1", b"miaf"]), Some(Codec::Avif));
        assert_eq!(sniffed(b"heic", &[b"mif1", b"heic"]), Some(Codec::Heic));
        assert_eq!(sniffed(b"mif1", &[b"miaf", b"avif"]), Some(Codec::Avif));
        assert_eq!(sniffed(b"msf1", &[b"hevc"]), Some(Codec::Heic));
        assert_eq!(sniffed(b"mif1", &[b"miaf"]), Some(Codec::Heic));
        assert_eq!(sniffed(b"isom", &[b"mp41", b"avc1"]), None, "an MP4 video");
        assert_eq!(sniffed(b"qt  ", &[]), None, "a QuickTime movie");
    }
}
