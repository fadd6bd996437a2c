//! User reports and the review queue over the real HTTP server, on a real collection (the first 8
//! ukbench photos and three planted copies of one of them, indexed with EfficientNet-Lite0): distinct
//! reporters hide an image at the policy's threshold and not before, a reporter reporting twice counts
//! once, an address over the rate gets 429 with `Retry-After`, the admin endpoints answer 401/403
//! without/with a wrong token, resolve-block hides the image and its verified copies, resolve-dismiss
//! shows the image again, `vsearch_reports_open` follows the queue, and the audit log has every step.
//! Needs the Lite0 weights in the model cache (`vsearch models fetch efficientnet-lite0`).

use crate::common::{self, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use vsearch_engine::reports::{ReportPolicy, ReportStore};
use vsearch_engine::{index_folder, Collection};
use vsearch_testkit::planted::{plant_copies, COPIES};

const TOKEN: &str = "review-token";
/// The reported original: ukbench photo 4 (object 1, photos 4..7).
const ORIGINAL: &str = "ukbench00004.jpg";
/// The image reported and then dismissed (object 0).
const DISMISSED: &str = "ukbench00001.jpg";

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value, Option<String>) {
    let response = request.send().await.expect("request");
    let status = response.status();
    let retry = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body, retry)
}

async fn report(
    server: &Server,
    id: u64,
    reporter: &str,
    reason: &str,
) -> (StatusCode, Value, Option<String>) {
    send(
        server
            .client
            .post(server.url(&format!("/api/images/{id}/reports")))
            .json(
                &json!({"reason": reason, "reporter": reporter, "note": "seen on the front page"}),
            ),
    )
    .await
}

async fn shown(server: &Server, id: u64) -> bool {
    let status = server.get(&format!("/api/images/{id}/meta")).await.status();
    assert!(
        status == StatusCode::OK || status == StatusCode::GONE,
        "{status}"
    );
    status == StatusCode::OK
}

async fn reports_open(server: &Server) -> f64 {
    let body = server.get("/metrics").await.text().await.expect("metrics");
    let scrape = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string())))
        .expect("a Prometheus text exposition");
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == "vsearch_reports_open")
        .map(|s| match s.value {
            prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
            ref other => panic!("{other:?}"),
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_hide_at_the_threshold_and_review_blocks_or_restores() {
    let photos = common::photo_folder(8);
    let dir = photos.path();
    plant_copies(&common::ukbench().join(ORIGINAL), dir);
    let indexed = index_folder(dir, &common::lite0_options()).expect("index the photos");
    assert_eq!(indexed.indexed, 11, "{indexed:?}");
    let collection = Collection::open_without_model(dir).expect("open");
    let records = dir.join(".vsearch");
    let ids: HashMap<String, u64> = collection
        .images()
        .iter()
        .map(|m| (m.path.clone(), m.id))
        .collect();
    let original = ids[ORIGINAL];
    let copies: BTreeSet<u64> = COPIES.iter().map(|c| ids[*c]).collect();
    let dismissed = ids[DISMISSED];
    // Three distinct reporters within an hour hide an image; six reports per address per minute.
    ReportStore::open(&records)
        .expect("reports")
        .set_policy(&ReportPolicy {
            hide_after: 3,
            window_secs: 3600,
            per_minute: 6,
            ..ReportPolicy::default()
        })
        .expect("set the policy");

    let options = vsearch_server::ServeOptions {
        admin_token: Some(TOKEN.into()),
        reload_every: None,
        ..common::serve_options()
    };
    let server = Server::start(Arc::new(collection), options).await;
    let policy = common::expect_json(server.get("/api/reports/policy").await, "policy").await;
    assert_eq!(policy["hide_after"], 3);
    assert!(policy["reasons"]
        .as_array()
        .unwrap()
        .contains(&json!("fake_endorsement")));

    // Bad reports: a reason outside the policy, a note over its limit, no reporter, unknown image.
    let bad = [
        (
            json!({"reason": "ugly", "reporter": "r"}),
            original,
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"reason": "spam", "reporter": "r", "note": "x".repeat(1001)}),
            original,
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"reason": "spam", "reporter": " "}),
            original,
            StatusCode::BAD_REQUEST,
        ),
        (json!({"reason": "spam"}), original, StatusCode::BAD_REQUEST),
        (
            json!({"reason": "spam", "reporter": "r"}),
            999_999,
            StatusCode::NOT_FOUND,
        ),
    ];
    for (body, id, want) in bad {
        let (status, v, _) = send(
            server
                .client
                .post(server.url(&format!("/api/images/{id}/reports")))
                .json(&body),
        )
        .await;
        assert_eq!(status, want, "{body}: {v}");
    }

    // Reporter 1 reports the original; reporting it again counts once.
    let (s, v, _) = report(&server, original, "reporter-1", "fake_endorsement").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        (
            v["counted"].clone(),
            v["reporters"].clone(),
            v["hidden"].clone()
        ),
        (json!(true), json!(1), json!(false))
    );
    let case = v["case"].as_u64().unwrap();
    let (s, v, _) = report(&server, original, "reporter-1", "spam").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (
            v["counted"].clone(),
            v["reporters"].clone(),
            v["case"].clone()
        ),
        (json!(false), json!(1), json!(case))
    );
    // Two reporters: not yet hidden.
    let (s, v, _) = report(&server, original, "reporter-2", "fake_endorsement").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        (v["reporters"].clone(), v["hidden"].clone()),
        (json!(2), json!(false))
    );
    assert!(
        shown(&server, original).await,
        "not hidden below the threshold"
    );
    // The third distinct reporter hides it pending review.
    let (s, v, _) = report(&server, original, "reporter-3", "spam").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        (v["reporters"].clone(), v["hidden"].clone()),
        (json!(3), json!(true))
    );
    assert!(!shown(&server, original).await, "hidden at the threshold");
    // Its copies are not hidden by the hold (reach: the example alone).
    for &c in &copies {
        assert!(shown(&server, c).await);
    }
    let search = common::expect_json(
        server
            .post_json(json!({"id": ids[COPIES[2]], "k": 11}))
            .await,
        "search",
    )
    .await;
    let found: BTreeSet<u64> = search["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    assert!(!found.contains(&original) && found.len() == 10, "{search}");

    // The second image: three reporters hide it too (reports 5 and 6 of this address this minute).
    for (i, r) in ["reporter-1", "reporter-2"].into_iter().enumerate() {
        let (s, v, _) = report(&server, dismissed, r, "harmful").await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(v["reporters"], i + 1);
    }
    // Rate limit: the sixth report of this address goes through, the seventh gets 429 + Retry-After.
    let (s, v, _) = report(&server, dismissed, "reporter-3", "harmful").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["hidden"], true);
    let (s, v, retry) = report(&server, ids["ukbench00002.jpg"], "reporter-9", "spam").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
    let retry: u64 = retry.expect("Retry-After").parse().expect("seconds");
    assert!((1..=61).contains(&retry), "{retry}");
    assert!(v["error"].as_str().unwrap().contains("retry in"), "{v}");
    assert_eq!(reports_open(&server).await, 2.0);

    // The queue needs the admin token: 401 without, 403 with a wrong one.
    for (token, want) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some("wrong"), StatusCode::FORBIDDEN),
    ] {
        let auth = |r: reqwest::RequestBuilder| match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        };
        let (s, _, _) = send(auth(server.client.get(server.url("/api/reports")))).await;
        assert_eq!(s, want);
        let (s, _, _) = send(
            auth(
                server
                    .client
                    .post(server.url(&format!("/api/reports/{case}/resolve"))),
            )
            .json(&json!({"action": "dismiss", "reason": "x"})),
        )
        .await;
        assert_eq!(s, want);
    }

    // The queue, most reported first: both cases, grouped reasons, distinct reporters, verified copies.
    let (s, queue, _) = send(
        server
            .client
            .get(server.url("/api/reports?order=most_reported"))
            .bearer_auth(TOKEN),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{queue}");
    let cases = queue["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2, "{queue}");
    let first = &cases[0];
    assert_eq!(first["id"], case);
    assert_eq!(first["image"], original);
    assert_eq!(first["path"], ORIGINAL);
    assert_eq!(first["reporters"], 3);
    assert_eq!(first["hidden_pending_review"], true);
    assert_eq!(
        first["reasons"],
        json!([{"reason": "fake_endorsement", "reports": 2}, {"reason": "spam", "reports": 1}])
    );
    assert_eq!(first["reports"].as_array().unwrap().len(), 3);
    let verified: BTreeSet<u64> = first["copies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_u64().unwrap())
        .collect();
    assert_eq!(
        verified, copies,
        "the planted copies are its verified copies: {first}"
    );
    let dismissed_case = cases[1]["id"].as_u64().unwrap();
    assert_eq!(cases[1]["image"], dismissed);

    // Resolve with a block reaching the copies: the original and its copies are hidden, the hold goes.
    let (s, v, _) = send(
        server
            .client
            .post(server.url(&format!("/api/reports/{case}/resolve")))
            .bearer_auth(TOKEN)
            .json(&json!({"action": "block", "near": true, "by": "reviewer-a"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "blocked");
    assert_eq!(v["closed_by"], "reviewer-a");
    let block = v["block"].as_u64().expect("the block made");
    assert!(!shown(&server, original).await);
    for &c in &copies {
        assert!(
            !shown(&server, c).await,
            "copy {c} hidden by the resolution"
        );
    }
    let (_, blocks, _) = send(
        server
            .client
            .get(server.url("/api/blocks"))
            .bearer_auth(TOKEN),
    )
    .await;
    let in_force: Vec<(u64, String)> = blocks["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["id"].as_u64().unwrap(),
                b["by"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(in_force.contains(&(block, "reviewer-a".into())), "{blocks}");
    assert_eq!(
        in_force.len(),
        2,
        "the real block and the other case's hold: {blocks}"
    );
    // A closed case cannot be resolved again; an unknown one is 404.
    let (s, _, _) = send(
        server
            .client
            .post(server.url(&format!("/api/reports/{case}/resolve")))
            .bearer_auth(TOKEN)
            .json(&json!({"action": "dismiss", "reason": "again"})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _, _) = send(
        server
            .client
            .post(server.url("/api/reports/99999/resolve"))
            .bearer_auth(TOKEN)
            .json(&json!({"action": "dismiss", "reason": "x"})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A dismissal needs a reason.
    let (s, _, _) = send(
        server
            .client
            .post(server.url(&format!("/api/reports/{dismissed_case}/resolve")))
            .bearer_auth(TOKEN)
            .json(&json!({"action": "dismiss"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Dismiss the other case: its image shows again, in searches too.
    assert!(!shown(&server, dismissed).await);
    let (s, v, _) = send(
        server
            .client
            .post(server.url(&format!("/api/reports/{dismissed_case}/resolve")))
            .bearer_auth(TOKEN)
            .json(&json!({"action": "dismiss", "reason": "not harmful", "by": "reviewer-b"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "dismissed");
    assert!(shown(&server, dismissed).await, "restored by the dismissal");
    let search = common::expect_json(
        server
            .post_json(json!({"id": ids["ukbench00000.jpg"], "k": 4}))
            .await,
        "search",
    )
    .await;
    assert!(
        search["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == dismissed),
        "{search}"
    );
    assert_eq!(reports_open(&server).await, 0.0);
    let (_, queue, _) = send(
        server
            .client
            .get(server.url("/api/reports"))
            .bearer_auth(TOKEN),
    )
    .await;
    assert_eq!(queue["cases"], json!([]));
    let (_, all, _) = send(
        server
            .client
            .get(server.url("/api/reports?status=all"))
            .bearer_auth(TOKEN),
    )
    .await;
    assert_eq!(all["cases"].as_array().unwrap().len(), 2);
    server.stop().await;

    // The audit log has every step, in order.
    let events = vsearch_engine::blocks::read_audit(&records).expect("audit log");
    let steps: Vec<String> = events
        .iter()
        .map(|e| {
            let action = e["action"].as_str().unwrap_or("?");
            match action {
                "block" | "unblock" => format!("{action} by {}", e["by"].as_str().unwrap_or("?")),
                "resolve" => format!(
                    "resolve {} case {}",
                    e["resolution"].as_str().unwrap_or("?"),
                    e["case"]
                ),
                "hide_pending_review" | "report" => {
                    format!("{action} case {} image {}", e["case"], e["image"])
                }
                other => other.to_string(),
            }
        })
        .collect();
    let o = original;
    let d = dismissed;
    let want: Vec<String> = [
        format!("report case {case} image {o}"),
        format!("report case {case} image {o}"),
        format!("report case {case} image {o}"),
        "block by report policy".into(),
        format!("hide_pending_review case {case} image {o}"),
        format!("report case {dismissed_case} image {d}"),
        format!("report case {dismissed_case} image {d}"),
        format!("report case {dismissed_case} image {d}"),
        "block by report policy".into(),
        format!("hide_pending_review case {dismissed_case} image {d}"),
        "block by reviewer-a".into(),
        "unblock by reviewer-a".into(),
        format!("resolve block case {case}"),
        "unblock by reviewer-b".into(),
        format!("resolve dismiss case {dismissed_case}"),
    ]
    .to_vec();
    assert_eq!(steps, want, "{events:#?}");
}
