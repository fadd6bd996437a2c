//! The planted duplicate test set: 20 originals (12 ukbench-14 photos, four views each of three objects,
//! which are NOT copies of each other, and 8 photos of `sample_images/`) and 22 planted copies of 9 of
//! them (JPEG quality 40, 50% resize, 10% border crop, horizontal flip, a caption over 5% of the image, a
//! byte-identical file under another name), with the truth CSV of every pair (`path_a,path_b,is_copy`).
//! Used by `tests/it/dupes.rs` and by `cargo run --release --example make_dupes_set -- OUT_DIR`.
#![allow(dead_code)] // the example uses a part of it

use anyhow::{Context, Result};
use image::{DynamicImage, Rgb, RgbImage};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// An edit planted as a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// Re-encoded as JPEG at quality 40.
    Jpeg40,
    /// Resized to 50% on each side.
    Half,
    /// 10% cut off each border.
    Crop10,
    /// Mirrored left to right.
    Flip,
    /// A caption bar drawn over the bottom 5% of the image.
    Caption,
    /// The same bytes under another name.
    Identical,
}

impl Edit {
    /// Every edit.
    pub const ALL: [Edit; 6] = [
        Edit::Jpeg40,
        Edit::Half,
        Edit::Crop10,
        Edit::Flip,
        Edit::Caption,
        Edit::Identical,
    ];

    fn name(self) -> &'static str {
        match self {
            Edit::Jpeg40 => "q40",
            Edit::Half => "half",
            Edit::Crop10 => "crop10",
            Edit::Flip => "flip",
            Edit::Caption => "caption",
            Edit::Identical => "identical",
        }
    }
}

/// What [`make_dupes_set`] wrote (paths relative to the output folder).
#[derive(Debug, Clone, Default)]
pub struct DupesSet {
    /// The truth CSV (absolute path; outside the indexed folder's images).
    pub truth_csv: PathBuf,
    /// Every image written.
    pub images: Vec<String>,
    /// Each planted original and its copies.
    pub planted: Vec<(String, Vec<String>)>,
    /// Photos of one object that are not copies of each other (ukbench views).
    pub same_object: Vec<Vec<String>>,
}

/// The ukbench objects taken (all four views each).
const OBJECTS: [usize; 3] = [0, 1, 2];
/// The `sample_images/` photos taken.
const SAMPLES: [&str; 8] = [
    "chelsea.png",
    "coffee.png",
    "astronaut.png",
    "fruits.jpg",
    "baboon.jpg",
    "home.jpg",
    "messi5.jpg",
    "butterfly.jpg",
];

/// The originals given copies, and which edits.
fn plan() -> Vec<(&'static str, Vec<Edit>)> {
    use Edit::*;
    vec![
        ("ukbench00000.jpg", Edit::ALL.to_vec()),
        ("ukbench00004.jpg", vec![Jpeg40, Flip]),
        ("ukbench00009.jpg", vec![Crop10, Caption]),
        ("chelsea.png", vec![Half, Identical]),
        ("coffee.png", vec![Crop10, Flip]),
        ("fruits.jpg", vec![Caption, Jpeg40]),
        ("home.jpg", vec![Half, Crop10]),
        ("messi5.jpg", vec![Flip, Identical]),
        ("baboon.jpg", vec![Jpeg40, Half]),
    ]
}

/// Writes the test set into `out/` (originals under `originals/`, copies under `copies/`) and the
/// truth CSV to `truth_csv`, from the ukbench-14 folder and `sample_images/`.
pub fn make_dupes_set(
    ukbench: &Path,
    samples: &Path,
    out: &Path,
    truth_csv: &Path,
) -> Result<DupesSet> {
    let originals_dir = out.join("originals");
    let copies_dir = out.join("copies");
    for d in [&originals_dir, &copies_dir] {
        std::fs::create_dir_all(d).with_context(|| format!("create {}", d.display()))?;
    }
    let mut set = DupesSet {
        truth_csv: truth_csv.to_path_buf(),
        ..DupesSet::default()
    };
    // Originals are a day older than the copies, so each group keeps its original on a tie of pixels.
    let day_ago = SystemTime::now() - Duration::from_secs(86_400);
    let mut sources: Vec<(String, PathBuf)> = Vec::new();
    for object in OBJECTS {
        let mut views = Vec::new();
        for view in 0..4 {
            let name = format!("ukbench{:05}.jpg", object * 4 + view);
            sources.push((name.clone(), ukbench.join(&name)));
            views.push(format!("originals/{name}"));
        }
        set.same_object.push(views);
    }
    for name in SAMPLES {
        sources.push((name.to_string(), samples.join(name)));
    }
    // The source (group) of each image written: copies share their original's.
    let mut group_of: Vec<(String, usize)> = Vec::new();
    for (i, (name, from)) in sources.iter().enumerate() {
        let bytes = std::fs::read(from).with_context(|| format!("read {}", from.display()))?;
        let rel = format!("originals/{name}");
        write_file(&out.join(&rel), &bytes, day_ago)?;
        group_of.push((rel.clone(), i));
        set.images.push(rel);
    }
    let now = SystemTime::now();
    for (name, edits) in plan() {
        let Some(i) = sources.iter().position(|(n, _)| n == name) else {
            anyhow::bail!("planted original {name} is not among the sources");
        };
        let from = &sources[i].1;
        let bytes = std::fs::read(from).with_context(|| format!("read {}", from.display()))?;
        let image = image::load_from_memory(&bytes)
            .with_context(|| format!("decode {}", from.display()))?;
        let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
        let mut copies = Vec::new();
        for edit in edits {
            let rel = match edit {
                Edit::Identical => {
                    let ext = name.rsplit_once('.').map_or("jpg", |(_, e)| e);
                    let rel = format!("copies/{stem}-{}.{ext}", edit.name());
                    write_file(&out.join(&rel), &bytes, now)?;
                    rel
                }
                _ => {
                    let rel = format!("copies/{stem}-{}.jpg", edit.name());
                    let (edited, quality) = apply(edit, &image);
                    let mut encoded = Vec::new();
                    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut encoded, quality)
                        .encode_image(&edited)
                        .with_context(|| format!("encode {rel}"))?;
                    write_file(&out.join(&rel), &encoded, now)?;
                    rel
                }
            };
            group_of.push((rel.clone(), i));
            set.images.push(rel.clone());
            copies.push(rel);
        }
        set.planted.push((format!("originals/{name}"), copies));
    }
    let mut csv = String::from("path_a,path_b,is_copy\n");
    for (k, (a, ga)) in group_of.iter().enumerate() {
        for (b, gb) in &group_of[k + 1..] {
            csv.push_str(&format!("{a},{b},{}\n", u8::from(ga == gb)));
        }
    }
    std::fs::write(truth_csv, csv).with_context(|| format!("write {}", truth_csv.display()))?;
    Ok(set)
}

fn write_file(path: &Path, bytes: &[u8], mtime: SystemTime) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("write {}", path.display()))?;
    let f = std::fs::File::options()
        .write(true)
        .open(path)
        .with_context(|| format!("open {}", path.display()))?;
    f.set_modified(mtime)
        .with_context(|| format!("set the mtime of {}", path.display()))?;
    Ok(())
}

/// The edited image (RGB) and the JPEG quality to save it at.
fn apply(edit: Edit, image: &DynamicImage) -> (RgbImage, u8) {
    let rgb = image.to_rgb8();
    let (w, h) = rgb.dimensions();
    match edit {
        Edit::Jpeg40 => (rgb, 40),
        Edit::Half => (
            image::imageops::resize(
                &rgb,
                (w / 2).max(1),
                (h / 2).max(1),
                image::imageops::FilterType::Triangle,
            ),
            90,
        ),
        Edit::Crop10 => {
            let (dx, dy) = (w / 10, h / 10);
            (
                image::imageops::crop_imm(&rgb, dx, dy, w - 2 * dx, h - 2 * dy).to_image(),
                90,
            )
        }
        Edit::Flip => (image::imageops::flip_horizontal(&rgb), 90),
        Edit::Caption => {
            let mut rgb = rgb;
            caption(&mut rgb, "(c) vsearch 2026");
            (rgb, 90)
        }
        Edit::Identical => (rgb, 90),
    }
}

/// Draws `text` in white on a dark bar over the bottom 5% of the image. The glyphs come from DejaVu Sans
/// through `ab_glyph` (the font crate plotters already brings into the tree) when Debian's
/// `fonts-dejavu-core` is installed (the test script installs it for the plots); without it, from a
/// built-in 5x7 bitmap font of the caption's characters, so the set can be made anywhere. Either way the
/// pixels changed are the same bar, which is what the copy detection has to see through.
fn caption(image: &mut RgbImage, text: &str) {
    let (w, h) = image.dimensions();
    let bar = ((h as f32) * 0.05).round().max(4.0) as u32;
    let top = h - bar;
    for y in top..h {
        for x in 0..w {
            let p = image.get_pixel_mut(x, y);
            for c in p.0.iter_mut() {
                *c = (*c as f32 * 0.25) as u8;
            }
        }
    }
    let px_height = bar as f32 * 0.8;
    let origin = (bar as f32 * 0.5, top as f32 + bar as f32 * 0.1);
    if !draw_with_font(image, text, px_height, origin) {
        draw_with_bitmap(image, text, px_height, origin);
    }
}

fn draw_with_font(image: &mut RgbImage, text: &str, px: f32, (x0, y0): (f32, f32)) -> bool {
    use ab_glyph::{Font, FontVec, PxScale, ScaleFont};
    let Some(bytes) = [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    ]
    .iter()
    .find_map(|p| std::fs::read(p).ok()) else {
        return false;
    };
    let Ok(font) = FontVec::try_from_vec(bytes) else {
        return false;
    };
    let scaled = font.as_scaled(PxScale::from(px));
    let mut x = x0;
    let baseline = y0 + scaled.ascent();
    let (w, h) = image.dimensions();
    for ch in text.chars() {
        let glyph = scaled.scaled_glyph(ch);
        let advance = scaled.h_advance(glyph.id);
        let glyph = ab_glyph::Glyph {
            position: ab_glyph::point(x, baseline),
            ..glyph
        };
        if let Some(outline) = scaled.outline_glyph(glyph) {
            let bounds = outline.px_bounds();
            outline.draw(|gx, gy, coverage| {
                let px = bounds.min.x as i64 + gx as i64;
                let py = bounds.min.y as i64 + gy as i64;
                if px >= 0 && py >= 0 && (px as u32) < w && (py as u32) < h {
                    let p = image.get_pixel_mut(px as u32, py as u32);
                    for c in p.0.iter_mut() {
                        *c = (*c as f32 * (1.0 - coverage) + 255.0 * coverage) as u8;
                    }
                }
            });
        }
        x += advance;
    }
    true
}

/// 5x7 glyphs (rows top to bottom, 5 bits each, high bit left) of the characters the caption uses; other
/// characters draw as a filled block.
fn bitmap_glyph(ch: char) -> [u8; 7] {
    match ch.to_ascii_lowercase() {
        ' ' => [0; 7],
        '(' => [2, 4, 8, 8, 8, 4, 2],
        ')' => [8, 4, 2, 2, 2, 4, 8],
        'c' => [0, 0, 14, 16, 16, 17, 14],
        'v' => [0, 0, 17, 17, 17, 10, 4],
        's' => [0, 0, 15, 16, 14, 1, 30],
        'e' => [0, 0, 14, 17, 31, 16, 14],
        'a' => [0, 0, 14, 1, 15, 17, 15],
        'r' => [0, 0, 22, 25, 16, 16, 16],
        'h' => [16, 16, 22, 25, 17, 17, 17],
        '0' => [14, 17, 19, 21, 25, 17, 14],
        '2' => [14, 17, 1, 2, 4, 8, 31],
        '6' => [6, 8, 16, 30, 17, 17, 14],
        _ => [31; 7],
    }
}

fn draw_with_bitmap(image: &mut RgbImage, text: &str, px: f32, (x0, y0): (f32, f32)) {
    let cell = (px / 7.0).max(1.0);
    let (w, h) = image.dimensions();
    for (k, ch) in text.chars().enumerate() {
        let glyph = bitmap_glyph(ch);
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..5 {
                if bits & (1 << (4 - col)) == 0 {
                    continue;
                }
                let gx = x0 + (k as f32 * 6.0 + col as f32) * cell;
                let gy = y0 + row as f32 * cell;
                for y in gy as u32..(gy + cell) as u32 {
                    for x in gx as u32..(gx + cell) as u32 {
                        if x < w && y < h {
                            image.put_pixel(x, y, Rgb([255, 255, 255]));
                        }
                    }
                }
            }
        }
    }
}
