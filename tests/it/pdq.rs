//! vsearch's PDQ against Meta's reference implementation (C++ `pdq/cpp`, through PyPI's `pdqhash`): the
//! reference hashes of the ukbench-14 photos, sample_images/ and edited copies are in
//! `tests/fixtures/pdq/reference.json` (made by `scripts/make_pdq_reference.py`). Each image is decoded
//! by vsearch's decoder and hashed by `vsearch_engine::pdq`; the Hamming distance to the reference must be
//! at most 10 bits on every image (the bound PDQ ports hold themselves to: JPEG decoders differ slightly)
//! and at most 2 on lossless inputs (PNG: both sides see the same pixels). The distribution is printed.

use std::collections::BTreeMap;
use std::path::Path;
use vsearch_engine::pdq::{pdq_of_image, PdqHash};

#[derive(serde::Deserialize)]
struct Reference {
    images: Vec<ReferenceImage>,
}

#[derive(serde::Deserialize)]
struct ReferenceImage {
    file: String,
    edit: Option<String>,
    lossless: bool,
    hash: String,
    quality: u8,
}

/// The same exact edit `scripts/make_pdq_reference.py` makes with Pillow.
fn edited(image: image::DynamicImage, edit: Option<&str>) -> image::DynamicImage {
    match edit {
        None => image,
        Some("rotate90") => image.rotate90(),
        Some("rotate180") => image.rotate180(),
        Some("flip_horizontal") => image.fliph(),
        Some("crop80") => {
            let (w, h) = (image.width(), image.height());
            image.crop_imm(w / 10, h / 10, w - 2 * (w / 10), h - 2 * (h / 10))
        }
        Some(other) => panic!("unknown edit {other} in the reference"),
    }
}

#[test]
fn pdq_agrees_with_metas_reference_implementation() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("tests/fixtures/pdq/reference.json"))
        .expect("tests/fixtures/pdq/reference.json (scripts/make_pdq_reference.py)");
    let reference: Reference = serde_json::from_str(&text).expect("reference parses");
    assert!(
        reference.images.len() > 150,
        "the reference covers the photos and their copies"
    );
    // Distance -> count, for lossy and lossless inputs.
    let mut lossy = BTreeMap::<u32, usize>::new();
    let mut lossless = BTreeMap::<u32, usize>::new();
    let mut failures = Vec::new();
    let mut worst_quality = 0i32;
    for r in &reference.images {
        let bytes = std::fs::read(root.join(&r.file)).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (the ukbench-14 photos are in ../shared/data)",
                r.file
            )
        });
        let image = vsearch_engine::image_io::decode(&bytes, 100_000_000).expect("decodes");
        let ours = pdq_of_image(&edited(image, r.edit.as_deref())).expect("hashable");
        let theirs = PdqHash::from_hex(&r.hash).expect("reference hash parses");
        let d = ours.hash.distance(&theirs);
        let bound = if r.lossless { 2 } else { 10 };
        *if r.lossless {
            &mut lossless
        } else {
            &mut lossy
        }
        .entry(d)
        .or_default() += 1;
        worst_quality = worst_quality.max((i32::from(ours.quality) - i32::from(r.quality)).abs());
        if d > bound {
            failures.push(format!(
                "{} {:?}: distance {d} > {bound} (ours {}, reference {})",
                r.file, r.edit, ours.hash, r.hash
            ));
        }
    }
    println!(
        "PDQ distance to Meta's reference, distance: images. Lossy (JPEG) inputs: {lossy:?}; \
         lossless (PNG) inputs: {lossless:?}; largest quality difference {worst_quality}"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(!lossless.is_empty() && !lossy.is_empty());
}

/// An index run hashes the decode it makes for the model: for a phone-sized JPEG that is a 1/8 DCT-scale
/// decode (504 x 378 of 4032 x 3024, still far above the 64 x 64 PDQ reads). Its hash stays within a few
/// bits of the full decode's (measured 2-10, median 4, on these six photos), far inside the matching
/// distance of 31. The distances are printed.
#[test]
fn pdq_of_a_scaled_decode_stays_near_the_full_decode() {
    use vsearch_engine::image_io::{self, DecodeSize};
    let dir = crate::common::ukbench();
    let mut distances = Vec::new();
    for i in 0..6 {
        let photo = image::open(dir.join(format!("ukbench{:05}.jpg", i * 9)))
            .expect("a ukbench photo")
            .resize_exact(4032, 3024, image::imageops::FilterType::CatmullRom);
        let mut bytes = Vec::new();
        photo
            .write_to(
                &mut std::io::Cursor::new(&mut bytes),
                image::ImageFormat::Jpeg,
            )
            .expect("encode a phone-sized JPEG");
        let hash = |size| {
            let decoded =
                image_io::decode_sized(&bytes, image_io::DEFAULT_MAX_PIXELS, size).expect("decode");
            (
                pdq_of_image(&decoded.image).expect("a PDQ hash").hash,
                decoded.denominator,
            )
        };
        let (full, _) = hash(DecodeSize::Full);
        let (scaled, denominator) = hash(DecodeSize::ShortSide(256));
        assert_eq!(denominator, 8);
        distances.push(full.distance(&scaled));
    }
    println!(
        "PDQ bits between a 1/8 decode and the full decode of 4032 x 3024 photos: {distances:?}"
    );
    assert!(
        distances.iter().all(|&d| d <= 12),
        "PDQ of the scaled decode is {distances:?} bits from the full decode's (at most 12)"
    );
}
