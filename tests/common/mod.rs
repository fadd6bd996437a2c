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
