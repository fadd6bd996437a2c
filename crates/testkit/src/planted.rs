//! Planted copies of a photo, as the takedown, report and duplicate tests use them: the photo at half size,
//! mirrored, and re-encoded at JPEG quality 60 ([`COPIES`], written by [`plant_copies`]).

use std::path::Path;

/// The file names of the planted copies, in the order [`plant_copies`] writes them.
pub const COPIES: [&str; 3] = ["copy-half.jpg", "copy-flip.jpg", "copy-reencoded.jpg"];

/// Writes the planted copies of the photo `src` into `dir` (panics on an unreadable photo: a test's input).
pub fn plant_copies(src: &Path, dir: &Path) {
    let img =
        image::open(src).unwrap_or_else(|e| panic!("open the original {}: {e}", src.display()));
    let (w, h) = (img.width(), img.height());
    img.resize(w / 2, h / 2, image::imageops::FilterType::Triangle)
        .to_rgb8()
        .save(dir.join(COPIES[0]))
        .expect("save the half-size copy");
    img.fliph()
        .to_rgb8()
        .save(dir.join(COPIES[1]))
        .expect("save the mirrored copy");
    let file = std::fs::File::create(dir.join(COPIES[2])).expect("create the re-encoded copy");
    image::codecs::jpeg::JpegEncoder::new_with_quality(file, 60)
        .encode_image(&img.to_rgb8())
        .expect("re-encode the copy");
}
