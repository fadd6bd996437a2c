//! Baseline JPEGs at 1/8 of their size, byte for byte what libjpeg-turbo makes at that scale, in less
//! time (about two thirds of it on 12-megapixel phone photos: `cargo bench --bench jpeg_eighth`).
//!
//! At 1/8 a JPEG's pixel is its block's mean, the DC coefficient dequantized and divided by 8: libjpeg-turbo's
//! 1x1 inverse DCT. libjpeg-turbo skips the inverse DCT's work at this scale but not the entropy decoding,
//! which is then nearly all of its time (nine tenths in a profile of a 12-megapixel phone photo): its
//! Huffman decoder looks each AC coefficient's code up, then refills, then drops the coefficient's
//! magnitude bits. The coefficients that are not needed carry no information at 1/8 but their length, so
//! here one lookup of the next 11 bits of the stream gives every whole coefficient (code and
//! magnitude) they hold: how many bits those take, how far they move along the block and whether the
//! block ends among them (`Skip`). One table read and one shift pass over several coefficients.
//!
//! **What it decodes**: 8-bit sequential Huffman JPEGs (SOF0, SOF1) whose one scan holds every component,
//! grayscale or YCbCr, restart markers included, with libjpeg-turbo's own arithmetic throughout (its
//! range limiting, its YCbCr tables, its replication upsampling at this scale). A chroma component that
//! libjpeg-turbo decodes at 2x2 here (4:2:0, where its scaled inverse DCT stands in for the upsampling)
//! is decoded with its coefficients and the same 2x2 inverse DCT. Anything else (progressive or
//! arithmetic coding, 12-bit samples, CMYK, an RGB-coded JPEG, sampling factors libjpeg-turbo handles
//! otherwise, a stream damaged anywhere: a bad code, a missing or unexpected marker, data that ends
//! early) gives `None`, and the caller decodes the file with libjpeg-turbo, so a damaged file meets the
//! same decoder, warnings and all, as it would without this one. The tests compare every pixel with
//! libjpeg-turbo's on photos, on synthetic JPEGs of every subsampling and size class, and on files with
//! restart markers.
//!
//! The modules, bottom up: `bits` (the entropy-coded data as a bit stream, its stuffed bytes taken out
//! first), `huffman` (a code's lookup and the skip table), `idct` (libjpeg's arithmetic from coefficients
//! to pixels), `coefficients` (a block's coefficients from the stream), `header` (the markers up to the
//! scan), `scan` (the scan into planes, and the planes as RGB).

mod bits;
mod coefficients;
mod header;
mod huffman;
mod idct;
mod scan;
#[cfg(test)]
mod tests;

use header::Header;
use image::RgbImage;

/// Decodes `bytes` at 1/8 scale (each side rounded up) as RGB, or `None` where libjpeg-turbo should (see
/// the module docs).
pub fn decode(bytes: &[u8]) -> Option<RgbImage> {
    let (frame, scan_start) = Header::read(bytes)?;
    let planes = frame.decode_scan(bytes, scan_start)?;
    frame.to_rgb(&planes)
}
