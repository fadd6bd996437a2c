//! `vsearch reports list|resolve|policy` on a real collection (the first 8 ukbench photos, indexed with
//! EfficientNet-Lite0): the policy is shown, changed and checked; reports filed through the engine (as
//! the server files them) gather in cases and hide an image at the policy's threshold; the CLI lists the
//! cases in both orders, resolves one with a block (hiding it from `vsearch search`) and dismisses the
//! other (needs a reason); a closed case refuses a second resolution; the audit log has every step.

use crate::common::{index, json, run_err, run_ok, ukbench, vsearch};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use vsearch_engine::reports::{self, NewReport};
use vsearch_engine::{Collection, ImageId};

fn reports_cmd(dir: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = vsearch();
    cmd.arg("reports")
        .arg(args[0])
        .args(&args[1..])
        .arg("--collection")
        .arg(dir);
    cmd
}

fn file_report(dir: &Path, image: u64, reporter: &str, reason: &str) -> reports::ReportReceipt {
    let collection = Collection::open_without_model(dir).expect("open");
    let (receipt, _) = reports::submit(
        &collection,
        NewReport {
            image: ImageId::Number(image),
            reason: reason.into(),
            note: Some("a note".into()),
            reporter: reporter.into(),
            address: "192.0.2.7".into(),
        },
    )
    .expect("file a report");
    receipt
}

fn search_ids(dir: &Path, id: u64) -> Vec<u64> {
    let out = run_ok(vsearch().args(["search", "--collection"]).arg(dir).args([
        "--id",
        &id.to_string(),
        "-k",
        "8",
        "--json",
    ]));
    json(&out)["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["id"].as_u64().expect("id"))
        .collect()
}

#[test]
fn reports_cli_lists_resolves_and_sets_the_policy() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    for i in 0..8 {
        let name = format!("ukbench{i:05}.jpg");
        std::fs::copy(ukbench().join(&name), dir.join(&name)).expect("copy");
    }
    index(dir, &["--index", "flat"]);
    let ids: HashMap<String, u64> = Collection::open_without_model(dir)
        .expect("open")
        .images()
        .iter()
        .map(|m| (m.path.clone(), m.id))
        .collect();
    let (a, b) = (ids["ukbench00005.jpg"], ids["ukbench00002.jpg"]);

    // The default policy, then a changed one; a bad one is refused and leaves it as it was.
    let p = json(&run_ok(&mut reports_cmd(dir, &["policy", "--json"])));
    assert_eq!(p["hide_after"], 3);
    assert_eq!(p["window_secs"], 86400);
    let p = json(&run_ok(&mut reports_cmd(
        dir,
        &[
            "policy",
            "--hide-after",
            "2",
            "--window",
            "2h",
            "--reasons",
            "spam,fake_endorsement",
            "--by",
            "ops",
            "--json",
        ],
    )));
    assert_eq!(p["hide_after"], 2);
    assert_eq!(p["window_secs"], 7200);
    assert_eq!(
        p["reasons"],
        serde_json::json!(["spam", "fake_endorsement"])
    );
    let err = run_err(&mut reports_cmd(dir, &["policy", "--reasons", "has space"]));
    assert!(err.contains("report reason `has space`"), "{err}");
    let text = String::from_utf8(run_ok(&mut reports_cmd(dir, &["policy"])).stdout).unwrap();
    assert!(text.contains("2 distinct reporters within 2h"), "{text}");

    // Reports: two reporters hide `a` pending review; one reporter of `b` does not hide it.
    assert!(!file_report(dir, a, "r1", "spam").hidden);
    assert!(file_report(dir, a, "r2", "fake_endorsement").hidden);
    assert!(!file_report(dir, b, "r1", "spam").hidden);
    assert!(!search_ids(dir, ids["ukbench00004.jpg"]).contains(&a));

    let cases = json(&run_ok(&mut reports_cmd(dir, &["list", "--json"])));
    let cases = cases.as_array().expect("cases");
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[0]["image"], a, "oldest first");
    assert_eq!(cases[0]["reporters"], 2);
    assert_eq!(cases[0]["hidden_pending_review"], true);
    assert_eq!(cases[1]["hidden_pending_review"], false);
    let (case_a, case_b) = (
        cases[0]["id"].as_u64().unwrap(),
        cases[1]["id"].as_u64().unwrap(),
    );
    let text = String::from_utf8(run_ok(&mut reports_cmd(dir, &["list"])).stdout).unwrap();
    assert!(
        text.contains(&format!(
            "case {case_a}: image {a} (ukbench00005.jpg), open, hidden pending review; 2 reporters"
        )),
        "{text}"
    );

    // Resolve `a` with a block: it stays hidden, by the reviewer's block; the hold is gone.
    let out = run_ok(&mut reports_cmd(
        dir,
        &[
            "resolve",
            &case_a.to_string(),
            "--block",
            "--by",
            "alice",
            "--json",
        ],
    ));
    let v = json(&out);
    assert_eq!(v["status"], "blocked");
    assert_eq!(v["closed_by"], "alice");
    let blocks = json(&run_ok(
        vsearch()
            .args(["blocks", "--json", "--collection"])
            .arg(dir),
    ));
    let by: Vec<&str> = blocks["blocks"]
        .as_array()
        .expect("blocks")
        .iter()
        .map(|b| b["by"].as_str().unwrap())
        .collect();
    assert_eq!(by, ["alice"]);
    assert!(!search_ids(dir, ids["ukbench00004.jpg"]).contains(&a));

    // A dismissal needs a reason; with one, the case closes.
    let err = run_err(&mut reports_cmd(
        dir,
        &["resolve", &case_b.to_string(), "--dismiss"],
    ));
    assert!(err.contains("--reason"), "{err}");
    let v = json(&run_ok(&mut reports_cmd(
        dir,
        &[
            "resolve",
            &case_b.to_string(),
            "--dismiss",
            "--reason",
            "not spam",
            "--by",
            "bob",
            "--json",
        ],
    )));
    assert_eq!(v["status"], "dismissed");
    assert_eq!(v["close_reason"], "not spam");
    let err = run_err(&mut reports_cmd(
        dir,
        &[
            "resolve",
            &case_b.to_string(),
            "--dismiss",
            "--reason",
            "again",
        ],
    ));
    assert!(err.contains("closed already"), "{err}");
    let err = run_err(&mut reports_cmd(dir, &["resolve", "999", "--block"]));
    assert!(err.contains("no report case 999"), "{err}");
    assert_eq!(
        json(&run_ok(&mut reports_cmd(dir, &["list", "--json"]))),
        serde_json::json!([])
    );
    let all = json(&run_ok(&mut reports_cmd(
        dir,
        &["list", "--status", "all", "--json"],
    )));
    assert_eq!(all.as_array().unwrap().len(), 2);

    // Every step in the audit log.
    let actions: Vec<String> = vsearch_engine::blocks::read_audit(&dir.join(".vsearch"))
        .expect("audit")
        .iter()
        .map(|e: &Value| match e["action"].as_str().unwrap_or("?") {
            // A report is recorded by its reporter's digest.
            "report" => "report".to_string(),
            action => format!("{action} {}", e["by"].as_str().unwrap_or("?")),
        })
        .collect();
    assert_eq!(
        actions,
        [
            "report_policy ops",
            "report",
            "report",
            "block report policy",
            "hide_pending_review report policy",
            "report",
            "block alice",
            "unblock alice",
            "resolve alice",
            "resolve bob",
        ]
        .map(String::from)
        .to_vec(),
    );
}
