//! User reports, the review queue and search analytics on a Qdrant-backed `vsearch serve --qdrant URL
//! --qdrant-collection C --root DIR` (a real Qdrant server from `../shared/tools/qdrant/`), as on a local
//! collection (`crates/server/tests/it/reports.rs`): the first 8 ukbench photos and three planted copies
//! of one of them indexed into Qdrant; distinct reporters hide an image at the policy's threshold
//! (hidden from search, browse and lookups) and not before; the queue lists the case with its verified
//! copies; resolve-block hides the image and its copies; resolve-dismiss shows the other image again;
//! the audit log in the records folder has every step; `vsearch reports list --qdrant ...` shows the
//! cases; the server records its searches into `analytics.sqlite` in the records folder and
//! `GET /api/analytics` counts them.

use crate::common::{self, qdrant, qdrant_args, run_ok, serve_with, vsearch, Server, MODEL};
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use vsearch_engine::reports::{ReportPolicy, ReportStore};
use vsearch_engine::{DeviceSpec, ModelSpec, QdrantCollection, QdrantOpen, QdrantTarget};
use vsearch_testkit::planted::{plant_copies, COPIES};

const TOKEN: &str = "qdrant-review-token";
const COLLECTION: &str = "reports";
/// The reported original (object 1) and its planted copies.
const ORIGINAL: &str = "ukbench00004.jpg";
/// The image reported and then dismissed (object 0).
const DISMISSED: &str = "ukbench00001.jpg";

/// `--qdrant URL --qdrant-collection C --root DIR`.
fn on_qdrant(url: &str, root: &Path) -> Vec<String> {
    qdrant_args(url, COLLECTION, root)
}

/// Path -> point id (UUID) of every image of the collection.
fn point_ids(url: &str, root: &Path) -> HashMap<String, String> {
    let mut target = QdrantTarget::new(url.to_string());
    target.collection = COLLECTION.into();
    let collection = QdrantCollection::open(&QdrantOpen {
        target,
        model: ModelSpec::Auto,
        device: DeviceSpec::Cpu,
        root: Some(root.to_path_buf()),
        records: Some(vsearch_engine::qdrant_records_dir(root, COLLECTION)),
        load_model: false,
    })
    .expect("open the Qdrant collection");
    collection
        .browse(0, 1000, None)
        .expect("browse")
        .images
        .into_iter()
        .map(|m| (m.path.clone(), m.image_id().to_string()))
        .collect()
}

struct Served {
    server: Server,
    client: Client,
}

impl Served {
    fn start(url: &str, root: &Path) -> Self {
        Served {
            server: serve_with(&on_qdrant(url, root), Some(TOKEN)),
            client: Client::new(),
        }
    }
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base)
    }
    fn report(&self, id: &str, reporter: &str, reason: &str) -> (u16, Value) {
        let r = self
            .client
            .post(self.url(&format!("/api/images/{id}/reports")))
            .json(&json!({"reason": reason, "reporter": reporter}))
            .send()
            .expect("report");
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    }
    fn admin(&self, request: reqwest::blocking::RequestBuilder) -> (u16, Value) {
        let r = request.bearer_auth(TOKEN).send().expect("admin request");
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    }
    /// Whether the image is shown: its lookup answers 200 (410 when hidden).
    fn shown(&self, id: &str) -> bool {
        let status = self
            .client
            .get(self.url(&format!("/api/images/{id}/meta")))
            .send()
            .expect("meta")
            .status()
            .as_u16();
        assert!(status == 200 || status == 410, "{id}: {status}");
        status == 200
    }
    /// The ids a search by `id` for `k` results returns.
    fn search(&self, id: &str, k: usize) -> BTreeSet<String> {
        let v: Value = self
            .client
            .post(self.url("/api/search"))
            .json(&json!({"id": id, "k": k}))
            .send()
            .expect("search")
            .json()
            .expect("json");
        v["results"]
            .as_array()
            .unwrap_or_else(|| panic!("results: {v}"))
            .iter()
            .map(|r| r["id"].as_str().expect("a UUID").to_string())
            .collect()
    }
    /// The ids browsing shows.
    fn browsed(&self) -> BTreeSet<String> {
        let v: Value = self
            .client
            .get(self.url("/api/images?limit=100"))
            .send()
            .expect("browse")
            .json()
            .expect("json");
        v["images"]
            .as_array()
            .unwrap_or_else(|| panic!("images: {v}"))
            .iter()
            .map(|m| m["id"].as_str().expect("a UUID").to_string())
            .collect()
    }
}

#[test]
fn reports_and_analytics_on_a_qdrant_backed_server() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(node) = qdrant::single(&tmp.path().join("qdrant")) else {
        return;
    };
    let url = node.url();
    let photos = tmp.path().join("photos");
    std::fs::create_dir_all(&photos).expect("photos");
    for p in common::photos_in(&common::ukbench()).into_iter().take(8) {
        std::fs::copy(&p, photos.join(p.file_name().expect("name"))).expect("copy");
    }
    plant_copies(&common::ukbench().join(ORIGINAL), &photos);
    let indexed = common::json(&run_ok(
        vsearch()
            .arg("index")
            .arg(&photos)
            .args(["--model", MODEL, "--json", "--qdrant", &url])
            .args(["--qdrant-collection", COLLECTION]),
    ));
    assert_eq!(indexed["indexed"], 11, "{indexed}");
    let ids = point_ids(&url, &photos);
    assert_eq!(ids.len(), 11, "{ids:?}");
    let original = ids[ORIGINAL].clone();
    let copies: BTreeSet<String> = COPIES.iter().map(|c| ids[*c].clone()).collect();
    let dismissed = ids[DISMISSED].clone();
    let records = vsearch_engine::qdrant_records_dir(&photos, COLLECTION);
    std::fs::create_dir_all(&records).expect("records folder");
    ReportStore::open(&records)
        .expect("reports")
        .set_policy(&ReportPolicy {
            hide_after: 3,
            window_secs: 3600,
            per_minute: 60,
            ..ReportPolicy::default()
        })
        .expect("set the policy");

    let server = Served::start(&url, &photos);
    let mut searches = 0;
    // Two distinct reporters (one of them twice): not hidden.
    let (s, v) = server.report(&original, "reporter-1", "fake_endorsement");
    assert_eq!(s, 201, "{v}");
    let case = v["case"].as_u64().expect("a case");
    let (s, v) = server.report(&original, "reporter-1", "spam");
    assert_eq!((s, v["counted"].clone()), (200, json!(false)), "{v}");
    let (s, v) = server.report(&original, "reporter-2", "fake_endorsement");
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        (v["reporters"].clone(), v["hidden"].clone()),
        (json!(2), json!(false))
    );
    assert!(server.shown(&original), "not hidden below the threshold");
    assert!(server.browsed().contains(&original));
    assert!(server.search(&ids[COPIES[2]], 11).contains(&original));
    searches += 1;
    // The third hides it from lookups, browsing and searches (which still return k results).
    let (s, v) = server.report(&original, "reporter-3", "spam");
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        (v["reporters"].clone(), v["hidden"].clone()),
        (json!(3), json!(true))
    );
    assert!(!server.shown(&original), "hidden at the threshold");
    let browsed = server.browsed();
    assert_eq!(browsed.len(), 10);
    assert!(!browsed.contains(&original));
    let found = server.search(&ids[COPIES[2]], 10);
    searches += 1;
    assert_eq!(found.len(), 10);
    assert!(!found.contains(&original), "{found:?}");
    for c in &copies {
        assert!(server.shown(c), "the hold reaches the example alone");
    }

    // The second image: three reporters hide it.
    for r in ["reporter-1", "reporter-2", "reporter-3"] {
        let (s, v) = server.report(&dismissed, r, "harmful");
        assert_eq!(s, 201, "{v}");
    }
    assert!(!server.shown(&dismissed));

    // The queue: both cases, the first with its verified copies (found through Qdrant).
    let (s, queue) = server.admin(
        server
            .client
            .get(server.url("/api/reports?order=most_reported")),
    );
    assert_eq!(s, 200, "{queue}");
    let cases = queue["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 2, "{queue}");
    let first = cases
        .iter()
        .find(|c| c["id"] == case)
        .expect("the original's case");
    assert_eq!(first["image"], json!(original));
    assert_eq!(first["path"], ORIGINAL);
    assert_eq!(first["reporters"], 3);
    assert_eq!(first["hidden_pending_review"], true);
    let verified: BTreeSet<String> = first["copies"]
        .as_array()
        .expect("copies")
        .iter()
        .map(|c| c["id"].as_str().expect("a UUID").to_string())
        .collect();
    assert_eq!(verified, copies, "the planted copies: {first}");
    let dismissed_case = cases
        .iter()
        .find(|c| c["image"] == json!(dismissed))
        .expect("the other case")["id"]
        .as_u64()
        .expect("id");

    // Resolve-block with --near: the original and its copies are hidden.
    let (s, v) = server.admin(
        server
            .client
            .post(server.url(&format!("/api/reports/{case}/resolve")))
            .json(&json!({"action": "block", "near": true, "by": "reviewer-a"})),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "blocked");
    assert!(!server.shown(&original));
    for c in &copies {
        assert!(!server.shown(c), "copy {c} hidden by the resolution");
    }
    let browsed = server.browsed();
    assert!(browsed.is_disjoint(&copies) && !browsed.contains(&original));
    // Resolve-dismiss: the other image shows again, in searches too.
    let (s, v) = server.admin(
        server
            .client
            .post(server.url(&format!("/api/reports/{dismissed_case}/resolve")))
            .json(&json!({"action": "dismiss", "reason": "not harmful", "by": "reviewer-b"})),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "dismissed");
    assert!(server.shown(&dismissed), "restored by the dismissal");
    assert!(server
        .search(&ids["ukbench00000.jpg"], 4)
        .contains(&dismissed));
    searches += 1;

    // Analytics: recorded into the records folder; the report counts the searches made.
    let (s, analytics) = server.admin(server.client.get(server.url("/api/analytics?days=1")));
    assert_eq!(s, 200, "{analytics}");
    assert_eq!(analytics["searches"], searches, "{analytics}");
    assert_eq!(analytics["resolution"]["resolved"], 2, "{analytics}");
    assert!(records.join(vsearch_engine::analytics::FILE_NAME).is_file());
    drop(server);

    // The audit log in the records folder has every step, in order.
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
                "hide_pending_review" | "report" => format!(
                    "{action} case {} image {}",
                    e["case"],
                    e["image"].as_str().unwrap_or("?")
                ),
                other => other.to_string(),
            }
        })
        .collect();
    let (o, d) = (&original, &dismissed);
    let want: Vec<String> = vec![
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
    ];
    assert_eq!(steps, want, "{events:#?}");

    // `vsearch reports list --qdrant ...` shows both cases from the records folder.
    let listed = common::json(&run_ok(
        vsearch()
            .args(["reports", "list", "--status", "all", "--json"])
            .args(on_qdrant(&url, &photos)),
    ));
    let listed: BTreeSet<(u64, String)> = listed
        .as_array()
        .unwrap_or_else(|| panic!("cases: {listed}"))
        .iter()
        .map(|c| {
            (
                c["id"].as_u64().expect("id"),
                c["status"].as_str().expect("status").to_string(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        BTreeSet::from([
            (case, "blocked".to_string()),
            (dismissed_case, "dismissed".to_string())
        ])
    );
}
