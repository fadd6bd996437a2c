//! `vsearch search` with several examples, weights, crops, filters and pages, and `vsearch index --watch`,
//! through the real binary over ukbench photos (EfficientNet-Lite0).

use crate::common;

use crate::common::{index, json, run_err, run_ok, ukbench, vsearch};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use vsearch_engine::{Board, Collection, Example, ImageId, Query, QueryOptions};

/// A folder with the first `n` ukbench photos.
fn photos(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for i in 0..n {
        let name = format!("ukbench{i:05}.jpg");
        std::fs::copy(ukbench().join(&name), dir.path().join(&name)).expect("copy");
    }
    dir
}

fn ids(body: &Value) -> Vec<u64> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["id"].as_u64().expect("id"))
        .collect()
}

fn search(dir: &Path, args: &[&str]) -> Value {
    json(&run_ok(
        vsearch()
            .arg("search")
            .arg("--collection")
            .arg(dir)
            .args(["--json", "--index", "flat"])
            .args(args),
    ))
}

#[test]
fn examples_weights_and_pages_from_the_command_line() {
    let dir = photos(8);
    index(dir.path(), &["--index", "flat"]);
    // --weight applies to the example before it: 0 at weight 1, 4 at weight 0.5, away from 2 at 0.3.
    let board = search(
        dir.path(),
        &[
            "--id", "0", "--id", "4", "--weight", "0.5", "--not-id", "2", "--weight", "0.3", "-k",
            "8",
        ],
    );
    let collection = Collection::open_without_model(dir.path()).expect("open");
    let example = |id, weight| Example {
        weight,
        ..Example::new(Query::Id(ImageId::Number(id)))
    };
    let expected = collection
        .search(
            &Query::Board(Board {
                positive: vec![example(0, 1.0), example(4, 0.5)],
                negative: vec![example(2, 0.3)],
            }),
            &QueryOptions {
                k: 8,
                index: Some(vsearch_engine::IndexKind::Flat),
                ..QueryOptions::default()
            },
        )
        .expect("engine board search");
    let expected_ids: Vec<u64> = expected
        .results
        .iter()
        .filter_map(|r| r.id.number())
        .collect();
    assert_eq!(ids(&board), expected_ids);
    // The weights matter: the same examples at other weights rank differently or score differently.
    let unweighted = search(
        dir.path(),
        &["--id", "0", "--id", "4", "--not-id", "2", "-k", "8"],
    );
    assert_ne!(unweighted["results"], board["results"]);
    // Pages.
    let all = search(dir.path(), &["--id", "3", "-k", "8"]);
    let mut paged = ids(&search(dir.path(), &["--id", "3", "-k", "3"]));
    paged.extend(ids(&search(
        dir.path(),
        &["--id", "3", "-k", "3", "--offset", "3"],
    )));
    paged.extend(ids(&search(
        dir.path(),
        &["--id", "3", "-k", "3", "--offset", "6"],
    )));
    assert_eq!(paged, ids(&all));
    // A crop needs the model; the region of photo 1 holding its object still finds photo 1 first.
    let crop = search(
        dir.path(),
        &["--id", "1", "--crop", "0.1,0.1,0.8,0.8", "-k", "4"],
    );
    assert_eq!(ids(&crop)[0], 1, "{crop}");
    // Mistakes are explained.
    let err = run_err(
        vsearch()
            .arg("search")
            .arg("--collection")
            .arg(dir.path())
            .args(["--weight", "2", "--id", "1"]),
    );
    assert!(
        err.contains("--weight applies to the example given before it"),
        "{err}"
    );
    let err = run_err(
        vsearch()
            .arg("search")
            .arg("--collection")
            .arg(dir.path())
            .args(["--id", "1", "--filter", "{\"must\": 3}"]),
    );
    assert!(err.contains("--filter"), "{err}");
}

#[test]
fn watch_indexes_files_as_they_arrive() {
    let dir = photos(2);
    let mut child = vsearch()
        .arg("index")
        .arg(dir.path())
        .args([
            "--model",
            common::MODEL,
            "--index",
            "flat",
            "--watch",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start vsearch index --watch");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(report) = serde_json::from_str::<Value>(&line) {
                if tx.send(report).is_err() {
                    break;
                }
            }
        }
    });
    let next = |what: &str| {
        rx.recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("no report after {what} within 120 s"))
    };
    // Runs that changed nothing are not reported, so each change is the next report.
    let first = next("start");
    assert_eq!(first["indexed"], 2, "{first}");
    // A new photo in a new subfolder, then one removed: each settles into a run.
    std::fs::create_dir(dir.path().join("new")).expect("mkdir");
    std::fs::copy(
        ukbench().join("ukbench00005.jpg"),
        dir.path().join("new/ukbench00005.jpg"),
    )
    .expect("copy");
    let started = Instant::now();
    let second = next("a new photo");
    assert_eq!(second["indexed"], 1, "{second}");
    std::fs::remove_file(dir.path().join("ukbench00000.jpg")).expect("remove");
    let third = next("a deleted photo");
    assert_eq!(third["removed"], 1, "{third}");
    let _ = child.kill();
    let _ = child.wait();
    eprintln!(
        "a new photo was indexed {:.1} s after it arrived",
        started.elapsed().as_secs_f64()
    );
    let listed = Collection::open_without_model(dir.path())
        .expect("open")
        .browse(0, 10, None)
        .expect("browse");
    let mut paths: Vec<String> = listed.images.into_iter().map(|m| m.path).collect();
    paths.sort();
    assert_eq!(paths, ["new/ukbench00005.jpg", "ukbench00001.jpg"]);
}
