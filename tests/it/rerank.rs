//! The learned re-ranker end to end, on the ukbench-14 photos indexed with EfficientNet-Lite0: trained on
//! simulated users (`vsearch rank simulate`) it beats the cosine order on queries held out of training,
//! and served it never shows a blocked image; with too little data it stays off and says so; a damaged
//! model file is reported and the server keeps the cosine order; a new model is served without a
//! restart.

use crate::common::{index, json, run_err, run_ok, serve, ukbench, vsearch, Server};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};
use vsearch_engine::analytics::{AnalyticsStore, LoggedSearch};
use vsearch_engine::ranking::{FEATURES_VERSION, FEATURE_NAMES};

fn copy_photos(dir: &Path, count: usize) {
    for i in 0..count {
        let name = format!("ukbench{i:05}.jpg");
        std::fs::copy(ukbench().join(&name), dir.join(&name)).unwrap();
    }
}

fn get(server: &Server, path: &str) -> Value {
    reqwest::blocking::get(format!("{}{path}", server.base))
        .unwrap()
        .json()
        .unwrap()
}

fn ids(answer: &Value) -> Vec<Value> {
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect()
}

/// Polls `/api/collection` until `done` holds of its `reranker` (the server reloads every second).
fn wait_for_reranker(server: &Server, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let reranker = get(server, "/api/collection")["reranker"].clone();
        if done(&reranker) {
            return reranker;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the server did not switch its re-ranker: {reranker}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits for the analytics writer to store a search with an open and its features.
fn wait_for_logged_open(records: &Path) -> LoggedSearch {
    let start = Instant::now();
    loop {
        if let Ok(Some(store)) = AnalyticsStore::open_existing(records) {
            let logged = store.logged_searches(FEATURES_VERSION).unwrap();
            if let Some(s) = logged.into_iter().find(|s| !s.chosen.is_empty()) {
                return s;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no search with its features and an open was recorded"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn trained_on_simulated_users_it_beats_the_cosine_order_and_shows_no_blocked_image() {
    let dir = tempfile::tempdir().unwrap();
    copy_photos(dir.path(), 56);
    index(dir.path(), &[]);
    let state = tempfile::tempdir().unwrap();
    let out = run_ok(
        vsearch()
            .args(["rank", "simulate", "--json", "--collection"])
            .arg(dir.path())
            .arg("--state")
            .arg(state.path()),
    );
    let sim = json(&out);
    let held = &sim["held_out_queries"];
    let (cosine, model) = (
        held["cosine"]["ndcg_at_10"].as_f64().unwrap(),
        held["model"]["ndcg_at_10"].as_f64().unwrap(),
    );
    println!(
        "rank simulate on ukbench-14 (Lite0): {} sessions, {} opens; {} held-out queries of {} objects: \
         NDCG@10 cosine {cosine:.4}, re-ranked {model:.4}; MRR cosine {:.4}, re-ranked {:.4}",
        sim["sessions"],
        sim["opens"],
        held["searches"],
        sim["held_out_objects"],
        held["cosine"]["mrr"],
        held["model"]["mrr"],
    );
    assert_eq!(sim["training"]["outcome"], "trained", "{sim}");
    assert_eq!(
        held["searches"], 100,
        "5 held-out objects x 4 photos x 5 crops"
    );
    assert!(
        model > cosine,
        "the re-ranker must beat the cosine order on held-out queries: {model} <= {cosine}"
    );

    // The trained model, served: a blocked image stays out of the re-ranked answers.
    std::fs::copy(
        state.path().join("reranker.json"),
        dir.path().join(".vsearch/reranker.json"),
    )
    .unwrap();
    let server = serve(dir.path(), None);
    let reranker = get(&server, "/api/collection")["reranker"].clone();
    assert_eq!(reranker, json!({"on": true, "version": 1}));
    let before = server.search(json!({"id": 0, "k": 10}));
    assert_eq!(before["ranking"]["steps"], json!(["rescore:logistic@1"]));
    let blocked = ids(&before)[1].clone();
    drop(server);
    run_ok(
        vsearch()
            .args(["block", "--reason", "test takedown", "--collection"])
            .arg(dir.path())
            .args(["--id", &blocked.to_string()]),
    );
    let server = serve(dir.path(), None);
    for query in 0..12 {
        if json!(query) == blocked {
            continue;
        }
        let answer = server.search(json!({"id": query, "k": 10}));
        assert_eq!(answer["ranking"]["steps"], json!(["rescore:logistic@1"]));
        assert_eq!(answer["results"].as_array().unwrap().len(), 10);
        assert!(
            !ids(&answer).contains(&blocked),
            "blocked image {blocked} shown for query {query}: {answer}"
        );
    }
}

#[test]
fn without_enough_data_or_with_a_damaged_model_it_keeps_the_cosine_order() {
    let dir = tempfile::tempdir().unwrap();
    copy_photos(dir.path(), 12);
    index(dir.path(), &[]);
    let records = dir.path().join(".vsearch");
    let server = serve(dir.path(), None);
    let reranker = get(&server, "/api/collection")["reranker"].clone();
    assert_eq!(reranker["on"], false);
    let reason = reranker["reason"].as_str().unwrap();
    assert!(reason.contains("not trained yet"), "{reason}");
    let cosine = server.search(json!({"id": 0, "k": 8}));
    assert_eq!(cosine["ranking"]["steps"], json!([]), "{cosine}");
    let scores: Vec<f64> = cosine["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/api/analytics/events", server.base))
        .json(&json!({"action": "open", "id": cosine["results"][2]["id"], "search_id": cosine["search_id"], "position": 3}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);

    // The server recorded the features of what it showed, the open beside them.
    let logged = wait_for_logged_open(&records);
    assert_eq!(logged.features.rows(), 8);
    assert_eq!(logged.features.width, FEATURE_NAMES.len());
    assert_eq!(logged.chosen, [3]);
    let cosine_at = FEATURE_NAMES.iter().position(|n| *n == "cosine").unwrap();
    let recorded: Vec<f64> = (0..8)
        .map(|i| f64::from(logged.features.row(i).unwrap()[cosine_at]))
        .collect();
    for (r, s) in recorded.iter().zip(&scores) {
        assert!((r - s).abs() < 1e-5, "{recorded:?} {scores:?}");
    }

    // Too little data: no model, and it says so.
    let out = run_ok(
        vsearch()
            .args(["rank", "train", "--collection"])
            .arg(dir.path()),
    );
    let said = String::from_utf8(out.stdout).unwrap();
    assert!(
        said.contains("not enough data")
            && said.contains("100 needed")
            && said.contains("stays off"),
        "{said}"
    );
    assert!(!records.join("reranker.json").exists());
    let err = run_err(
        vsearch()
            .args(["rank", "eval", "--collection"])
            .arg(dir.path()),
    );
    assert!(
        err.contains("no re-ranker in") && err.contains("rank train"),
        "{err}"
    );

    // A damaged model: reported, and the cosine order stays.
    std::fs::write(
        records.join("reranker.json"),
        b"{\"format\": 1, \"weights\": [1,",
    )
    .unwrap();
    let reranker = wait_for_reranker(&server, |r| {
        r["reason"]
            .as_str()
            .is_some_and(|s| s.contains("reranker.json"))
    });
    assert_eq!(reranker["on"], false, "{reranker}");
    let answer = server.search(json!({"id": 0, "k": 8}));
    assert_eq!(ids(&answer), ids(&cosine));
    assert_eq!(answer["ranking"]["steps"], json!([]), "{answer}");

    // A valid model is switched in without a restart: this one ranks by the lowest cosine first.
    let names = FEATURE_NAMES;
    let mut weights = vec![0.0; names.len()];
    weights[0] = -1.0;
    let model = json!({
        "format": 1, "version": 7, "features_version": FEATURES_VERSION,
        "features": names,
        "mean": vec![0.0; names.len()], "scale": vec![1.0; names.len()], "weights": weights, "intercept": 0.0,
        "trained_at_ms": 0, "searches": 0, "examples": 0, "positives": 0
    });
    std::fs::write(
        records.join("reranker.json"),
        serde_json::to_vec(&model).unwrap(),
    )
    .unwrap();
    wait_for_reranker(&server, |r| r["version"] == 7);
    let answer = server.search(json!({"id": 0, "k": 8}));
    assert_eq!(answer["ranking"]["steps"], json!(["rescore:logistic@7"]));
    // Each result's score is the model's (the probability of an open); retrieval's cosine beside it.
    let scores: Vec<f64> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["original_score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] <= w[1]), "{scores:?}");
    // From 12 photos, 8 of the 11 others and the query: the 8 least like it, the query not among them.
    assert!(!ids(&answer).contains(&json!(0)), "{answer}");
}
