//! JPEG decoding at 1/8 scale, the scale a phone photo takes for every reader (the model's input, a
//! thumbnail, a duplicate signature): vsearch's own decoder (`image_io::jpeg_eighth`) against libjpeg-turbo's
//! scaled decode (the `turbojpeg` crate, libjpeg-turbo 3 with its SIMD; what Pillow's `draft` uses), on the
//! same files in memory, one thread, rounds alternating the two (A B A B) and the best round of each
//! counting. Every file is checked to decode to the same pixels both ways first.
//!
//! ```text
//! /tmp/photo-venv/bin/python scripts/make_photo_sets.py      # target/photo-sets/12mp: 4032 x 3024, ~2.5 MB
//! cargo bench --bench jpeg_eighth -- [--photos target/photo-sets/12mp] [--rounds 5]
//! ```

use anyhow::{bail, Context};
use clap::Parser;
use std::time::Instant;
use vsearch_embed::image_io::{self, jpeg_eighth};

#[derive(Parser)]
struct Args {
    /// A folder of JPEGs (those too small for a 1/8 decode are timed all the same).
    #[arg(long, default_value = "target/photo-sets/12mp")]
    photos: std::path::PathBuf,
    /// Rounds of each side.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Accepted for `cargo bench`'s own flag.
    #[arg(long, hide = true)]
    bench: bool,
}

/// libjpeg-turbo's decode at 1/8, as RGB.
fn libjpeg_turbo(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    Ok(image_io::libjpeg_turbo_scaled(bytes, 8)
        .map_err(anyhow::Error::msg)?
        .into_raw())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut paths: Vec<_> = std::fs::read_dir(&args.photos)
        .with_context(|| {
            format!(
                "reading {} (make it with scripts/make_photo_sets.py)",
                args.photos.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("jpg")))
        .collect();
    paths.sort();
    if paths.is_empty() {
        bail!("no JPEGs in {}", args.photos.display());
    }
    let files: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| std::fs::read(p).with_context(|| p.display().to_string()))
        .collect::<anyhow::Result<_>>()?;
    let mut declined = 0;
    for (path, bytes) in paths.iter().zip(&files) {
        match jpeg_eighth::decode(bytes) {
            Some(ours) if ours.as_raw() == &libjpeg_turbo(bytes)? => {}
            Some(_) => bail!("{}: the two decoders' pixels differ", path.display()),
            None => declined += 1,
        }
    }
    let megabytes = files.iter().map(Vec::len).sum::<usize>() as f64 / 1e6;
    let (cpu, _) = vsearch_bench::measure::machine();
    println!(
        "{cpu}; {}\n{} JPEGs from {} ({:.2} MB each; {declined} left to libjpeg-turbo), same pixels both ways; {} rounds",
        vsearch_bench::measure::simd(),
        files.len(),
        args.photos.display(),
        megabytes / files.len() as f64,
        args.rounds
    );
    let (mut ours, mut theirs) = (f64::MAX, f64::MAX);
    for round in 1..=args.rounds {
        let start = Instant::now();
        for bytes in &files {
            // A declined file takes libjpeg-turbo, as `image_io::decode_sized` does.
            if jpeg_eighth::decode(bytes).is_none() {
                libjpeg_turbo(bytes)?;
            }
        }
        let a = start.elapsed().as_secs_f64() / files.len() as f64;
        let start = Instant::now();
        for bytes in &files {
            std::hint::black_box(libjpeg_turbo(bytes)?);
        }
        let b = start.elapsed().as_secs_f64() / files.len() as f64;
        println!(
            "  round {round}: vsearch {:.2} ms a file, libjpeg-turbo {:.2} ms",
            a * 1e3,
            b * 1e3
        );
        (ours, theirs) = (ours.min(a), theirs.min(b));
    }
    println!(
        "best: vsearch {:.2} ms a file ({:.0} MB/s of JPEG), libjpeg-turbo {:.2} ms ({:.0} MB/s): {:.2}x",
        ours * 1e3,
        megabytes / files.len() as f64 / ours,
        theirs * 1e3,
        megabytes / files.len() as f64 / theirs,
        theirs / ours
    );
    Ok(())
}
