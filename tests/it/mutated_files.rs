//! `vsearch index` over hundreds of mutated image files (JPEG, PNG, GIF, WebP, TIFF, BMP made from real
//! photos; lightly corrupted, truncated, with headers that lie about their size, with junk inserted, and
//! some intact): bad files are reported, not fatal; every file ends up indexed or failed; nothing crashes.
//!
//! The mutations come from a deterministic RNG whose seed is printed (`VSEARCH_MUTATION_SEED` replays one).
//! The Lite0 weights must be in the model cache (`vsearch models fetch efficientnet-lite0`).

use crate::common::{check_report, json, run_ok, sample_images, ukbench, vsearch, MODEL};
use image::{DynamicImage, ImageFormat};
use rand::{Rng, SeedableRng};
use std::io::Cursor;
use std::path::Path;

/// Files written (at least 500, per the reliability issue).
const FILES: usize = 540;

/// The default seed of the mutations.
const DEFAULT_SEED: u64 = 0x5EED_0013;

const FORMATS: [(ImageFormat, &str); 6] = [
    (ImageFormat::Jpeg, "jpg"),
    (ImageFormat::Png, "png"),
    (ImageFormat::Gif, "gif"),
    (ImageFormat::WebP, "webp"),
    (ImageFormat::Tiff, "tif"),
    (ImageFormat::Bmp, "bmp"),
];

/// Small re-encodings of a few real photos in every format: `(format, extension, bytes)`.
fn base_files() -> Vec<(ImageFormat, &'static str, Vec<u8>)> {
    let photos = [
        ukbench().join("ukbench00000.jpg"),
        ukbench().join("ukbench00021.jpg"),
        ukbench().join("ukbench00042.jpg"),
        sample_images().join("coins.png"),
        sample_images().join("smarties.png"),
    ];
    let mut out = Vec::new();
    for (i, path) in photos.iter().enumerate() {
        let img =
            image::open(path).unwrap_or_else(|e| panic!("seed photo {}: {e}", path.display()));
        let side = [96, 128, 160, 200, 256][i];
        let small = DynamicImage::ImageRgb8(img.thumbnail(side, side).to_rgb8());
        for (format, ext) in FORMATS {
            let mut bytes = Vec::new();
            small
                .write_to(&mut Cursor::new(&mut bytes), format)
                .unwrap_or_else(|e| panic!("encode {format:?}: {e}"));
            out.push((format, ext, bytes));
        }
    }
    out
}

/// Rewrites the size a header claims, where the format keeps it at a fixed place.
fn lie_about_size(bytes: &mut [u8], format: ImageFormat, width: u32, height: u32) {
    let mut put = |at: usize, value: &[u8]| {
        if let Some(dst) = bytes.get_mut(at..at + value.len()) {
            dst.copy_from_slice(value);
        }
    };
    match format {
        ImageFormat::Png => {
            // The IHDR CRC is left stale half of the time by the caller's choice of which lie; either way
            // the file must be refused.
            put(16, &width.to_be_bytes());
            put(20, &height.to_be_bytes());
        }
        ImageFormat::Gif => {
            put(6, &(width as u16).to_le_bytes());
            put(8, &(height as u16).to_le_bytes());
        }
        ImageFormat::Bmp => {
            put(18, &width.to_le_bytes());
            put(22, &height.to_le_bytes());
        }
        _ => {
            // JPEG, WebP, TIFF: the same bytes rewritten near the start, where their headers are.
            put(20, &width.to_be_bytes());
            put(24, &height.to_be_bytes());
        }
    }
}

/// One mutated copy of `base`: its kind (for the file name) and bytes.
fn mutate(rng: &mut impl Rng, format: ImageFormat, base: &[u8]) -> (&'static str, Vec<u8>) {
    let mut bytes = base.to_vec();
    let len = bytes.len();
    let kind = match rng.gen_range(0..100) {
        0..=9 => "intact",
        10..=29 => {
            for _ in 0..rng.gen_range(1..4) {
                let at = rng.gen_range(0..len);
                bytes[at] ^= 1 << rng.gen_range(0..8);
            }
            "bitflip"
        }
        30..=44 => {
            let at = rng.gen_range(0..len);
            for b in bytes.iter_mut().skip(at).take(rng.gen_range(1..32)) {
                *b = rng.gen();
            }
            "overwritten"
        }
        45..=69 => {
            bytes.truncate(rng.gen_range(0..len));
            "truncated"
        }
        70..=84 => {
            let (w, h) = [
                (65_535, 65_535),
                (100_000, 100_000),
                (u32::MAX, 1),
                (1, u32::MAX),
                (0, 0),
                (3000, 2000),
            ][rng.gen_range(0..6)];
            lie_about_size(&mut bytes, format, w, h);
            "header-lie"
        }
        85..=94 => {
            let at = rng.gen_range(0..len);
            let junk: Vec<u8> = (0..rng.gen_range(1..256)).map(|_| rng.gen()).collect();
            bytes.splice(at..at, junk);
            "junk"
        }
        _ => {
            // Nothing but the magic number.
            bytes.truncate(16.min(len));
            "magic-only"
        }
    };
    (kind, bytes)
}

#[test]
fn mutated_files_are_reported_and_the_run_succeeds() {
    let seed = std::env::var("VSEARCH_MUTATION_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    println!("mutation seed: {seed} (VSEARCH_MUTATION_SEED replays it)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let bases = base_files();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    for i in 0..FILES {
        let (format, ext, base) = &bases[i % bases.len()];
        let (kind, bytes) = mutate(&mut rng, *format, base);
        std::fs::write(root.join(format!("{i:04}-{kind}.{ext}")), bytes).expect("write");
    }

    let out = run_ok(
        vsearch()
            .arg("index")
            .arg(root)
            .args(["--model", MODEL, "--json"]),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("thread '") && !stderr.contains("RUST_BACKTRACE"),
        "a panic escaped:\n{stderr}"
    );
    let summary = json(&out);
    let indexed = summary["indexed"].as_u64().expect("indexed") as usize;
    let failed = summary["failed"].as_array().expect("failed");
    println!(
        "{indexed} indexed, {} failed, {} of them decoder panics",
        failed.len(),
        failed
            .iter()
            .filter(|f| f["reason"]
                .as_str()
                .is_some_and(|r| r.contains("decoder panicked")))
            .count()
    );
    assert_eq!(indexed + failed.len(), FILES, "{summary:#}");
    assert!(
        indexed >= FILES / 10,
        "the intact files at least: {summary:#}"
    );
    for f in failed {
        let path = f["path"].as_str().expect("path");
        assert!(
            !Path::new(path).to_string_lossy().contains("intact"),
            "an intact file failed: {f}"
        );
        assert!(!f["reason"].as_str().expect("reason").is_empty(), "{f}");
    }

    let report = check_report(root);
    assert_eq!(report["ok"].as_u64(), Some(indexed as u64), "{report:#}");
    assert_eq!(
        report["failed"].as_u64(),
        Some(failed.len() as u64),
        "{report:#}"
    );
}
