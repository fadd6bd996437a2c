//! Crash consistency of `vsearch index` (issue: one commit point per collection).
//!
//! A folder of 240 photos (ukbench-14 and sample_images, with resized, cropped and flipped variants) is
//! indexed while the folder changes between runs and each run is killed: first at each named fault point
//! (`VSEARCH_FAULT_ABORT`: the engine aborts the process right there), then with SIGKILL at random moments.
//! After every kill a re-run must complete, `vsearch index --check` must find the collection consistent, and
//! every file of the folder must be in the catalog exactly once. Meanwhile a second process queries the
//! collection in a loop and must never fail to open it. Not timed: the kill moments are random, the
//! assertions are about state.
//!
//! Needs the Lite0 weights (`vsearch models fetch efficientnet-lite0`).

use crate::common::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The engine's fault points, in the order a run passes them.
const FAULT_POINTS: [&str; 5] = [
    "decode",
    "embed",
    "catalog-commit",
    "index-save",
    "state-write",
];
/// Random SIGKILLs after the fault points.
const RANDOM_KILLS: usize = 20;

/// The photos currently in the indexed folder.
fn folder_files(dir: &Path) -> Vec<PathBuf> {
    photos_in(dir)
}

/// Changes the folder between runs: adds new photos from the pool, removes some and rewrites some (a
/// changed file). The first `protected` files (by name) are never touched, so the reader's id stays valid.
fn mutate(dir: &Path, pool: &mut Vec<PathBuf>, protected: &[PathBuf], rng: &mut StdRng) {
    for _ in 0..8 {
        if let Some(src) = pool.pop() {
            let name = src.file_name().expect("name");
            std::fs::copy(&src, dir.join(name)).expect("copy photo");
        }
    }
    let mut mutable: Vec<PathBuf> = folder_files(dir)
        .into_iter()
        .filter(|p| !protected.iter().any(|q| q.file_name() == p.file_name()))
        .collect();
    mutable.shuffle(rng);
    for p in mutable.iter().take(3) {
        std::fs::remove_file(p).expect("remove photo");
    }
    for p in mutable.iter().skip(3).take(2) {
        // New content under the same name: the photo mirrored.
        let img = image::open(p).expect("open photo").fliph();
        img.to_rgb8().save(p).expect("rewrite photo");
    }
}

/// Asserts that the collection is consistent and holds every file of the folder exactly once.
fn assert_consistent(dir: &Path, when: &str) {
    let report = check_report(dir);
    let problems = report["problems"].as_array().expect("problems");
    assert!(
        problems.is_empty(),
        "{when}: inconsistent collection: {report:#}"
    );
    let files = folder_files(dir).len() as u64;
    let ok = report["ok"].as_u64().expect("ok");
    let failed = report["failed"].as_u64().expect("failed");
    assert_eq!(
        ok + failed,
        files,
        "{when}: {files} files but the catalog holds {ok} + {failed}: {report:#}"
    );
    assert_eq!(failed, 0, "{when}: no photo should fail: {report:#}");
}

#[test]
fn killed_index_runs_leave_a_consistent_collection_and_readers_never_fail() {
    let seed: u64 = std::env::var("CRASH_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen());
    eprintln!("crash test seed {seed} (rerun with CRASH_TEST_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);

    let tmp = tempfile::tempdir().expect("tempdir");
    let pool_dir = tmp.path().join("pool");
    let dir = tmp.path().join("photos");
    std::fs::create_dir_all(&pool_dir).expect("mkdir");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let mut pool = write_photo_variants(&pool_dir, 240);
    pool.shuffle(&mut rng);

    // A committed collection of 100 photos to begin with; its first 20 are never changed.
    for src in pool.split_off(pool.len() - 100) {
        std::fs::copy(&src, dir.join(src.file_name().expect("name"))).expect("copy");
    }
    let started = Instant::now();
    index(&dir, &[]);
    let mut last_run = started.elapsed();
    assert_consistent(&dir, "first run");
    let protected: Vec<PathBuf> = folder_files(&dir).into_iter().take(20).collect();

    // The reader: opens the collection and queries by id 0 (a protected photo) until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let reader = {
        let (stop, reads, failures, dir) =
            (stop.clone(), reads.clone(), failures.clone(), dir.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let out = vsearch()
                    .args(["search", "--collection"])
                    .arg(&dir)
                    .args(["--id", "0", "-k", "3", "--json"])
                    .output()
                    .expect("run vsearch search");
                if out.status.success() {
                    reads.fetch_add(1, Ordering::SeqCst);
                } else {
                    failures
                        .lock()
                        .expect("lock")
                        .push(String::from_utf8_lossy(&out.stderr).into_owned());
                }
            }
        })
    };

    let fault_runs = FAULT_POINTS.iter().map(|p| Some(*p));
    let random_runs = std::iter::repeat_n(None, RANDOM_KILLS);
    for (round, fault) in fault_runs.chain(random_runs).enumerate() {
        mutate(&dir, &mut pool, &protected, &mut rng);
        let mut cmd = vsearch();
        cmd.arg("index")
            .arg(&dir)
            .args(["--model", MODEL])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let what = match fault {
            Some(point) => {
                cmd.env("VSEARCH_FAULT_ABORT", point);
                let status = cmd.status().expect("run vsearch index");
                assert!(
                    !status.success(),
                    "round {round}: the run passed fault point {point} without stopping"
                );
                format!("round {round}: aborted at {point}")
            }
            None => {
                let mut child = cmd.spawn().expect("spawn vsearch index");
                let limit = last_run.mul_f64(1.2).max(Duration::from_millis(50));
                let delay = limit.mul_f64(rng.gen::<f64>());
                std::thread::sleep(delay);
                child.kill().expect("kill"); // SIGKILL
                let status = child.wait().expect("wait");
                format!("round {round}: SIGKILL after {delay:?} ({status})")
            }
        };
        eprintln!("{what}");
        let rerun = Instant::now();
        index(&dir, &[]);
        last_run = rerun.elapsed();
        assert_consistent(&dir, &what);
    }

    stop.store(true, Ordering::SeqCst);
    reader.join().expect("reader thread");
    let failures = failures.lock().expect("lock");
    assert!(
        failures.is_empty(),
        "the reader failed {} times (of {} reads); first: {}",
        failures.len(),
        reads.load(Ordering::SeqCst) + failures.len(),
        failures[0]
    );
    assert!(reads.load(Ordering::SeqCst) > 0, "the reader never read");
}
