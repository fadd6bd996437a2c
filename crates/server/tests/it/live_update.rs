//! Live updates: a served collection switches to each state `vsearch index` commits, without a restart,
//! while queries keep being answered, each from one whole state.
//! Needs the Lite0 weights in the model cache (`vsearch models fetch efficientnet-lite0`).

use crate::common;

use crate::common::Server;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vsearch_engine::{index_folder, Collection, DeviceSpec};
use vsearch_server::ServeOptions;

/// What one answer of the querying client saw.
struct Seen {
    generation: u64,
    count: usize,
    ids: Vec<u64>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_photos_are_served_without_a_restart_and_no_answer_mixes_states() {
    let photos = common::photo_folder(4);
    let report = index_folder(photos.path(), &common::lite0_options()).expect("index 4 photos");
    assert_eq!(report.indexed, 4);
    let collection = Collection::open(photos.path(), &DeviceSpec::Cpu).expect("open");
    let server = Arc::new(
        Server::start(
            Arc::new(collection),
            ServeOptions {
                reload_every: Some(Duration::from_millis(200)),
                ..common::serve_options()
            },
        )
        .await,
    );
    let before: Value = server
        .get("/api/collection")
        .await
        .json()
        .await
        .expect("JSON");
    let first_generation = before["generation"].as_u64().expect("generation");
    assert!(first_generation > 0);

    // A second client queries in a loop the whole time: by id and by browsing.
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let (server, stop) = (server.clone(), stop.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let search = server
                    .post_json(json!({"id": 0, "k": 50, "index": "flat"}))
                    .await;
                assert_eq!(search.status(), StatusCode::OK);
                let body: Value = search.json().await.expect("JSON");
                let ids: Vec<u64> = body["results"]
                    .as_array()
                    .expect("results")
                    .iter()
                    .map(|r| r["id"].as_u64().expect("id"))
                    .collect();
                seen.push(Seen {
                    generation: body["generation"].as_u64().expect("generation"),
                    count: ids.len(),
                    ids,
                });
                let browse = server.get("/api/images?limit=100").await;
                assert_eq!(browse.status(), StatusCode::OK);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            seen
        })
    };

    // Four more photos arrive and are indexed while the server runs.
    for i in 4..8 {
        let name = format!("ukbench{i:05}.jpg");
        std::fs::copy(common::ukbench().join(&name), photos.path().join(&name)).expect("copy");
    }
    let dir = photos.path().to_path_buf();
    let report = tokio::task::spawn_blocking(move || index_folder(&dir, &common::lite0_options()))
        .await
        .expect("join")
        .expect("index 4 more photos");
    assert_eq!(report.indexed, 4);

    // Served within a few seconds.
    let started = Instant::now();
    let after = loop {
        let info: Value = server
            .get("/api/collection")
            .await
            .json()
            .await
            .expect("JSON");
        if info["count"] == 8 {
            break info;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the new photos were not served within 10 s: {info}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let new_generation = after["generation"].as_u64().expect("generation");
    assert!(new_generation > first_generation);
    let listed: Value = server
        .get("/api/images?limit=100")
        .await
        .json()
        .await
        .expect("JSON");
    let paths: BTreeSet<&str> = listed["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| i["path"].as_str().expect("path"))
        .collect();
    assert!(paths.contains("ukbench00007.jpg"), "{paths:?}");
    let new_id = listed["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["path"] == "ukbench00006.jpg")
        .and_then(|i| i["id"].as_u64())
        .expect("the new photo's id");
    let found: Value = server
        .post_json(json!({"id": new_id, "k": 1}))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(found["results"][0]["id"], new_id);

    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let seen = client.await.expect("the querying client saw no error");
    // Every answer is one whole state: 4 results before the switch, 8 after, never a mix.
    let mut counts: HashMap<u64, BTreeSet<usize>> = HashMap::new();
    for s in &seen {
        counts.entry(s.generation).or_default().insert(s.count);
        assert!(
            s.generation == first_generation || s.generation == new_generation,
            "generation {} was never committed with these photos",
            s.generation
        );
        let expected = if s.generation == first_generation {
            4
        } else {
            8
        };
        assert_eq!(
            s.count, expected,
            "generation {}: {:?}",
            s.generation, s.ids
        );
    }
    assert!(
        seen.iter().any(|s| s.generation == new_generation),
        "the looping client saw the new state: {counts:?}"
    );
    match Arc::try_unwrap(server) {
        Ok(server) => server.stop().await,
        Err(_) => panic!("the server is still shared"),
    }
}
