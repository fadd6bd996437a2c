//! Helpers shared by the CLI integration tests: the real `vsearch` binary, the ukbench-14 photos.
#![allow(dead_code)] // each test file uses its own subset

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The model every CLI test indexes with (its weights: `vsearch models fetch efficientnet-lite0`).
pub const MODEL: &str = "efficientnet-lite0";

/// The `vsearch` binary under test, logging warnings only.
pub fn vsearch() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vsearch"));
    cmd.args(["--log", "warn"]);
    cmd
}

/// `../shared/data/ukbench-14` beside the checkout.
pub fn ukbench() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/ukbench-14")
}

/// `sample_images/` of the checkout.
pub fn sample_images() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_images")
}

/// The photos (JPEG and PNG files) directly inside `dir`, sorted by name.
pub fn photos_in(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("jpg") || x.eq_ignore_ascii_case("png"))
        })
        .collect();
    out.sort();
    out
}

/// Runs a command that must succeed; returns its output.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run vsearch");
    assert!(
        out.status.success(),
        "vsearch failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs a command that must fail; returns its stderr.
pub fn run_err(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run vsearch");
    assert!(
        !out.status.success(),
        "vsearch succeeded but should have failed"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The JSON a command printed on stdout.
pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// `vsearch index DIR --model MODEL [extra...]`, which must succeed.
pub fn index(dir: &Path, extra: &[&str]) -> Output {
    run_ok(
        vsearch()
            .arg("index")
            .arg(dir)
            .args(["--model", MODEL])
            .args(extra),
    )
}

/// `vsearch index DIR --check --json`: the consistency report (whatever the exit code).
pub fn check_report(dir: &Path) -> Value {
    let out = vsearch()
        .arg("index")
        .arg(dir)
        .args(["--check", "--json"])
        .output()
        .expect("run vsearch index --check");
    json(&out)
}

/// Writes `count` distinct photos into `pool`: every source photo, then variants of them (half size,
/// a centre crop, a horizontal flip) until there are enough. Returns their paths.
pub fn write_photo_variants(pool: &Path, count: usize) -> Vec<PathBuf> {
    let mut sources = photos_in(&ukbench());
    sources.extend(photos_in(&sample_images()));
    let images: Vec<image::DynamicImage> = sources
        .iter()
        .map(|p| {
            // Sources at most 640 px wide keep the test quick.
            let img = image::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            img.resize(640, 640, image::imageops::FilterType::Triangle)
        })
        .collect();
    let mut out = Vec::new();
    'outer: for variant in 0.. {
        for (i, img) in images.iter().enumerate() {
            if out.len() == count {
                break 'outer;
            }
            let (w, h) = (img.width(), img.height());
            let photo = match variant {
                0 => img.clone(),
                1 => img.resize(w / 2, h / 2, image::imageops::FilterType::Triangle),
                2 => img.crop_imm(w / 8, h / 8, w * 3 / 4, h * 3 / 4),
                _ => img.fliph(),
            };
            let path = pool.join(format!("p{variant}-{i:03}.jpg"));
            photo
                .to_rgb8()
                .save(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.push(path);
        }
    }
    out
}
