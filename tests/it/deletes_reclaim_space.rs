//! Deletes give their space back (issue: reliability, "deletes reclaim space"): after half of an indexed
//! folder is deleted and the folder re-indexed, the collection on disk (catalog, embedding matrix,
//! indexes) is within 10% of a fresh build of what is left, and still consistent. Sizes are bytes on
//! disk of real photos, not timings.
//!
//! Needs the Lite0 weights (`vsearch models fetch efficientnet-lite0`).

use crate::common::*;
use std::path::Path;

/// Bytes of every file under `dir` (recursively).
fn bytes_under(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry"))
        .map(|e| {
            let meta = e.metadata().expect("metadata");
            if meta.is_dir() {
                bytes_under(&e.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

/// Files of the collection of `dir` and their sizes, for the failure message.
fn listing(dir: &Path) -> String {
    let mut out = Vec::new();
    for entry in walk(&dir.join(".vsearch")) {
        let size = std::fs::metadata(&entry).map(|m| m.len()).unwrap_or(0);
        out.push(format!("{size:>9} {}", entry.display()));
    }
    out.join("\n")
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = e.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn assert_consistent(dir: &Path, files: usize) {
    let report = check_report(dir);
    assert!(
        report["problems"].as_array().expect("problems").is_empty(),
        "inconsistent collection: {report:#}"
    );
    assert_eq!(report["ok"].as_u64(), Some(files as u64), "{report:#}");
}

#[test]
fn deleting_half_and_reindexing_leaves_a_collection_the_size_of_a_fresh_build() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pool = tmp.path().join("pool");
    std::fs::create_dir_all(&pool).expect("mkdir");
    let photos = write_photo_variants(&pool, 160);

    // All 160 indexed, then every second one deleted and the folder indexed again.
    let dir = tmp.path().join("photos");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for p in &photos {
        std::fs::copy(p, dir.join(p.file_name().expect("name"))).expect("copy");
    }
    index(&dir, &[]);
    let full = bytes_under(&dir.join(".vsearch"));
    let (kept, deleted): (Vec<_>, Vec<_>) =
        photos.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    for (_, p) in &deleted {
        std::fs::remove_file(dir.join(p.file_name().expect("name"))).expect("delete");
    }
    index(&dir, &[]);
    assert_consistent(&dir, kept.len());
    let after = bytes_under(&dir.join(".vsearch"));

    // A fresh build of the photos that are left.
    let fresh_dir = tmp.path().join("fresh");
    std::fs::create_dir_all(&fresh_dir).expect("mkdir");
    for (_, p) in &kept {
        std::fs::copy(p, fresh_dir.join(p.file_name().expect("name"))).expect("copy");
    }
    index(&fresh_dir, &[]);
    let fresh = bytes_under(&fresh_dir.join(".vsearch"));

    eprintln!(
        "collection bytes: {full} for 160 photos; {after} after deleting 80 and re-indexing; {fresh} for a fresh build of the 80 left ({:.3}x)",
        after as f64 / fresh as f64
    );
    assert!(
        after as f64 <= 1.10 * fresh as f64,
        "after deletes the collection takes {after} bytes, a fresh build {fresh}:\n{}\nfresh:\n{}",
        listing(&dir),
        listing(&fresh_dir)
    );

    // Still searchable by id after the compaction, and a further run changes nothing.
    let out = run_ok(
        vsearch()
            .args(["search", "--collection"])
            .arg(&dir)
            .args(["--id", "0", "-k", "3", "--json"]),
    );
    let hits = json(&out);
    assert!(hits.to_string().contains("p0-000"), "{hits:#}");
    index(&dir, &[]);
    assert_consistent(&dir, kept.len());
}
