//! Every pixel against libjpeg-turbo's, on photos, synthetic JPEGs, restart markers and damaged streams;
//! the skip table's entries.

use super::huffman::{Huffman, LOOKAHEAD};
use super::*;
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// libjpeg-turbo's decode at 1/8, as RGB; `None` where it fails or warns.
fn libjpeg_turbo(bytes: &[u8]) -> Option<RgbImage> {
    super::super::libjpeg_turbo_scaled(bytes, 8).ok()
}

/// Decodes `bytes` both ways and asserts the same pixels.
fn assert_as_libjpeg_turbo(name: &str, bytes: &[u8]) {
    let ours = decode(bytes).unwrap_or_else(|| panic!("{name}: not decoded"));
    let theirs = libjpeg_turbo(bytes).unwrap_or_else(|| panic!("{name}: libjpeg-turbo failed"));
    assert_eq!(ours.dimensions(), theirs.dimensions(), "{name}");
    let differ = ours
        .as_raw()
        .iter()
        .zip(theirs.as_raw())
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(
        differ,
        0,
        "{name}: {differ} of {} bytes differ",
        ours.as_raw().len()
    );
}

fn jpegs_in(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    paths.sort();
    paths
}

#[test]
fn photos_decode_to_libjpeg_turbos_pixels() {
    // The sample photos: 4:2:0 (chroma through the 2x2 inverse DCT), 4:2:2 and 4:4:4, odd sizes.
    let paths = jpegs_in(&workspace().join("sample_images"));
    assert!(paths.len() >= 20, "{} sample JPEGs", paths.len());
    for path in paths {
        assert_as_libjpeg_turbo(&path.display().to_string(), &std::fs::read(&path).unwrap());
    }
}

#[test]
fn restart_markers_and_grayscale_decode_to_libjpeg_turbos_pixels() {
    let dir = workspace().join("tests/fixtures/jpeg");
    for name in [
        "restart-420.jpg",
        "restart-444-rows.jpg",
        "restart-gray.jpg",
    ] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        assert!(
            bytes.windows(2).any(|w| w == [0xFF, 0xD1]),
            "{name} has restart markers"
        );
        assert_as_libjpeg_turbo(name, &bytes);
    }
    // Progressive: left to libjpeg-turbo.
    assert!(decode(&std::fs::read(dir.join("progressive.jpg")).unwrap()).is_none());
}

/// A deterministic image with edges, gradients and noise, so every coefficient size occurs.
fn synthetic(width: usize, height: usize, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).max(1);
    let mut pixels = Vec::with_capacity(3 * width * height);
    for y in 0..height {
        for x in 0..width {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let noise = (state % 64) as usize;
            let edge = if (x / 5 + y / 3) % 2 == 0 { 200 } else { 20 };
            pixels.push(((x * 255 / width.max(1) + noise) % 256) as u8);
            pixels.push(((edge + noise / 2) % 256) as u8);
            pixels.push(((y * 255 / height.max(1) + 2 * noise) % 256) as u8);
        }
    }
    pixels
}

#[test]
fn every_subsampling_size_and_quality_decodes_to_libjpeg_turbos_pixels() {
    use turbojpeg::Subsamp;
    let sizes = [(1, 1), (7, 9), (8, 8), (17, 33), (100, 75), (257, 129)];
    let subsamplings = [
        Subsamp::None,
        Subsamp::Sub2x1,
        Subsamp::Sub2x2,
        Subsamp::Gray,
        Subsamp::Sub1x2,
        Subsamp::Sub4x1,
    ];
    for (i, &(width, height)) in sizes.iter().enumerate() {
        let pixels = synthetic(width, height, i as u32 + 1);
        for subsampling in subsamplings {
            for quality in [30, 90, 100] {
                let image = turbojpeg::Image {
                    pixels: pixels.as_slice(),
                    width,
                    pitch: 3 * width,
                    height,
                    format: turbojpeg::PixelFormat::RGB,
                };
                let jpeg = turbojpeg::compress(image, quality, subsampling).unwrap();
                assert_as_libjpeg_turbo(
                    &format!("{width}x{height} {subsampling:?} q{quality}"),
                    &jpeg,
                );
            }
        }
    }
}

#[test]
fn a_damaged_stream_gives_libjpeg_turbos_pixels_or_none() {
    // Truncated anywhere, or a byte of the entropy-coded data changed: either this decoder declines
    // (and libjpeg-turbo takes the file) or the stream still decodes cleanly and both agree.
    let bytes = std::fs::read(workspace().join("sample_images/baboon.jpg")).unwrap();
    let scan = bytes.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap() + 20;
    let mut declined = 0;
    for cut in (scan..bytes.len()).step_by(bytes.len() / 40) {
        assert!(decode(&bytes[..cut]).is_none(), "truncated at {cut}");
    }
    let mut state = 7u32;
    for _ in 0..60 {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let at = scan + (state as usize >> 8) % (bytes.len() - scan - 2);
        let mut damaged = bytes.clone();
        damaged[at] ^= 1 << (state % 8);
        match decode(&damaged) {
            None => declined += 1,
            Some(ours) => {
                let theirs =
                    libjpeg_turbo(&damaged).expect("decoded here, refused by libjpeg-turbo");
                assert_eq!(ours.as_raw(), theirs.as_raw(), "byte {at} changed");
            }
        }
    }
    assert!(declined > 0, "some damage is noticed");
}

#[test]
fn skip_entries_take_several_coefficients_and_stop_at_the_end_of_block() {
    // The standard luminance AC table (JPEG Annex K.3.3.2): EOB is 1010, 0x01 is 00, 0x02 is 01.
    let counts = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
    let mut symbols = vec![
        0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61,
        0x07,
    ];
    symbols.resize(162, 0x22);
    symbols.truncate(counts.iter().map(|&c| usize::from(c)).sum());
    let table = Huffman::new(&counts, &symbols, false).unwrap();
    // "00 1" (0x01: code 00, one magnitude bit), "01 10" (0x02), "1010" (EOB), then 0 padding.
    let prefix = 0b001_0110_1010 << (LOOKAHEAD - 11);
    let entry = table.skip[prefix];
    assert_eq!(entry.bits(), 11, "bits of all three");
    assert_eq!(entry.advance(), 2, "two coefficients");
    assert!(entry.ends(), "ends the block");
    assert_eq!(entry.before_last(), 2, "the ones before the last move two");
    let first = entry.first();
    assert_eq!(
        (
            first.bits(),
            first.advance(),
            first.ends(),
            first.before_last()
        ),
        (3, 1, false, 0),
        "the first alone"
    );
}

#[test]
fn difference_entries_hold_a_whole_dc_difference() {
    // The standard luminance DC table (JPEG Annex K.3.3.1): sizes 0-5 have codes 00, 010, 011, 100,
    // 101, 110; size 11 has 111111110.
    let counts = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
    let symbols: Vec<u8> = (0..12).collect();
    let table = Huffman::new(&counts, &symbols, true).unwrap();
    // The entry for a code of `len` bits followed by `size` magnitude bits, as (bits, difference).
    let at = |code: usize, len: u32, magnitude: usize, size: u32| {
        let entry = table.differences[(code << size | magnitude) << (LOOKAHEAD - len - size)];
        (entry.bits(), entry.value())
    };
    // 011 then 01: size 2, a negative difference (1 - 3).
    assert_eq!(at(0b011, 3, 0b01, 2), (5, -2));
    // 100 then 111: size 3, 7.
    assert_eq!(at(0b100, 3, 0b111, 3), (6, 7));
    // 00: size 0, no magnitude.
    assert_eq!(at(0b00, 2, 0, 0), (2, 0));
    // 111111110 and 11 magnitude bits: more than the prefix, left to the slow way.
    assert_eq!(
        table.differences[0b1_1111_1110 << (LOOKAHEAD - 9)].bits(),
        0
    );
}
