//! `--precision int8` on the command line: `vsearch embed` of photos and a caption with the CLIP fixture
//! gives vectors within a cosine of 0.99 of `--precision f32`'s (and not the same ones); `vsearch index`
//! indexes a folder with it; a model or device it does not apply to is refused with what to do instead.

use crate::common::{
    clip_fixture_folder, json, kernels, photos_in, run_err, run_ok, ukbench, vsearch,
};
use serde_json::Value;
use std::path::Path;

/// The vectors `vsearch embed` prints for `files` and one caption at `precision`.
fn embed(model_dir: &Path, precision: &str, files: &[std::path::PathBuf]) -> Vec<Vec<f32>> {
    let out = run_ok(
        vsearch()
            .args(["embed", "--precision", precision, "--model-dir"])
            .arg(model_dir)
            .args(["--text", "a photo of a cat"])
            .args(files),
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("a JSON line");
            serde_json::from_value(v["vector"].clone()).expect("a vector")
        })
        .collect()
}

/// Whether this CPU runs the int8 kernels (AVX2 tiles), recorded as exercised; a listed skip (or a
/// failure, unless allowed) where it does not.
fn int8_kernel_runs() -> bool {
    kernels::runs(
        "int8 through the CLI",
        "avx2",
        vsearch_embed::cpu::Kernel::Avx2.is_supported(),
    )
}

#[test]
fn embed_int8_stays_within_cosine_0_99_of_f32() {
    if !int8_kernel_runs() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = clip_fixture_folder(tmp.path());
    let files: Vec<_> = photos_in(&ukbench()).into_iter().take(6).collect();
    let (f32_rows, int8_rows) = (embed(&model, "f32", &files), embed(&model, "int8", &files));
    assert_eq!(f32_rows.len(), files.len() + 1);
    assert_eq!(int8_rows.len(), f32_rows.len());
    let mut same = true;
    for (a, b) in f32_rows.iter().zip(&int8_rows) {
        // Both are normalised: the dot product is the cosine.
        let cos: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        assert!(cos >= 0.99, "cosine {cos}");
        same &= a == b;
    }
    assert!(!same, "--precision int8 gave the f32 vectors");
}

#[test]
fn index_runs_at_int8() {
    if !int8_kernel_runs() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = clip_fixture_folder(tmp.path());
    let photos = tmp.path().join("photos");
    std::fs::create_dir(&photos).expect("mkdir");
    for f in photos_in(&ukbench()).into_iter().take(8) {
        std::fs::copy(&f, photos.join(f.file_name().expect("a file name"))).expect("copy");
    }
    let out = run_ok(
        vsearch()
            .arg("index")
            .arg(&photos)
            .args(["--precision", "int8", "--json", "--model-dir"])
            .arg(&model),
    );
    let report = json(&out);
    assert_eq!(report["embedded"], 8, "{report}");
    assert_eq!(report["indexed"], 8, "{report}");
}

#[test]
fn int8_is_refused_for_lite0_and_off_the_cpu() {
    let err = run_err(vsearch().args([
        "embed",
        "--model",
        "efficientnet-lite0",
        "--precision",
        "int8",
        "--text",
        "x",
    ]));
    assert!(
        err.contains("convolutional") && err.contains("--precision"),
        "{err}"
    );
    let err = run_err(vsearch().args(["embed", "--precision", "int4", "--text", "x"]));
    assert!(err.contains("f32 or int8"), "{err}");
}
