//! A write that fails during a commit (a full disk, injected with `VSEARCH_FAULT_FAIL`: the engine's write
//! at that point returns "No space left on device") fails the run with a clear error, and the previous
//! generation still serves, untouched; the failed run leaves no temporary file, uncommitted generation or
//! uncommitted matrix rows behind; `--check` tells the catalog that ran ahead (pending work, exit 0) from
//! damage; the next run completes. `full_disk.rs` does the same on a real full filesystem.
//!
//! Needs the Lite0 weights (`vsearch models fetch efficientnet-lite0`).

use crate::common::*;
use std::path::Path;

/// Number of images the collection at `dir` serves (`vsearch search --json` by id 0 reports nothing of
/// the count, so read the committed generation through `--check`'s report of the saved indexes).
fn served_ids(dir: &Path) -> Vec<u64> {
    let out = run_ok(
        vsearch()
            .args(["search", "--collection"])
            .arg(dir)
            .args(["--id", "0", "-k", "1000", "--index", "flat", "--json"]),
    );
    let mut ids: Vec<u64> = json(&out)["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["id"].as_u64().expect("id"))
        .collect();
    ids.sort_unstable();
    ids
}

#[test]
fn a_failed_commit_leaves_the_previous_generation_serving() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("photos");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let photos = photos_in(&ukbench());
    for p in &photos[..10] {
        std::fs::copy(p, dir.join(p.file_name().expect("name"))).expect("copy");
    }
    index(&dir, &[]);
    let before = served_ids(&dir);
    assert_eq!(before.len(), 10);
    let state_before =
        std::fs::read(dir.join(".vsearch/indexes/state.json")).expect("commit point");

    for p in &photos[10..30] {
        std::fs::copy(p, dir.join(p.file_name().expect("name"))).expect("copy");
    }
    for point in ["matrix-write", "index-save", "state-write"] {
        let stderr = run_err(
            vsearch()
                .arg("index")
                .arg(&dir)
                .args(["--model", MODEL])
                .env("VSEARCH_FAULT_FAIL", point),
        );
        assert!(
            stderr.contains("No space left on device"),
            "{point}: the error should say what happened: {stderr}"
        );
        // The committed generation is untouched and still serves the 10 photos.
        assert_eq!(
            std::fs::read(dir.join(".vsearch/indexes/state.json")).expect("commit point"),
            state_before,
            "{point}: the commit point changed"
        );
        assert_eq!(
            served_ids(&dir),
            before,
            "{point}: the served collection changed"
        );
        assert_nothing_left_over(&dir.join(".vsearch"), &check_report(&dir), point);
        // The catalog committed the batches before the failure (all 20 new photos, unless the first
        // matrix write failed): pending work, which `--check` reports without failing.
        let out = vsearch()
            .arg("index")
            .arg(&dir)
            .arg("--check")
            .output()
            .expect("run --check");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{point}: --check must not call pending work damage: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report = check_report(&dir);
        assert!(
            report["problems"].as_array().expect("problems").is_empty(),
            "{point}: {report:#}"
        );
        let pending = report["pending"]["files"].as_u64().unwrap_or(0);
        if point == "matrix-write" {
            assert_eq!(pending, 0, "{point}: nothing was committed: {report:#}");
        } else {
            assert_eq!(pending, 20, "{point}: {report:#}");
            assert!(
                stdout.contains("20 files indexed but not yet committed")
                    && stdout.contains("run `vsearch index"),
                "{point}: {stdout}"
            );
        }
    }

    // Space is back: the next run commits all 30.
    index(&dir, &[]);
    assert_eq!(served_ids(&dir).len(), 30);
    let report = check_report(&dir);
    assert!(
        report["problems"].as_array().expect("problems").is_empty(),
        "{report:#}"
    );
    assert_eq!(report["ok"].as_u64(), Some(30));
}
