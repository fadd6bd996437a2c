//! `vsearch index` and `vsearch search` through the real binary, with EfficientNet-Lite0, over copies of
//! `../shared/data/ukbench-14` (14 objects x 4 photos).
//!
//! The Lite0 weights must be in the model cache (`vsearch models fetch efficientnet-lite0`).

use crate::common::{json, photos_in, run_err, run_ok, ukbench, vsearch, MODEL};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

/// Copies the ukbench photos (writable) and groups.csv into a fresh temporary folder.
fn copy_ukbench() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(ukbench()).expect("../shared/data/ukbench-14 is missing") {
        let entry = entry.expect("dir entry");
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".jpg") || name == "groups.csv" {
            let bytes = std::fs::read(entry.path()).expect("read");
            std::fs::write(dir.path().join(&*name), bytes).expect("write");
        }
    }
    dir
}

/// file name -> group, from groups.csv.
fn groups() -> HashMap<String, String> {
    let text = std::fs::read_to_string(ukbench().join("groups.csv")).expect("groups.csv");
    text.lines()
        .skip(1)
        .filter_map(|l| l.split_once(','))
        .map(|(f, g)| (f.trim().to_string(), g.trim().to_string()))
        .collect()
}

/// A temporary folder with one photo, indexed with Lite0.
fn one_photo_collection() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(ukbench().join("ukbench00000.jpg"), dir.path().join("a.jpg")).expect("copy");
    index(dir.path(), &[]);
    dir
}

fn index(dir: &Path, extra: &[&str]) -> Value {
    let mut cmd = vsearch();
    cmd.arg("index")
        .arg(dir)
        .args(["--model", MODEL, "--json"])
        .args(extra);
    json(&run_ok(&mut cmd))
}

fn check(dir: &Path) -> Value {
    let out = vsearch()
        .arg("index")
        .arg(dir)
        .args(["--check", "--json"])
        .output()
        .expect("run vsearch");
    let report = json(&out);
    assert!(out.status.success(), "collection inconsistent: {report:#}");
    report
}

fn count(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no {key} in {v:#}"))
}

fn search(collection: &Path, args: &[&str]) -> Value {
    let mut cmd = vsearch();
    cmd.arg("search")
        .arg("--collection")
        .arg(collection)
        .arg("--json")
        .args(args);
    json(&run_ok(&mut cmd))
}

/// Moves the modification time of `path` ten seconds on, leaving its content as it is.
fn touch(path: &Path) {
    let file = std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open");
    let mtime = file
        .metadata()
        .expect("metadata")
        .modified()
        .expect("mtime");
    file.set_modified(mtime + Duration::from_secs(10))
        .expect("set mtime");
}

/// `vsearch search --image ROOT/IMAGE -k K [--index KIND]` on the collection of `root`.
fn search_by_image(root: &Path, image: &str, k: usize, index: Option<&str>) -> Value {
    let image = root.join(image);
    let k = k.to_string();
    let mut args = vec!["--image", image.to_str().expect("utf-8"), "-k", &k];
    if let Some(kind) = index {
        args.extend(["--index", kind]);
    }
    search(root, &args)
}

fn result_paths(response: &Value) -> Vec<String> {
    response["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["path"].as_str().expect("path").to_string())
        .collect()
}

#[test]
fn ukbench_ns_score_is_4_and_reindexing_is_incremental() {
    let dir = copy_ukbench();
    let root = dir.path();
    let groups = groups();

    let first = index(root, &[]);
    assert_eq!(count(&first, "indexed"), 56, "{first:#}");
    assert_eq!(count(&first, "embedded"), 56);
    assert!(
        first["failed"].as_array().expect("failed").is_empty(),
        "{first:#}"
    );
    assert_eq!(
        count(&first, "skipped"),
        1,
        "groups.csv is not an image and is skipped"
    );

    // N-S score through `vsearch search --image`: for each photo, how many of its group's 4 are in the top 4.
    let mut hits = 0usize;
    for (file, group) in &groups {
        let paths = result_paths(&search_by_image(root, file, 4, None));
        assert_eq!(paths.len(), 4);
        assert_eq!(paths[0], *file, "the query image itself ranks first");
        hits += paths
            .iter()
            .filter(|p| groups.get(p.as_str()) == Some(group))
            .count();
    }
    let ns = hits as f64 / groups.len() as f64;
    assert_eq!(groups.len(), 56);
    assert!((ns - 4.0).abs() < 1e-9, "N-S score {ns:.2}, expected 4.00");

    // Every index kind agrees on a query by id (the image itself first, score 1).
    for kind in ["hnsw", "ivf", "flat"] {
        let response = search(root, &["--id", "0", "-k", "4", "--index", kind]);
        assert_eq!(response["index"], kind);
        let first = &response["results"][0];
        assert_eq!(first["path"], "ukbench00000.jpg");
        assert!(first["score"].as_f64().expect("score") > 0.999);
    }

    // No change: nothing embedded.
    let again = index(root, &[]);
    assert_eq!(count(&again, "embedded"), 0, "{again:#}");
    assert_eq!(count(&again, "unchanged"), 56);

    // Change one photo's content, touch another without changing it, add one, delete one.
    let changed = root.join("ukbench00001.jpg");
    let mut bytes = std::fs::read(&changed).expect("read");
    bytes.extend_from_slice(b"appended bytes change the content hash");
    std::fs::write(&changed, bytes).expect("write");
    touch(&root.join("ukbench00002.jpg"));
    std::fs::create_dir(root.join("sub")).expect("mkdir");
    std::fs::copy(root.join("ukbench00010.jpg"), root.join("sub/new.jpg")).expect("copy");
    std::fs::remove_file(root.join("ukbench00055.jpg")).expect("delete");

    let third = index(root, &[]);
    assert_eq!(count(&third, "embedded"), 2, "{third:#}");
    assert_eq!(count(&third, "updated"), 1);
    assert_eq!(count(&third, "indexed"), 1);
    assert_eq!(count(&third, "removed"), 1);
    assert_eq!(count(&third, "unchanged"), 54);

    let report = check(root);
    assert_eq!(count(&report, "ok"), 56);
    assert_eq!(count(&report, "failed"), 0);

    for kind in ["hnsw", "ivf", "flat"] {
        let paths = result_paths(&search_by_image(root, "ukbench00052.jpg", 60, Some(kind)));
        assert!(
            !paths.iter().any(|p| p == "ukbench00055.jpg"),
            "deleted file still in the {kind} index"
        );
        let new = search_by_image(root, "sub/new.jpg", 2, Some(kind));
        let top: Vec<String> = result_paths(&new);
        assert!(
            top.contains(&"sub/new.jpg".to_string())
                && top.contains(&"ukbench00010.jpg".to_string()),
            "{new:#}"
        );
    }
}

/// A PNG whose header claims `width x height` pixels (valid CRCs, a tiny IDAT).
fn huge_png(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    // A stored (uncompressed) zlib stream of a few zero bytes.
    chunk(
        &mut png,
        b"IDAT",
        &[
            0x78, 0x01, 0x01, 0x04, 0x00, 0xFB, 0xFF, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0x01,
        ],
    );
    chunk(&mut png, b"IEND", &[]);
    png
}

#[test]
fn bad_files_are_reported_and_good_ones_indexed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    for i in 0..4 {
        let name = format!("ukbench{:05}.jpg", i * 4);
        std::fs::copy(ukbench().join(&name), root.join(&name)).expect("copy");
    }
    std::fs::write(root.join("empty.jpg"), b"").expect("write");
    let jpeg = std::fs::read(ukbench().join("ukbench00010.jpg")).expect("read");
    std::fs::write(root.join("truncated.jpg"), &jpeg[..jpeg.len() / 3]).expect("write");
    std::fs::write(root.join("notes.jpg"), b"this is a text file, not a JPEG\n").expect("write");
    std::fs::write(root.join("huge.png"), huge_png(100_000, 100_000)).expect("write");

    let report = index(root, &[]);
    assert_eq!(count(&report, "indexed"), 4, "{report:#}");
    let failed: HashMap<String, String> = report["failed"]
        .as_array()
        .expect("failed")
        .iter()
        .map(|f| {
            let path = PathBuf::from(f["path"].as_str().expect("path"));
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .to_string();
            (name, f["reason"].as_str().expect("reason").to_string())
        })
        .collect();
    assert_eq!(failed.len(), 4, "{report:#}");
    for (name, why) in [
        ("empty.jpg", "empty"),
        ("truncated.jpg", "truncated"),
        ("notes.jpg", "not a supported image"),
        ("huge.png", "over the limit"),
    ] {
        assert!(failed[name].contains(why), "{name}: {}", failed[name]);
    }

    let consistent = check(root);
    assert_eq!(count(&consistent, "ok"), 4);
    assert_eq!(count(&consistent, "failed"), 4);

    // Failed files are retried only when they change.
    let again = index(root, &[]);
    assert_eq!(count(&again, "embedded"), 0);
    assert!(
        again["failed"].as_array().expect("failed").is_empty(),
        "{again:#}"
    );
    std::fs::copy(
        ukbench().join("ukbench00020.jpg"),
        root.join("truncated.jpg"),
    )
    .expect("repair");
    let repaired = index(root, &[]);
    assert_eq!(count(&repaired, "updated"), 1, "{repaired:#}");
    assert_eq!(count(&repaired, "embedded"), 1);
    assert_eq!(count(&check(root), "ok"), 5);
}

#[test]
fn another_model_is_refused_and_text_search_needs_clip() {
    let dir = one_photo_collection();
    let root = dir.path();
    let err = run_err(
        vsearch()
            .arg("index")
            .arg(root)
            .args(["--model", "clip-vit-b32"]),
    );
    assert!(err.contains("--rebuild") && err.contains(MODEL), "{err}");

    let err = run_err(
        vsearch()
            .arg("search")
            .arg("--collection")
            .arg(root)
            .args(["--text", "a cat"]),
    );
    assert!(err.contains("text"), "{err}");
}

/// A second writer is refused at once (not left waiting, not interleaving ids) while the lock is held.
#[test]
fn a_second_index_run_is_refused_while_one_holds_the_lock() {
    let dir = one_photo_collection();
    let root = dir.path();
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(root.join(".vsearch/index.lock"))
        .expect("the lock file exists after a run");
    lock.lock().expect("take the lock as another run would");
    let err = run_err(vsearch().arg("index").arg(root).args(["--model", MODEL]));
    assert!(err.contains("another `vsearch index`"), "{err}");
    drop(lock);
    let report = index(root, &[]);
    assert_eq!(report["unchanged"], 1, "{report:#}");
}

/// Size of `path` in bytes (0 when absent).
fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Waits until `reached()` holds or `child` exits by itself; in the first case kills it (SIGKILL).
/// Returns whether it was killed while still running.
fn kill_when(mut child: Child, reached: impl Fn() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return false;
        }
        if reached() {
            child.kill().expect("kill -9");
            let status = child.wait().expect("wait");
            return killed_by_sigkill(&status);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "vsearch index neither reached the point nor finished"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn killed_by_sigkill(status: &std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(9)
}

/// Counts of the collection must match the folder after kills at several points of a run (each one
/// waited for in the collection folder, not timed) and a final run.
#[test]
fn kill_9_at_several_points_then_rerun_leaves_a_consistent_collection() {
    let dir = copy_ukbench();
    let root = dir.path();
    let coll = root.join(".vsearch");
    let matrix = coll.join("embeddings.f32");
    let spawn = || {
        vsearch()
            .arg("index")
            .arg(root)
            .args(["--model", MODEL, "--batch", "2", "--json"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn vsearch")
    };

    // Model loaded, manifest written, nothing embedded yet.
    let killed = kill_when(spawn(), || coll.join("manifest.json").is_file());
    assert!(killed, "killed after the manifest was written");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(coll.join("manifest.json")).expect("manifest"))
            .expect("manifest JSON");
    let row_bytes = 4 * manifest["model"]["dim"].as_u64().expect("dim");

    // In the decode-embed loop: just after the first rows reach the matrix, then 20 rows further on.
    for rows_further in [1, 20] {
        let start = file_len(&matrix);
        let killed = kill_when(spawn(), || {
            file_len(&matrix) >= start + rows_further * row_bytes
        });
        assert!(killed, "killed {rows_further} rows into the embedding");
    }

    // Saving the indexes (the run may finish before the kill lands; then nothing is left to do).
    let saving = kill_when(spawn(), || coll.join("indexes").exists());
    eprintln!("killed while saving the indexes: {saving}");

    let last = index(root, &[]);
    assert!(
        last["failed"].as_array().expect("failed").is_empty(),
        "{last:#}"
    );
    let report = check(root);
    assert_eq!(count(&report, "ok"), 56, "{report:#}");
    assert_eq!(count(&report, "failed"), 0);
    for (kind, len) in report["indexes"]
        .as_array()
        .expect("indexes")
        .iter()
        .map(|pair| (&pair[0], &pair[1]))
    {
        assert_eq!(len.as_u64(), Some(56), "{kind} index");
    }
    // The collection answers and nothing is duplicated: 56 distinct paths.
    let all = search(root, &["--id", "0", "-k", "100", "--index", "flat"]);
    let mut paths = result_paths(&all);
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), 56);
}

/// The summary says where the time went: the model's seconds, the decoding threads' CPU seconds, the
/// model's wait for decoded images, and which stage was the slower one (`--json`: the same figures).
#[test]
fn the_summary_says_whether_decoding_or_the_model_set_the_pace() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("photos");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for p in photos_in(&ukbench()).iter().take(12) {
        std::fs::copy(p, dir.join(p.file_name().expect("name"))).expect("copy");
    }
    let out = run_ok(
        vsearch()
            .arg("index")
            .arg(&dir)
            .args(["--model", MODEL, "--batch", "4"]),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("  time: model "))
        .unwrap_or_else(|| panic!("no time line in: {text}"));
    assert!(line.contains("slower stage"), "{line}");
    // Again from scratch, as JSON.
    let report = index(&dir, &["--batch", "4", "--rebuild"]);
    for key in ["model_seconds", "decode_cpu_seconds"] {
        let v = report[key].as_f64().unwrap_or(0.0);
        assert!(v > 0.0, "{key} = {v}: {report:#}");
    }
    assert!(report["waiting_for_decode_seconds"]
        .as_f64()
        .is_some_and(|v| v >= 0.0));
    // The stages fit in the run: the model and its waits are not longer than the run.
    let seconds = report["seconds"].as_f64().expect("seconds");
    let model = report["model_seconds"].as_f64().unwrap_or(0.0);
    let waiting = report["waiting_for_decode_seconds"].as_f64().unwrap_or(0.0);
    assert!(model + waiting <= seconds + 1e-3, "{report:#}");
}

/// The newest saved HNSW index folder under `root`'s collection (the one the last run committed).
fn newest_hnsw_index(root: &Path) -> PathBuf {
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    let mut stack = vec![root.join(".vsearch")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "index.json") {
                let text = std::fs::read_to_string(&path).expect("index.json");
                if text.contains("\"hnsw\"") {
                    let mtime = path.metadata().expect("meta").modified().expect("mtime");
                    found.push((mtime, path.parent().expect("folder").to_path_buf()));
                }
            }
        }
    }
    found.sort();
    found.pop().expect("an HNSW index").1
}

#[test]
fn quantized_hnsw_is_switched_on_and_off_and_answers_like_exact_search() {
    let dir = copy_ukbench();
    let root = dir.path();
    let groups = groups();
    let first = index(root, &["--quantization", "int8"]);
    assert_eq!(count(&first, "indexed"), 56, "{first:#}");
    let saved = newest_hnsw_index(root);
    for file in ["codes.i8", "quantizer.f32", "vectors.f32"] {
        assert!(saved.join(file).exists(), "{file} in {}", saved.display());
    }
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(saved.join("index.json")).expect("index.json"),
    )
    .expect("index.json is JSON");
    assert_eq!(manifest["config"]["quantization"], "int8", "{manifest:#}");

    // The int8 walk answers as exact search does: N-S score 4, the same photos in the same order.
    let mut hits = 0usize;
    for (file, group) in &groups {
        let quantized = result_paths(&search_by_image(root, file, 4, Some("hnsw")));
        assert_eq!(
            quantized,
            result_paths(&search_by_image(root, file, 4, Some("flat"))),
            "{file}"
        );
        hits += quantized
            .iter()
            .filter(|p| groups.get(p.as_str()) == Some(group))
            .count();
    }
    assert_eq!(hits, 4 * 56, "N-S score through the int8 HNSW");

    // Kept by a run that does not name it (nothing changed, nothing rebuilt)...
    let again = index(root, &[]);
    assert_eq!(count(&again, "embedded"), 0, "{again:#}");
    assert!(newest_hnsw_index(root).join("codes.i8").exists());
    // ... turned off by one that does: the HNSW index is rebuilt over the full vectors.
    index(root, &["--quantization", "none"]);
    let plain = newest_hnsw_index(root);
    assert!(!plain.join("codes.i8").exists(), "{}", plain.display());
    let response = search(root, &["--id", "0", "-k", "4", "--index", "hnsw"]);
    assert_eq!(response["results"][0]["path"], "ukbench00000.jpg");

    let refused = run_err(vsearch().arg("index").arg(root).args([
        "--model",
        MODEL,
        "--quantization",
        "int4",
    ]));
    assert!(refused.contains("unknown quantization `int4`"), "{refused}");
}
