//! Takedowns by similarity, end to end: `vsearch block --near` hides an original and its planted copies
//! (a 50% resize, a horizontal flip, a JPEG re-encode) from CLI search, browsing and a running server
//! (live reload), and nothing of the other objects; a copy indexed later is blocked on arrival; the block
//! API needs the admin token; `unblock` (API and CLI) restores everything; the audit log records each
//! step. Needs the ukbench-14 photos and the EfficientNet-Lite0 weights.

use crate::common::{index, json, run_err, run_ok, serve, ukbench, vsearch, MODEL};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};
use vsearch_engine::Collection;
use vsearch_testkit::planted::{plant_copies, COPIES};

const TOKEN: &str = "s3cret-admin-token";
/// The original blocked: ukbench photo 8 (object 2, photos 8..11).
const ORIGINAL: &str = "ukbench00008.jpg";
const LATE_COPY: &str = "late/copy-trimmed.jpg";

fn reencode(img: &image::DynamicImage, path: &Path, quality: u8) {
    let file = std::fs::File::create(path).expect("create");
    let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(file, quality);
    encoder
        .encode_image(&img.to_rgb8())
        .expect("encode re-encoded copy");
}

/// Path -> id of the collection at `dir`.
fn ids_by_path(dir: &Path) -> HashMap<String, u64> {
    let c = Collection::open_without_model(dir).expect("open collection");
    c.images().iter().map(|m| (m.path.clone(), m.id)).collect()
}

/// The ids a CLI search by image answers (k 20).
fn cli_search_ids(dir: &Path, image: &Path) -> Vec<u64> {
    let out = run_ok(
        vsearch()
            .args(["search", "--collection"])
            .arg(dir)
            .arg("--image")
            .arg(image)
            .args(["-k", "20", "--json"]),
    );
    let v = json(&out);
    v["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["id"].as_u64().expect("id"))
        .collect()
}

async fn get(client: &reqwest::Client, url: &str) -> (u16, Value) {
    let r = client.get(url).send().await.expect("GET");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let r = request.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The ids `GET /api/images` lists, and its total.
async fn api_browse(client: &reqwest::Client, base: &str) -> (BTreeSet<u64>, u64) {
    let (status, v) = get(client, &format!("{base}/api/images?limit=1000")).await;
    assert_eq!(status, 200, "{v}");
    let ids = v["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|m| m["id"].as_u64().expect("id"))
        .collect();
    (ids, v["total"].as_u64().expect("total"))
}

/// The ids `POST /api/search` answers for `{"id": id, "k": k}`.
async fn api_search(client: &reqwest::Client, base: &str, id: u64, k: usize) -> Vec<u64> {
    let (status, v) = send(
        client
            .post(format!("{base}/api/search"))
            .json(&json!({"id": id, "k": k})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["id"].as_u64().expect("id"))
        .collect()
}

/// Waits (at most 15 s) until the server's browse listing satisfies `ok`; returns how long it took.
async fn until_listed(
    client: &reqwest::Client,
    base: &str,
    what: &str,
    ok: impl Fn(&BTreeSet<u64>) -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        let (ids, _) = api_browse(client, base).await;
        if ok(&ids) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the server did not show {what} within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn audit_actions(dir: &Path) -> Vec<Value> {
    vsearch_engine::blocks::read_audit(&dir.join(".vsearch")).expect("read audit log")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_hide_an_image_and_its_copies_everywhere_until_lifted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    for entry in std::fs::read_dir(ukbench()).expect("ukbench") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|x| x == "jpg") {
            std::fs::copy(&path, dir.join(path.file_name().expect("name"))).expect("copy");
        }
    }
    plant_copies(&ukbench().join(ORIGINAL), dir);
    index(dir, &["--index", "hnsw,flat"]);
    let ids = ids_by_path(dir);
    assert_eq!(ids.len(), 59);
    let original = ids[ORIGINAL];
    let copies: BTreeSet<u64> = COPIES.iter().map(|c| ids[*c]).collect();
    let mut expected: BTreeSet<u64> = copies.clone();
    expected.insert(original);
    // Every photo of another object (objects other than 2).
    let others: BTreeSet<u64> = ids
        .iter()
        .filter(|(p, _)| {
            p.strip_prefix("ukbench")
                .and_then(|n| n.strip_suffix(".jpg"))
                .and_then(|n| n.parse::<usize>().ok())
                .is_some_and(|n| n / 4 != 2)
        })
        .map(|(_, &id)| id)
        .collect();
    assert_eq!(others.len(), 52);
    {
        let c = Collection::open_without_model(dir).expect("open");
        let v = c.vector(original).expect("vector");
        for copy in COPIES {
            let w = c.vector(ids[copy]).expect("vector");
            let cos: f32 = v.iter().zip(&w).map(|(a, b)| a * b).sum();
            eprintln!("cosine of {copy} to the original: {cos:.4}");
        }
    }

    // A server with the admin token, serving (and reloading) the collection; one without a token.
    let server = serve(dir, Some(TOKEN));
    let closed = serve(dir, None);
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let (all_ids, total) = api_browse(&client, &base).await;
    assert_eq!(total, 59);
    assert!(expected.is_subset(&all_ids));

    // Without the token the block endpoints answer 401, with a wrong one (or on a server without one) 403.
    let body = json!({"id": original, "near": true, "reason": "x"});
    for (url, token, want) in [
        (&base, None, 401),
        (&base, Some("wrong"), 403),
        (&closed.base, None, 401),
        (&closed.base, Some(TOKEN), 403),
    ] {
        let auth = |r: reqwest::RequestBuilder| match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        };
        let (s, v) = send(auth(client.post(format!("{url}/api/blocks")).json(&body))).await;
        assert_eq!(s, want, "POST {url} {token:?}: {v}");
        let (s, _) = send(auth(client.get(format!("{url}/api/blocks")))).await;
        assert_eq!(s, want, "GET {url} {token:?}");
        let (s, _) = send(auth(client.delete(format!("{url}/api/blocks/0")))).await;
        assert_eq!(s, want, "DELETE {url} {token:?}");
    }
    assert!(
        !dir.join(".vsearch/blocks.json").exists(),
        "nothing was blocked"
    );

    // 1. The CLI blocks the original and its copies (`--near`: the copies the duplicate finder verifies,
    // the 50% resize at cosine 0.92 with Lite0 included).
    let out = run_ok(
        vsearch()
            .args(["block", "--collection"])
            .arg(dir)
            .args(["--id", &original.to_string(), "--near"])
            .args([
                "--reason",
                "takedown request #1",
                "--by",
                "tester",
                "--json",
            ]),
    );
    let block = json(&out);
    let hidden: BTreeSet<u64> = block["hides"]
        .as_array()
        .expect("hides")
        .iter()
        .map(|h| h["id"].as_u64().expect("id"))
        .collect();
    eprintln!("block --near hides {hidden:?} (original {original}, copies {copies:?})");
    assert!(
        expected.is_subset(&hidden),
        "the original and every planted copy are hidden"
    );
    assert!(
        hidden.is_disjoint(&others),
        "no photo of another object is hidden"
    );
    assert_eq!(block["by"], "tester");
    assert_eq!(block["reach"]["kind"], "copies");
    let block_id = block["id"].as_u64().expect("block id");

    // CLI: searches never return them and still return k results; a query by the blocked id is refused.
    let other_view = dir.join("ukbench00009.jpg");
    let found = cli_search_ids(dir, &other_view);
    assert_eq!(found.len(), 20);
    assert!(found.iter().all(|id| !hidden.contains(id)), "{found:?}");
    let err = run_err(
        vsearch()
            .args(["search", "--collection"])
            .arg(dir)
            .args(["--id", &original.to_string()]),
    );
    assert!(err.contains("blocked"), "{err}");
    let c = Collection::open_without_model(dir).expect("open");
    let page = c.browse(0, 1000, None).expect("browse");
    assert_eq!(page.total, 59 - hidden.len());
    assert!(page.images.iter().all(|m| !hidden.contains(&m.id)));
    assert!(others
        .iter()
        .all(|id| page.images.iter().any(|m| m.id == *id)));
    drop(c);
    let listed = json(&run_ok(
        vsearch()
            .args(["blocks", "--json", "--collection"])
            .arg(dir),
    ));
    assert_eq!(listed["blocks"][0]["id"], block_id);
    assert_eq!(listed["hidden"], hidden.len());

    // The served collection notices the CLI's block (live reload) within seconds.
    let took = until_listed(&client, &base, "the CLI's block", |ids| {
        ids.is_disjoint(&hidden)
    })
    .await;
    eprintln!(
        "the server hid the CLI's block after {:.1} s",
        took.as_secs_f64()
    );
    let (listed_ids, total) = api_browse(&client, &base).await;
    assert_eq!(total as usize, 59 - hidden.len());
    assert!(others.is_subset(&listed_ids));
    let found = api_search(&client, &base, ids["ukbench00009.jpg"], 20).await;
    assert_eq!(found.len(), 20);
    assert!(found.iter().all(|id| !hidden.contains(id)));
    let (s, v) = send(
        client
            .post(format!("{base}/api/search"))
            .json(&json!({"id": original})),
    )
    .await;
    assert_eq!(s, 410, "{v}");
    for path in ["meta", "thumbnail"] {
        let r = client
            .get(format!("{base}/api/images/{original}/{path}"))
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status().as_u16(), 410, "{path}");
    }
    let (s, v) = get(&client, &format!("{base}/api/facets")).await;
    assert_eq!(s, 200);
    let facet_total: u64 = v["formats"]
        .as_array()
        .expect("formats")
        .iter()
        .map(|f| f["count"].as_u64().expect("count"))
        .sum();
    assert_eq!(facet_total as usize, 59 - hidden.len());

    // 2. A new copy added and indexed is blocked on arrival.
    std::fs::create_dir_all(dir.join("late")).expect("mkdir");
    let img = image::open(ukbench().join(ORIGINAL)).expect("open");
    // A border trimmed (2%), then re-encoded.
    let (w, h) = (img.width(), img.height());
    reencode(
        &img.crop_imm(w / 50, h / 50, w - w / 25, h - h / 25),
        &dir.join(LATE_COPY),
        80,
    );
    let report = json(&index(dir, &["--json"]));
    {
        let c = Collection::open_without_model(dir).expect("open");
        let late = ids_by_path(dir)[LATE_COPY];
        let (all, vectors) = c.embeddings().expect("embeddings");
        let dim = vectors.len() / all.len();
        let row = |id: u64| {
            let i = all.iter().position(|&x| x == id).expect("row");
            vectors[i * dim..(i + 1) * dim].to_vec()
        };
        let cos: f32 = row(original)
            .iter()
            .zip(row(late))
            .map(|(a, b)| a * b)
            .sum();
        eprintln!(
            "late copy: id {late}, hidden {}, cosine to the original {cos:.4}",
            c.is_hidden(late)
        );
    }
    assert_eq!(report["indexed"], 1, "{report}");
    assert_eq!(
        report["blocked"],
        1,
        "{report} (audit: {:#?})",
        audit_actions(dir)
    );
    let late = ids_by_path(dir)[LATE_COPY];
    // The server loads the new generation (the count it shows stays: the new copy arrives hidden).
    let started = Instant::now();
    loop {
        let (s, listed) = send(client.get(format!("{base}/api/blocks")).bearer_auth(TOKEN)).await;
        assert_eq!(s, 200, "{listed}");
        let hides = listed["blocks"][0]["hides"].as_array().expect("hides");
        if hides.iter().any(|h| h["id"] == late) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the server did not load the new copy within 15 s: {listed}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (ids_now, _) = api_browse(&client, &base).await;
    assert!(!ids_now.contains(&late));
    let found = cli_search_ids(dir, &other_view);
    assert!(!found.contains(&late));

    // 3. The API lifts the block: everything shows again at once (no reload needed).
    let (s, v) = send(
        client
            .delete(format!(
                "{base}/api/blocks/{block_id}?by=api-tester&reason=appeal%20granted"
            ))
            .bearer_auth(TOKEN),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (ids_now, total) = api_browse(&client, &base).await;
    assert_eq!(total, 60);
    assert!(hidden.is_subset(&ids_now) && ids_now.contains(&late));
    let (s, _) = send(
        client
            .delete(format!("{base}/api/blocks/{block_id}"))
            .bearer_auth(TOKEN),
    )
    .await;
    assert_eq!(s, 404, "a lifted block is gone");

    // 4. The API blocks again (near as a threshold); hidden at once; the CLI lifts it, the server follows.
    let (s, v) = send(
        client
            .post(format!("{base}/api/blocks"))
            .bearer_auth(TOKEN)
            .json(&json!({"id": original, "near": 0.9, "reason": "takedown request #2"})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["by"], "api-admin");
    let second_id = v["id"].as_u64().expect("id");
    assert_ne!(second_id, block_id, "block ids are not reused");
    let api_hidden: BTreeSet<u64> = v["hides"]
        .as_array()
        .expect("hides")
        .iter()
        .map(|h| h["id"].as_u64().expect("id"))
        .collect();
    assert!(expected.is_subset(&api_hidden) && api_hidden.contains(&late));
    let (ids_now, _) = api_browse(&client, &base).await;
    assert!(
        ids_now.is_disjoint(&api_hidden),
        "the API's block applies at once"
    );
    let found = cli_search_ids(dir, &other_view);
    assert!(found.iter().all(|id| !api_hidden.contains(id)));
    let (s, v) = send(
        client
            .post(format!("{base}/api/blocks"))
            .bearer_auth(TOKEN)
            .json(&json!({"id": original, "near": 1.5, "reason": "x"})),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    run_ok(
        vsearch()
            .args(["unblock", &second_id.to_string(), "--collection"])
            .arg(dir)
            .args(["--by", "tester", "--reason", "restored"]),
    );
    until_listed(&client, &base, "the CLI's unblock", |ids| ids.len() == 60).await;
    assert_eq!(cli_search_ids(dir, &other_view).len(), 20);
    let found = api_search(&client, &base, original, 5).await;
    assert_eq!(found.len(), 5, "queries by the original work again");

    // The audit log holds each step, in order, with who and what.
    let log = audit_actions(dir);
    let actions: Vec<&str> = log
        .iter()
        .map(|e| e["action"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        actions,
        ["block", "blocked_on_arrival", "unblock", "block", "unblock"],
        "{log:#?}"
    );
    assert_eq!(log[0]["by"], "tester");
    assert_eq!(log[0]["block"]["reason"], "takedown request #1");
    assert_eq!(log[0]["hid"].as_array().expect("hid").len(), hidden.len());
    assert_eq!(log[1]["hid"][0]["path"], LATE_COPY);
    assert_eq!(log[2]["by"], "api-tester");
    assert_eq!(log[2]["reason"], "appeal granted");
    assert_eq!(log[3]["by"], "api-admin");
    assert_eq!(log[4]["by"], "tester");
    assert!(log
        .iter()
        .all(|e| e["at"].as_str().is_some_and(|t| t.ends_with('Z'))));
    let _ = MODEL;
}

#[test]
fn near_threshold_and_image_examples() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    for i in 0..12 {
        let name = format!("ukbench{i:05}.jpg");
        std::fs::copy(ukbench().join(&name), dir.join(&name)).expect("copy");
    }
    plant_copies(&ukbench().join(ORIGINAL), dir);
    index(dir, &["--index", "flat"]);
    let ids = ids_by_path(dir);
    // `--near` alone: the example and exactly its copies as the duplicate finder verifies them (the 50%
    // resize, the flip, the re-encode), not the other views of the same object.
    let block = json(&run_ok(
        vsearch()
            .args(["block", "--collection"])
            .arg(dir)
            .args(["--id", &ids[ORIGINAL].to_string(), "--near"])
            .args(["--reason", "copies", "--json"]),
    ));
    assert_eq!(block["reach"]["kind"], "copies");
    let hides: BTreeSet<&str> = block["hides"]
        .as_array()
        .expect("hides")
        .iter()
        .map(|h| h["path"].as_str().expect("path"))
        .collect();
    let expected: BTreeSet<&str> = std::iter::once(ORIGINAL).chain(COPIES).collect();
    assert_eq!(hides, expected);
    let block_id = block["id"].as_u64().expect("id");
    run_ok(
        vsearch()
            .args(["unblock", &block_id.to_string(), "--collection"])
            .arg(dir),
    );
    // An image file that is not indexed: a flipped copy of photo 4, blocked with a cosine reach.
    let outside = tempfile::tempdir().expect("tempdir");
    let example = outside.path().join("flipped.jpg");
    image::open(ukbench().join("ukbench00004.jpg"))
        .expect("open")
        .fliph()
        .to_rgb8()
        .save(&example)
        .expect("save");
    let block = json(&run_ok(
        vsearch()
            .args(["block", "--collection"])
            .arg(dir)
            .arg("--image")
            .arg(&example)
            .args(["--near", "0.99", "--reason", "by file", "--json"]),
    ));
    assert_eq!(block["example"]["path"], "flipped.jpg");
    assert!(block["example"]["id"].is_null());
    assert_eq!(block["reach"]["threshold"], 0.99);
    // A file already indexed is that image: the example alone hides exactly it.
    let block = json(&run_ok(
        vsearch()
            .args(["block", "--collection"])
            .arg(dir)
            .arg("--image")
            .arg(dir.join("ukbench00001.jpg"))
            .args(["--reason", "exact file", "--json"]),
    ));
    assert_eq!(block["example"]["id"], ids["ukbench00001.jpg"]);
    assert_eq!(block["hides"].as_array().expect("hides").len(), 1);
    // A low threshold reaches far; bad thresholds are refused.
    let wide = json(&run_ok(
        vsearch()
            .args(["block", "--collection"])
            .arg(dir)
            .args(["--id", &ids["ukbench00008.jpg"].to_string()])
            .args(["--near", "0.01", "--reason", "wide", "--json"]),
    ));
    assert!(wide["hides"].as_array().expect("hides").len() >= 4);
    for bad in ["0", "1.5", "x"] {
        run_err(
            vsearch()
                .args(["block", "--collection"])
                .arg(dir)
                .args(["--id", "0", "--near", bad, "--reason", "r"]),
        );
    }
    run_err(vsearch().args(["unblock", "999", "--collection"]).arg(dir));
    let listed = json(&run_ok(
        vsearch()
            .args(["blocks", "--json", "--collection"])
            .arg(dir),
    ));
    assert_eq!(listed["blocks"].as_array().expect("blocks").len(), 3);
    let out = run_ok(
        vsearch()
            .args(["search", "--collection"])
            .arg(dir)
            .arg("--image")
            .arg(dir.join("ukbench00000.jpg"))
            .args(["-k", "15", "--json"]),
    );
    let v = json(&out);
    let n = v["results"].as_array().expect("results").len();
    assert_eq!(n, 15 - listed["hidden"].as_u64().expect("hidden") as usize);
}
