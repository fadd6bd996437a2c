//! Writes the planted duplicate test set (see `tests/it/common/dupes_set.rs`):
//! `cargo run --release --example make_dupes_set -- OUT_DIR [UKBENCH_DIR] [SAMPLE_IMAGES_DIR]`.
//! The truth CSV goes to `OUT_DIR.truth.csv` (beside the folder, so indexing the folder does not see it).

#[path = "../tests/it/common/dupes_set.rs"]
mod dupes_set;

use anyhow::Context;
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let out = PathBuf::from(
        args.next()
            .context("usage: make_dupes_set OUT_DIR [UKBENCH_DIR] [SAMPLE_IMAGES_DIR]")?,
    );
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let ukbench = args
        .next()
        .map_or_else(|| root.join("../shared/data/ukbench-14"), PathBuf::from);
    let samples = args
        .next()
        .map_or_else(|| root.join("sample_images"), PathBuf::from);
    let mut truth = out.clone().into_os_string();
    truth.push(".truth.csv");
    let set = dupes_set::make_dupes_set(&ukbench, &samples, &out, &PathBuf::from(&truth))?;
    println!(
        "{} images ({} planted originals) in {}; truth: {}",
        set.images.len(),
        set.planted.len(),
        out.display(),
        set.truth_csv.display()
    );
    Ok(())
}
