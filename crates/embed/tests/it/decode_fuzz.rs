//! Bounded fuzzing of the path the indexer runs on every file: [`image_io::decode`] (limits, EXIF
//! orientation) then each model's preprocessing (EfficientNet-Lite0's and CLIP's), over mutated copies of
//! real photos in every format of [`image_io::IMAGE_FORMATS`]. Whatever the bytes, the answer must be a
//! `Result`: a panic fails the test (proptest shrinks it to a small reproducer).
//!
//! Seeds: photos from `../shared/data/ukbench-14` (JPEG) and `sample_images/` (PNG), one full size of
//! each, plus small re-encodings in every format the `image` crate writes, some with an EXIF orientation,
//! and the HEIC and AVIF fixtures of `tests/fixtures/heif/` (`scripts/make_heif_fixtures.py`), one with
//! container transforms and an EXIF orientation. Cases: 3000 by default
//! (two thirds random byte mutations, one third header lies), or `PROPTEST_CASES` in all;
//! `PROPTEST_RNG_SEED` replays a run.

use image::{DynamicImage, ImageEncoder, ImageFormat};
use proptest::prelude::*;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use vsearch_embed::efficientnet::{self, INPUT_SIZE};
use vsearch_embed::image_io::{self, Codec, IMAGE_FORMATS};
use vsearch_embed::preprocess::{self, ClipRecipe};

/// The pixel limit of the fuzzed decodes: lower than the indexer's default so that a header lie just
/// under it stays cheap, high enough for every seed.
const MAX_PIXELS: u64 = 4_000_000;

/// Cases of both fuzz tests together, unless `PROPTEST_CASES` says otherwise.
const DEFAULT_CASES: u32 = 3000;

fn total_cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases.max(1),
        // A shrunk reproducer is what we want from a failure; keep it bounded.
        max_shrink_iters: 2000,
        ..ProptestConfig::default()
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One seed file: its bytes and its format.
struct Seed {
    name: String,
    format: Codec,
    bytes: Vec<u8>,
    /// Its decoded size, upright (after the EXIF orientation).
    size: (u32, u32),
}

/// A raw EXIF chunk (little-endian TIFF structure) with one entry: orientation `value`.
fn exif_orientation(value: u16) -> Vec<u8> {
    let mut exif = b"II*\0".to_vec();
    exif.extend_from_slice(&8u32.to_le_bytes());
    exif.extend_from_slice(&1u16.to_le_bytes());
    exif.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
    exif.extend_from_slice(&3u16.to_le_bytes()); // SHORT
    exif.extend_from_slice(&1u32.to_le_bytes());
    exif.extend_from_slice(&value.to_le_bytes());
    exif.extend_from_slice(&[0, 0]);
    exif.extend_from_slice(&0u32.to_le_bytes());
    exif
}

/// `img` encoded as `format`, with `exif` when the encoder takes it.
fn encode(img: &DynamicImage, format: ImageFormat, exif: Option<Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    let rgb = img.to_rgb8();
    let (w, h) = rgb.dimensions();
    let color = image::ExtendedColorType::Rgb8;
    let cursor = Cursor::new(&mut out);
    let written = match format {
        ImageFormat::Jpeg => {
            let mut e = image::codecs::jpeg::JpegEncoder::new_with_quality(cursor, 85);
            if let Some(x) = exif {
                e.set_exif_metadata(x).expect("JPEG takes EXIF");
            }
            e.write_image(rgb.as_raw(), w, h, color)
        }
        ImageFormat::Png => {
            let mut e = image::codecs::png::PngEncoder::new(cursor);
            if let Some(x) = exif {
                e.set_exif_metadata(x).expect("PNG takes EXIF");
            }
            e.write_image(rgb.as_raw(), w, h, color)
        }
        ImageFormat::WebP => {
            let mut e = image::codecs::webp::WebPEncoder::new_lossless(cursor);
            if let Some(x) = exif {
                e.set_exif_metadata(x).expect("WebP takes EXIF");
            }
            e.write_image(rgb.as_raw(), w, h, color)
        }
        other => DynamicImage::ImageRgb8(rgb).write_to(&mut Cursor::new(&mut out), other),
    };
    written.unwrap_or_else(|e| panic!("encode {format:?}: {e}"));
    out
}

/// The seed corpus (built once per test binary).
fn seeds() -> &'static [Seed] {
    static SEEDS: OnceLock<Vec<Seed>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let root = repo_root();
        let photos = [
            root.join("../shared/data/ukbench-14/ukbench00000.jpg"),
            root.join("../shared/data/ukbench-14/ukbench00013.jpg"),
            root.join("sample_images/coins.png"),
            root.join("sample_images/clock_motion.png"),
        ];
        let mut seeds = Vec::new();
        for (i, path) in photos.iter().enumerate() {
            let bytes = std::fs::read(path)
                .unwrap_or_else(|e| panic!("seed photo {} is missing: {e}", path.display()));
            let img = image_io::decode(&bytes, MAX_PIXELS).expect("a seed photo decodes");
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .to_string();
            seeds.push(Seed {
                name: name.clone(),
                format: image_io::sniff_format(&bytes)
                    .expect("a seed photo is an image")
                    .codec,
                size: (img.width(), img.height()),
                bytes,
            });
            // Small copies in every format, cheap to decode; odd sizes, some portrait, some with an
            // EXIF orientation (rotate 90).
            let (w, h) = if i % 2 == 0 { (61, 45) } else { (40, 72) };
            let small = img.resize_exact(w, h, image::imageops::FilterType::Triangle);
            for spec in IMAGE_FORMATS {
                // HEIF and AVIF have no encoder here: their seeds are the fixtures below.
                let Codec::Image(format) = spec.codec else {
                    continue;
                };
                let takes_exif = matches!(
                    format,
                    ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP
                );
                let rotated = i % 2 == 1 && takes_exif;
                seeds.push(Seed {
                    name: format!("{name} as small {}", spec.name),
                    format: spec.codec,
                    bytes: encode(&small, format, rotated.then(|| exif_orientation(6))),
                    size: if rotated { (h, w) } else { (w, h) },
                });
            }
        }
        // Upright sizes: squirrel_cls.jpg is 535x426; messi5.jpg is 548x342, stored turned a quarter.
        for (file, codec, size) in [
            ("squirrel.heic", Codec::Heic, (535, 426)),
            ("butterfly.avif", Codec::Avif, (493, 356)),
            ("messi_rotated.heic", Codec::Heic, (548, 342)),
        ] {
            let path = root.join("tests/fixtures/heif").join(file);
            seeds.push(Seed {
                name: file.to_string(),
                format: codec,
                bytes: std::fs::read(&path)
                    .unwrap_or_else(|e| panic!("seed {} is missing: {e}", path.display())),
                size,
            });
        }
        // Every seed goes through the path intact (a broken corpus would make the fuzzing meaningless).
        for seed in &seeds {
            let out = decode_and_preprocess(&seed.bytes)
                .unwrap_or_else(|e| panic!("seed {} does not decode: {e}", seed.name));
            assert_eq!(
                image_io::sniff_format(&seed.bytes).map(|s| s.codec),
                Some(seed.format)
            );
            assert_eq!(out, seed.size, "{}", seed.name);
        }
        seeds
    })
}

/// What the indexer does with a file's bytes: decode with limits and EXIF orientation, then both models'
/// preprocessing; the decoded size, or the first error.
fn decode_and_preprocess(bytes: &[u8]) -> vsearch_embed::Result<(u32, u32)> {
    // The indexer's scaled decode (libjpeg-turbo for a JPEG) takes every input too: it fails cleanly, or
    // agrees with the full decode on the image's size.
    let scaled = image_io::decode_sized(bytes, MAX_PIXELS, image_io::DecodeSize::ShortSide(16));
    let img = image_io::decode(bytes, MAX_PIXELS)?;
    let (w, h) = (img.width(), img.height());
    if let Ok(scaled) = &scaled {
        assert_eq!(
            (scaled.full_width, scaled.full_height),
            (w, h),
            "scaled decode's full size"
        );
    }
    assert!(
        u64::from(w) * u64::from(h) <= MAX_PIXELS,
        "decoded {w}x{h}, over the limit"
    );
    let side = INPUT_SIZE as usize;
    let lite0 = efficientnet::preprocess_image(&img)?;
    assert_eq!((lite0.width, lite0.height), (side, side));
    assert_eq!(lite0.data.len(), 3 * side * side);
    let recipe = ClipRecipe::default();
    let clip = preprocess::clip(&img, &recipe)?;
    assert_eq!((clip.height as u32, clip.width as u32), recipe.crop);
    assert!(clip.data.iter().all(|v| v.is_finite()));
    Ok((w, h))
}

/// Recomputes the CRC of every whole chunk of a PNG, so that a mutation reaches the decoder's later
/// stages instead of stopping at the checksum.
fn fix_png_crcs(bytes: &mut [u8]) {
    let mut at = 8;
    while let Some(len) = bytes
        .get(at..at + 4)
        .map(|x| u32::from_be_bytes([x[0], x[1], x[2], x[3]]) as usize)
    {
        let Some(body_end) = (at + 8).checked_add(len) else {
            return;
        };
        if body_end + 4 > bytes.len() {
            return;
        }
        let crc = crc32fast::hash(&bytes[at + 4..body_end]);
        bytes[body_end..body_end + 4].copy_from_slice(&crc.to_be_bytes());
        at = body_end + 4;
    }
}

/// One change to a file's bytes; positions are fractions of the length at the time it applies.
#[derive(Debug, Clone)]
enum Mutation {
    FlipBit {
        at: f64,
        bit: u8,
    },
    Overwrite {
        at: f64,
        bytes: Vec<u8>,
    },
    Truncate {
        keep: f64,
    },
    Insert {
        at: f64,
        junk: Vec<u8>,
    },
    Remove {
        at: f64,
        len: usize,
    },
    /// A byte of the first 64 (where headers live) set to an extreme.
    HeaderByte {
        index: usize,
        value: u8,
    },
}

fn position(at: f64, len: usize) -> usize {
    ((at * len as f64) as usize).min(len.saturating_sub(1))
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    let len = bytes.len();
    match m {
        Mutation::FlipBit { at, bit } => bytes[position(*at, len)] ^= 1 << (bit % 8),
        Mutation::Overwrite { at, bytes: new } => {
            let start = position(*at, len);
            for (b, n) in bytes[start..].iter_mut().zip(new) {
                *b = *n;
            }
        }
        Mutation::Truncate { keep } => bytes.truncate(position(*keep, len)),
        Mutation::Insert { at, junk } => {
            let start = position(*at, len);
            bytes.splice(start..start, junk.iter().copied());
        }
        Mutation::Remove { at, len: n } => {
            let start = position(*at, len);
            let end = (start + n).min(len);
            bytes.drain(start..end);
        }
        Mutation::HeaderByte { index, value } => {
            if *index < len {
                bytes[*index] = *value;
            }
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (0.0..1.0f64, any::<u8>()).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        2 => (0.0..1.0f64, prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Mutation::Overwrite { at, bytes }),
        2 => (0.0..1.0f64).prop_map(|keep| Mutation::Truncate { keep }),
        1 => (0.0..1.0f64, prop::collection::vec(any::<u8>(), 1..64))
            .prop_map(|(at, junk)| Mutation::Insert { at, junk }),
        1 => (0.0..1.0f64, 1..64usize).prop_map(|(at, len)| Mutation::Remove { at, len }),
        2 => (0..64usize, prop_oneof![Just(0u8), Just(0xFF), Just(0x7F), Just(0x80), any::<u8>()])
            .prop_map(|(index, value)| Mutation::HeaderByte { index, value }),
    ]
}

/// Claimed sizes for header lies: zero, one, around the limit, 16-bit and 32-bit extremes.
fn claimed_side() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0u32),
        Just(1),
        Just(2),
        Just(2000),
        Just(2001),
        Just(16_383),
        Just(16_384),
        Just(65_535),
        Just(65_536),
        Just(100_000),
        Just(1 << 24),
        Just(i32::MAX as u32),
        Just(u32::MAX),
        1..5000u32,
    ]
}

/// Where `needle` starts in `bytes`, every place.
fn find_all(bytes: &[u8], needle: &[u8]) -> Vec<usize> {
    bytes
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

/// Rewrites the width and height a file's header claims (where the format keeps them at a known place),
/// leaving the pixel data as it is.
fn lie_about_size(bytes: &mut [u8], format: Codec, width: u32, height: u32) {
    let put = |bytes: &mut [u8], at: usize, value: &[u8]| {
        if let Some(dst) = bytes.get_mut(at..at + value.len()) {
            dst.copy_from_slice(value);
        }
    };
    let Codec::Image(format) = format else {
        // HEIF: every image spatial extents box (`ispe`: version and flags, then width and height).
        let boxes: Vec<usize> = find_all(bytes, b"ispe");
        for at in boxes {
            put(bytes, at + 8, &width.to_be_bytes());
            put(bytes, at + 12, &height.to_be_bytes());
        }
        return;
    };
    match format {
        ImageFormat::Png => {
            put(bytes, 16, &width.to_be_bytes());
            put(bytes, 20, &height.to_be_bytes());
            fix_png_crcs(bytes);
        }
        ImageFormat::Gif => {
            // Logical screen, then the first image descriptor when it comes straight after.
            put(bytes, 6, &(width as u16).to_le_bytes());
            put(bytes, 8, &(height as u16).to_le_bytes());
            if let Some(desc) = bytes.iter().position(|&b| b == 0x2C) {
                put(bytes, desc + 5, &(width as u16).to_le_bytes());
                put(bytes, desc + 7, &(height as u16).to_le_bytes());
            }
        }
        ImageFormat::Bmp => {
            put(bytes, 18, &width.to_le_bytes());
            put(bytes, 22, &height.to_le_bytes());
        }
        ImageFormat::Jpeg => {
            // Every start-of-frame marker: FF C0..C3, then length, precision, height, width.
            let sofs: Vec<usize> = bytes
                .windows(2)
                .enumerate()
                .filter(|(_, w)| w[0] == 0xFF && (0xC0..=0xC3).contains(&w[1]))
                .map(|(i, _)| i)
                .collect();
            for at in sofs {
                put(bytes, at + 5, &(height as u16).to_be_bytes());
                put(bytes, at + 7, &(width as u16).to_be_bytes());
            }
        }
        ImageFormat::WebP => {
            // Lossless: signature 0x2F at 20, then 14 bits width-1, 14 bits height-1.
            if bytes.get(12..16) == Some(b"VP8L") {
                let packed = (width.wrapping_sub(1) & 0x3FFF)
                    | ((height.wrapping_sub(1) & 0x3FFF) << 14)
                    | (u32::from(bytes.get(24).copied().unwrap_or(0) & 0xF0) << 24);
                put(bytes, 21, &packed.to_le_bytes());
            }
            // Extended: canvas width-1 and height-1, 24 bits each.
            if bytes.get(12..16) == Some(b"VP8X") {
                put(bytes, 24, &width.wrapping_sub(1).to_le_bytes()[..3]);
                put(bytes, 27, &height.wrapping_sub(1).to_le_bytes()[..3]);
            }
        }
        ImageFormat::Tiff => {
            // Little-endian TIFF: patch ImageWidth (256) and ImageLength (257) in the first IFD.
            if bytes.get(0..4) != Some(b"II*\0") {
                return;
            }
            let u32_at = |b: &[u8], at: usize| {
                b.get(at..at + 4)
                    .map(|x| u32::from_le_bytes([x[0], x[1], x[2], x[3]]))
            };
            let Some(ifd) = u32_at(bytes, 4).map(|v| v as usize) else {
                return;
            };
            let Some(count) = bytes
                .get(ifd..ifd + 2)
                .map(|x| u16::from_le_bytes([x[0], x[1]]) as usize)
            else {
                return;
            };
            for e in 0..count {
                let at = ifd + 2 + 12 * e;
                let Some(entry) = bytes.get(at..at + 12) else {
                    return;
                };
                let tag = u16::from_le_bytes([entry[0], entry[1]]);
                let kind = u16::from_le_bytes([entry[2], entry[3]]);
                let value = match tag {
                    256 => width,
                    257 => height,
                    _ => continue,
                };
                match kind {
                    3 => put(bytes, at + 8, &(value as u16).to_le_bytes()),
                    4 => put(bytes, at + 8, &value.to_le_bytes()),
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(config(total_cases() * 2 / 3))]

    /// Random byte mutations of any seed: decoding and preprocessing return a `Result`, never panic.
    #[test]
    fn mutated_images_never_panic(
        seed in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..5),
        fix_crcs in any::<bool>(),
    ) {
        let seed = seed.get(seeds());
        let mut bytes = seed.bytes.clone();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        if fix_crcs && seed.format == Codec::Image(ImageFormat::Png) {
            fix_png_crcs(&mut bytes);
        }
        let _ = decode_and_preprocess(&bytes);
    }
}

proptest! {
    #![proptest_config(config(total_cases() / 3))]

    /// Headers that lie about the size (huge, zero, one-pixel-thin), sometimes with the data cut short:
    /// refused with an error, or decoded within the limit.
    #[test]
    fn header_lies_never_panic(
        seed in any::<prop::sample::Index>(),
        width in claimed_side(),
        height in claimed_side(),
        keep in prop_oneof![Just(1.0f64), 0.1..1.0f64],
    ) {
        let seed = seed.get(seeds());
        let mut bytes = seed.bytes.clone();
        lie_about_size(&mut bytes, seed.format, width, height);
        apply(&mut bytes, &Mutation::Truncate { keep });
        if let Err(e) = decode_and_preprocess(&bytes) {
            let message = e.to_string();
            prop_assert!(!message.is_empty());
        }
    }
}

/// A header claiming a side over the limit is refused with the limit and the setting that raises it.
#[test]
fn a_lying_header_is_refused_with_the_limit_named() {
    let seed = seeds()
        .iter()
        .find(|s| s.format == Codec::Image(ImageFormat::Png) && s.name.contains("as small"))
        .expect("a small PNG seed");
    let mut bytes = seed.bytes.clone();
    lie_about_size(&mut bytes, seed.format, 3, 2 * MAX_PIXELS as u32);
    let message = image_io::decode(&bytes, MAX_PIXELS)
        .expect_err("refused")
        .to_string();
    assert!(
        message.contains("over the limit") && message.contains("--max-pixels"),
        "{message}"
    );
}
