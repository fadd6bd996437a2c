//! `vsearch analytics` reads what a real `vsearch serve` recorded (the same figures `GET /api/analytics`
//! answers, and the counts of the requests made), prints them as text or JSON, and `vsearch analytics
//! purge` deletes them. Needs the ukbench-14 photos and the EfficientNet-Lite0 weights.

use crate::common::{index, json, run_err, run_ok, serve, ukbench, vsearch};
use serde_json::{json, Value};

const TOKEN: &str = "analytics-cli-token";

#[test]
fn analytics_report_what_the_server_recorded_and_purge_deletes_it() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..6 {
        let name = format!("ukbench{i:05}.jpg");
        std::fs::copy(ukbench().join(&name), dir.path().join(&name)).unwrap();
    }
    index(dir.path(), &[]);
    let server = serve(dir.path(), Some(TOKEN));
    let client = reqwest::blocking::Client::new();
    // Three searches, one of which finds nothing; the second result of the first is opened.
    let first = server.search(json!({"id": 0, "k": 4}));
    server.search(json!({"id": 1, "k": 4}));
    server.search(
        json!({"id": 2, "k": 4, "filter": {"must": [{"key": "folder", "match": {"value": "nowhere"}}]}}),
    );
    let r = client
        .post(format!("{}/api/analytics/events", server.base))
        .json(&json!({"action": "open", "id": first["results"][1]["id"], "search_id": first["search_id"], "position": 2}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);
    let api: Value = client
        .get(format!("{}/api/analytics?days=3", server.base))
        .bearer_auth(TOKEN)
        .send()
        .unwrap()
        .json()
        .unwrap();
    drop(server);

    let report = |extra: &[&str]| {
        run_ok(
            vsearch()
                .args(["analytics", "--collection"])
                .arg(dir.path())
                .args(["--days", "3"])
                .args(extra),
        )
    };
    let cli = json(&report(&["--json"]));
    assert_eq!(cli["searches"], 3);
    assert_eq!(cli["zero_result_searches"], 1);
    assert_eq!(cli["searches_with_open"], 1);
    assert_eq!(cli["click_through_rate"], 1.0 / 3.0);
    assert_eq!(cli["mrr"], 0.5 / 3.0);
    assert_eq!(cli["opens"], 1);
    for key in [
        "searches",
        "zero_result_rate",
        "click_through_rate",
        "mrr",
        "per_day",
        "latency",
        "query_kinds",
    ] {
        assert_eq!(cli[key], api[key], "{key}: the CLI and the API agree");
    }
    let text = String::from_utf8(report(&[]).stdout).unwrap();
    assert!(
        text.contains("searches 3, with no result 1 (33.3%), click-through 33.3%, MRR 0.167"),
        "{text}"
    );

    let out = run_ok(
        vsearch()
            .args(["analytics", "purge", "--collection"])
            .arg(dir.path()),
    );
    let said = String::from_utf8(out.stdout).unwrap();
    assert!(said.contains("deleted 4 rows"), "{said}");
    let cli = json(&report(&["--json"]));
    assert_eq!(
        (cli["searches"].clone(), cli["opens"].clone()),
        (json!(0), json!(0))
    );

    // A records folder where nothing was recorded.
    let empty = tempfile::tempdir().unwrap();
    let err = run_err(vsearch().args(["analytics", "--state"]).arg(empty.path()));
    assert!(err.contains("no search analytics in"), "{err}");
}
