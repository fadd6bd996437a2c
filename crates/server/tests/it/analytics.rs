//! Search analytics through the real server over a real collection (ukbench photos in two folders, indexed
//! with the tiny CLIP fixture, so that text queries run): the report's counts equal the requests the test
//! made (searches, zero results, opens at known positions give the click-through rate and MRR exactly);
//! nothing of a text query's words or an upload's bytes is in the database's files by default, and both
//! are with `keep_queries`; retention prunes at start; purge empties; the report needs the admin token
//! (401/403); `--no-analytics` records nothing.

use crate::common::{self, Server};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vsearch_engine::analytics::{
    now_ms, Action, ActionEvent, AnalyticsConfig, AnalyticsStore, Event, SearchId, DAY_MS,
    FILE_NAME,
};
use vsearch_engine::{index_folder, Collection, DeviceSpec, ImageId, IndexKind, ModelSpec};
use vsearch_server::ServeOptions;

const TOKEN: &str = "analytics-admin-token";
/// A word no photo's path or metadata holds: it may only reach the database through a text query.
const SECRET_WORD: &str = "zebracornflakes";

/// The tiny CLIP fixture as a model folder (its tokenizer is stored gzipped).
fn clip_tiny(into: &Path) -> PathBuf {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/clip-tiny");
    let model = into.join("clip-tiny");
    std::fs::create_dir_all(&model).expect("mkdir");
    for file in [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
    ] {
        std::fs::copy(fixture.join(file), model.join(file)).expect("copy the fixture");
    }
    let gz = std::fs::File::open(fixture.join("tokenizer.json.gz")).expect("fixture");
    let mut tokenizer = std::fs::File::create(model.join("tokenizer.json")).expect("create");
    std::io::copy(&mut flate2::read::GzDecoder::new(gz), &mut tokenizer).expect("gunzip");
    model
}

/// ukbench photos 0..8 in `a/`, 8..12 in `b/`, indexed with the tiny CLIP fixture (HNSW and flat).
fn collection() -> (tempfile::TempDir, PathBuf, Arc<Collection>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = tempfile::tempdir().expect("temp dir");
    for i in 0..12 {
        let name = format!("ukbench{i:05}.jpg");
        let folder = dir.path().join(if i < 8 { "a" } else { "b" });
        std::fs::create_dir_all(&folder).expect("mkdir");
        std::fs::copy(common::ukbench().join(&name), folder.join(&name)).expect("copy");
    }
    let options = vsearch_engine::IndexOptions {
        model: ModelSpec::Dir(clip_tiny(model.path())),
        indexes: vec![IndexKind::Hnsw, IndexKind::Flat],
        ..common::lite0_options()
    };
    let report = index_folder(dir.path(), &options).expect("index the photos");
    assert_eq!(report.indexed, 12, "{report:?}");
    let collection = Collection::open(dir.path(), &DeviceSpec::Cpu).expect("open the collection");
    let records = dir.path().join(".vsearch");
    (dir, records, Arc::new(collection))
}

fn options(analytics: AnalyticsConfig) -> ServeOptions {
    ServeOptions {
        admin_token: Some(TOKEN.into()),
        analytics,
        ..common::serve_options()
    }
}

async fn ok(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.expect("JSON");
    assert!(status.is_success(), "{status}: {body}");
    body
}

async fn event(server: &Server, body: Value) -> reqwest::Response {
    server
        .client
        .post(server.url("/api/analytics/events"))
        .json(&body)
        .send()
        .await
        .expect("POST event")
}

async fn report(server: &Server, days: u32) -> Value {
    ok(server
        .client
        .get(server.url(&format!("/api/analytics?days={days}")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("GET analytics"))
    .await
}

/// The bytes of the database and its write-ahead log.
fn database_bytes(records: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for suffix in ["", "-wal"] {
        if let Ok(b) = std::fs::read(records.join(format!("{FILE_NAME}{suffix}"))) {
            bytes.extend(b);
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// How many of the upload's 64-byte pieces the database files hold, of how many (SQLite splits a large
/// blob over pages, so a piece across a page boundary is not found whole even when the blob is stored).
fn upload_pieces_found(bytes: &[u8], upload: &[u8]) -> (usize, usize) {
    let pieces: Vec<&[u8]> = upload.chunks_exact(64).collect();
    let found = pieces.iter().filter(|p| contains(bytes, p)).count();
    (found, pieces.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_count_the_requests_made() {
    let (_dir, records, collection) = collection();
    let server = Server::start(collection, options(AnalyticsConfig::default())).await;
    let upload = common::photo("ukbench00013.jpg");

    // 10 searches: 5 by id, 2 by text, 1 upload, 2 by id with a filter that keeps nothing.
    let mut answers = Vec::new();
    for id in 0..5 {
        answers.push(ok(server.post_json(json!({"id": id, "k": 5})).await).await);
    }
    for _ in 0..2 {
        answers.push(
            ok(server
                .post_json(json!({"text": format!("a {SECRET_WORD} on a table"), "k": 5}))
                .await)
            .await,
        );
    }
    answers.push(ok(server.upload(upload.clone(), &[("k", "5")]).await).await);
    for id in [1, 2] {
        let nowhere = json!({"must": [{"key": "folder", "match": {"value": "nowhere"}}]});
        let answer = ok(server
            .post_json(json!({"id": id, "k": 5, "filter": nowhere}))
            .await)
        .await;
        assert_eq!(answer["results"].as_array().unwrap().len(), 0);
        answers.push(answer);
    }
    let ids: Vec<&str> = answers
        .iter()
        .map(|a| a["search_id"].as_str().expect("a search_id"))
        .collect();
    let unique: std::collections::HashSet<&&str> = ids.iter().collect();
    assert_eq!(unique.len(), 10, "each answer has its own search id");
    let result =
        |search: usize, position: usize| answers[search]["results"][position - 1]["id"].clone();

    // Opens: search 0 at position 1; search 1 at positions 3 then 2 (the best, 2, counts); search 5 (text)
    // at position 4. A pin from search 2 (not an open) and a view from browsing.
    for (search, position) in [(0, 1), (1, 3), (1, 2), (5, 4)] {
        let r = event(
            &server,
            json!({"action": "open", "id": result(search, position),
            "search_id": ids[search], "position": position}),
        )
        .await;
        assert_eq!(r.status(), 202);
        assert_eq!(ok(r).await["recorded"], true);
    }
    let r = event(
        &server,
        json!({"action": "pin", "id": result(2, 1), "search_id": ids[2], "position": 1}),
    )
    .await;
    assert_eq!(r.status(), 202);
    assert_eq!(
        event(&server, json!({"action": "view", "id": 11}))
            .await
            .status(),
        202
    );

    // Bad events are refused and not counted.
    assert_eq!(
        event(
            &server,
            json!({"action": "open", "id": 999, "search_id": ids[0], "position": 1})
        )
        .await
        .status(),
        404
    );
    assert_eq!(
        event(
            &server,
            json!({"action": "open", "id": 1, "search_id": "not-hex", "position": 1})
        )
        .await
        .status(),
        400
    );
    assert_eq!(
        event(
            &server,
            json!({"action": "open", "id": 1, "search_id": ids[0], "position": 0})
        )
        .await
        .status(),
        400
    );
    assert_eq!(
        event(&server, json!({"action": "stare", "id": 1}))
            .await
            .status(),
        400
    );
    let big = json!({"action": "view", "id": 1, "search_id": "a".repeat(2000)});
    assert_eq!(event(&server, big).await.status(), 413);

    // The admin token: 401 without, 403 with a wrong one.
    let r = server.get("/api/analytics").await;
    assert_eq!(r.status(), 401);
    let r = server
        .client
        .get(server.url("/api/analytics"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = server
        .client
        .get(server.url("/api/analytics?days=0"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    let r = report(&server, 7).await;
    assert_eq!(r["days"], 7);
    assert_eq!(r["searches"], 10);
    assert_eq!(r["zero_result_searches"], 2);
    assert_eq!(r["zero_result_rate"], 0.2);
    assert_eq!(r["searches_with_open"], 3);
    assert_eq!(r["click_through_rate"], 0.3);
    let mrr = r["mrr"].as_f64().unwrap();
    assert!((mrr - (1.0 + 0.5 + 0.25) / 10.0).abs() < 1e-12, "mrr {mrr}");
    assert_eq!(
        (r["opens"].clone(), r["pins"].clone(), r["views"].clone()),
        (json!(4), json!(1), json!(5))
    );
    let days = r["per_day"].as_array().unwrap();
    assert_eq!(days.len(), 7);
    assert_eq!(days[6]["searches"], 10);
    assert_eq!(days[6]["zero_results"], 2);
    assert_eq!(days[6]["with_open"], 3);
    let kinds: Vec<(String, u64)> = r["query_kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["name"].as_str().unwrap().to_string(),
                k["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("id".to_string(), 7),
            ("text".into(), 2),
            ("image".into(), 1)
        ]
    );
    assert_eq!(r["filter_keys"], json!([{"name": "folder", "count": 2}]));
    let latency = r["latency"].as_array().unwrap();
    let timed: u64 = latency
        .iter()
        .map(|l| l["searches"].as_u64().unwrap())
        .sum();
    assert_eq!(timed, 10);
    for l in latency {
        assert!(l["p50_ms"].as_f64().unwrap() > 0.0);
        assert!(l["p99_ms"].as_f64().unwrap() >= l["p50_ms"].as_f64().unwrap());
    }
    // Views by folder: the five viewed images' folders, as the collection has them.
    let mut want: std::collections::BTreeMap<String, u64> = Default::default();
    for (search, position) in [(0, 1), (1, 3), (1, 2), (5, 4)] {
        let path = answers[search]["results"][position - 1]["path"]
            .as_str()
            .unwrap();
        *want
            .entry(path.split('/').next().unwrap().to_string())
            .or_default() += 1;
    }
    let viewed = ok(server.get("/api/images/11/meta").await).await;
    *want
        .entry(viewed["folder"].as_str().unwrap().to_string())
        .or_default() += 1;
    let got: std::collections::BTreeMap<String, u64> = r["reports_per_1000_views"]["by_folder"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["name"].as_str().unwrap().to_string(),
                g["views"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(r["resolution"]["resolved"], 0);

    // Reports of images of known folders: two reporters of image 11 and one of image 5 through the
    // API, and one of image 3 filed in the reports store two hours ago, whose case a reviewer then
    // dismisses. The report's rates and time to resolution are these.
    let folder_of = |meta: &Value| meta["folder"].as_str().unwrap().to_string();
    let mut reports_by_folder: std::collections::BTreeMap<String, u64> = Default::default();
    for (id, reporter) in [(11, "reporter-1"), (11, "reporter-2"), (5, "reporter-1")] {
        let filed = server
            .client
            .post(server.url(&format!("/api/images/{id}/reports")))
            .json(&json!({"reason": "spam", "reporter": reporter}))
            .send()
            .await
            .expect("POST report");
        assert_eq!(filed.status(), 201);
        let meta = ok(server.get(&format!("/api/images/{id}/meta")).await).await;
        *reports_by_folder.entry(folder_of(&meta)).or_default() += 1;
    }
    let early = ok(server.get("/api/images/3/meta").await).await;
    *reports_by_folder.entry(folder_of(&early)).or_default() += 1;
    let filed_at = now_ms() / 1000 - 2 * 3600;
    let mut store = vsearch_engine::reports::ReportStore::open(&records).expect("reports store");
    let policy = store.policy().expect("policy");
    let early_case = store
        .file(
            &vsearch_engine::reports::store::ReportInput {
                image: ImageId::from(3u64),
                reason: "spam".into(),
                note: None,
                reporter: "early-reporter".into(),
                address: "192.0.2.7".into(),
                path: early["path"].as_str().unwrap().to_string(),
                labels: Vec::new(),
            },
            &policy,
            filed_at,
        )
        .expect("file a report two hours ago")
        .case;
    let resolved = server
        .client
        .post(server.url(&format!("/api/reports/{early_case}/resolve")))
        .bearer_auth(TOKEN)
        .json(&json!({"action": "dismiss", "reason": "not spam", "by": "reviewer"}))
        .send()
        .await
        .expect("resolve");
    assert_eq!(resolved.status(), 200);
    let resolved_at = now_ms() / 1000;
    let r = report(&server, 7).await;
    let rates: std::collections::BTreeMap<String, (u64, u64, Option<f64>)> = r
        ["reports_per_1000_views"]["by_folder"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["name"].as_str().unwrap().to_string(),
                (
                    g["views"].as_u64().unwrap(),
                    g["reports"].as_u64().unwrap(),
                    g["per_1000_views"].as_f64(),
                ),
            )
        })
        .collect();
    for (folder, reports) in &reports_by_folder {
        let views = want.get(folder).copied().unwrap_or(0);
        let per_1000 = (views > 0).then(|| *reports as f64 * 1000.0 / views as f64);
        assert_eq!(
            rates.get(folder),
            Some(&(views, *reports, per_1000)),
            "folder {folder}: {r}"
        );
    }
    assert_eq!(r["resolution"]["reported"], 3, "images 11, 5 and 3: {r}");
    assert_eq!(r["resolution"]["resolved"], 1, "{r}");
    let median = r["resolution"]["median_hours"].as_f64().expect("a median");
    let closed = store
        .case(early_case)
        .expect("the case")
        .closed_at
        .expect("closed");
    assert!(
        (filed_at + 2 * 3600..=resolved_at).contains(&closed),
        "closed at {closed}"
    );
    assert!(
        (median - (closed - filed_at) as f64 / 3600.0).abs() < 1e-9,
        "median {median} h, the case took {} s",
        closed - filed_at
    );
    assert!((2.0..=(resolved_at - filed_at) as f64 / 3600.0).contains(&median));

    // Privacy by default: neither the text query's words nor the upload's bytes are in the files.
    let bytes = database_bytes(&records);
    assert!(!bytes.is_empty());
    assert!(
        !contains(&bytes, SECRET_WORD.as_bytes()),
        "the text query was stored"
    );
    assert!(
        !contains(&bytes, &upload[upload.len() / 2..upload.len() / 2 + 64]),
        "the upload was stored"
    );

    // Nothing was dropped.
    let metrics = server.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l == "vsearch_analytics_events_dropped_total 0"),
        "{metrics}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_are_kept_only_when_the_operator_turns_it_on() {
    let (_dir, records, collection) = collection();
    let keep = AnalyticsConfig {
        keep_queries: true,
        ..AnalyticsConfig::default()
    };
    let server = Server::start(collection, options(keep)).await;
    let upload = common::photo("ukbench00013.jpg");
    ok(server
        .post_json(json!({"text": format!("a {SECRET_WORD}"), "k": 3}))
        .await)
    .await;
    ok(server.upload(upload.clone(), &[("k", "3")]).await).await;
    assert_eq!(report(&server, 1).await["searches"], 2);
    let bytes = database_bytes(&records);
    assert!(
        contains(&bytes, SECRET_WORD.as_bytes()),
        "the text query is kept"
    );
    let (found, pieces) = upload_pieces_found(&bytes, &upload);
    assert!(
        found * 10 >= pieces * 9,
        "the upload is kept: {found} of {pieces} pieces found"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_prunes_at_start_and_purge_empties() {
    let (_dir, records, collection) = collection();
    let view = |at_ms| {
        Event::Action(ActionEvent {
            at_ms,
            action: Action::View,
            image: ImageId::Number(1),
            search: Some(SearchId(1)),
            position: Some(1),
            folder: "a".into(),
            labels: Vec::new(),
        })
    };
    {
        let mut store = AnalyticsStore::open(&records).unwrap();
        store
            .insert(&[
                view(now_ms() - 40 * DAY_MS),
                view(now_ms() - 20 * DAY_MS),
                view(now_ms()),
            ])
            .unwrap();
        assert_eq!(store.counts().unwrap(), (0, 3));
    }
    let thirty_days = AnalyticsConfig {
        retention_days: 30,
        ..AnalyticsConfig::default()
    };
    let server = Server::start(collection, options(thirty_days)).await;
    let store = AnalyticsStore::open(&records).unwrap();
    assert_eq!(
        store.counts().unwrap(),
        (0, 2),
        "the 40-day-old row is gone"
    );
    assert_eq!(report(&server, 30).await["views"], 2);
    assert_eq!(report(&server, 1).await["views"], 1);
    ok(server.post_json(json!({"id": 3, "k": 3})).await).await;
    assert_eq!(report(&server, 1).await["searches"], 1);
    let mut store = AnalyticsStore::open(&records).unwrap();
    assert_eq!(store.purge().unwrap(), 3);
    let r = report(&server, 30).await;
    assert_eq!(
        (r["searches"].clone(), r["views"].clone()),
        (json!(0), json!(0))
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_analytics_records_nothing() {
    let (_dir, records, collection) = collection();
    let off = AnalyticsConfig {
        enabled: false,
        ..AnalyticsConfig::default()
    };
    let server = Server::start(collection, options(off)).await;
    let answer = ok(server.post_json(json!({"id": 1, "k": 3})).await).await;
    assert!(answer.get("search_id").is_none(), "{answer}");
    let r = event(&server, json!({"action": "view", "id": 1})).await;
    assert_eq!(r.status(), 202);
    assert_eq!(ok(r).await["recorded"], false);
    let r = server
        .client
        .get(server.url("/api/analytics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert!(!records.join(FILE_NAME).exists());
    server.stop().await;
}
