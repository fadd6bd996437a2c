//! Hash banks end to end, through the real `vsearch` binary: a partner's list (ThreatExchange-style TSV)
//! holding the reference PDQ hashes of two ukbench photos (made by Meta's implementation,
//! `tests/fixtures/pdq/reference.json`) is imported into a collection; `vsearch hashes scan` blocks the
//! copy already indexed; copies indexed later are blocked on arrival, each logged in the audit log with
//! the bank and the distance; unrelated photos (and a 20% crop, which PDQ does not see as a copy) are not.
//! The collection's takedowns exported as PDQ hashes and imported into a fresh collection of the same
//! files block the same images there. The same on Qdrant-backed collections (a real Qdrant server,
//! `../shared/tools/qdrant/`): the bank in the records folder, the payload's hashes scanned, copies
//! indexed into Qdrant blocked on arrival (hidden from browsing), the export of what Qdrant hides
//! reproducing the blocks in a fresh Qdrant collection. Needs the ukbench-14 photos and the
//! EfficientNet-Lite0 weights.

use crate::common::{index, json, qdrant, run_err, run_ok, ukbench, vsearch, MODEL};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// Edited copies of ukbench 0 and 12 (tests/fixtures/pdq/edits, made by scripts/make_pdq_reference.py).
fn edit(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pdq/edits")
        .join(name)
}

/// The reference hash and quality of `file` (a path ending) in the fixture.
fn reference(file: &str) -> (String, u64) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text =
        std::fs::read_to_string(root.join("tests/fixtures/pdq/reference.json")).expect("reference");
    let v: Value = serde_json::from_str(&text).expect("json");
    let image = v["images"]
        .as_array()
        .expect("images")
        .iter()
        .find(|i| i["file"].as_str().is_some_and(|f| f.ends_with(file)) && i["edit"].is_null())
        .unwrap_or_else(|| panic!("{file} in the reference"));
    (
        image["hash"].as_str().expect("hash").to_string(),
        image["quality"].as_u64().expect("quality"),
    )
}

fn copy(from: &Path, to: &Path) {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
}

/// The paths the collection's blocks hide (`vsearch blocks --json`).
fn hidden(dir: &Path) -> BTreeSet<String> {
    let v = json(&run_ok(
        vsearch()
            .args(["blocks", "--json", "--collection"])
            .arg(dir),
    ));
    v["blocks"]
        .as_array()
        .expect("blocks")
        .iter()
        .flat_map(|b| b["hides"].as_array().expect("hides").iter())
        .map(|h| h["path"].as_str().expect("path").to_string())
        .collect()
}

fn set(paths: &[&str]) -> BTreeSet<String> {
    paths.iter().map(|p| p.to_string()).collect()
}

/// The site's first files: unrelated photos (objects 1 and 10) and a re-encoded copy of ukbench 0.
fn first_files(site: &Path) {
    for n in [4, 5, 6, 40, 41] {
        let name = format!("ukbench{n:05}.jpg");
        copy(&ukbench().join(&name), &site.join(&name));
    }
    copy(&edit("ukbench00000_q30.jpg"), &site.join("copy-q30.jpg"));
}

/// Files that arrive later: copies of ukbench 0 and 12, a 20% crop of 0, and unrelated photos.
fn later_files(site: &Path) {
    copy(
        &edit("ukbench00000_half.jpg"),
        &site.join("late/copy-half.jpg"),
    );
    copy(
        &edit("ukbench00012_quarter.png"),
        &site.join("late/copy-quarter.png"),
    );
    copy(
        &edit("ukbench00012_q30.jpg"),
        &site.join("late/copy-q30.jpg"),
    );
    copy(
        &edit("ukbench00000_crop80.jpg"),
        &site.join("late/crop80.jpg"),
    );
    for n in [44, 1] {
        let name = format!("ukbench{n:05}.jpg");
        copy(&ukbench().join(&name), &site.join("late").join(&name));
    }
}

#[test]
fn a_partners_bank_blocks_copies_on_arrival_and_takedowns_export_to_a_fresh_collection() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let site = tmp.path().join("site");
    first_files(&site);
    index(&site, &[]);
    assert!(hidden(&site).is_empty());

    // The partner's list: ThreatExchange-style TSV, with a header, quality and tags.
    let (h0, q0) = reference("ukbench00000.jpg");
    let (h12, q12) = reference("ukbench00012.jpg");
    let list = tmp.path().join("partner.tsv");
    std::fs::write(
        &list,
        format!("signal_value\tquality\ttags\n{h0}\t{q0}\tcsam verified\n{h12}\t{q12}\tncii\n"),
    )
    .expect("write list");
    let imported = json(&run_ok(
        vsearch()
            .args(["hashes", "import"])
            .arg(&list)
            .args([
                "--bank",
                "partner",
                "--reason",
                "partner takedown list",
                "--json",
                "--collection",
            ])
            .arg(&site),
    ));
    assert_eq!(
        (imported["added"].as_u64(), imported["total"].as_u64()),
        (Some(2), Some(2))
    );
    let banks = json(&run_ok(
        vsearch()
            .args(["hashes", "list", "--json", "--collection"])
            .arg(&site),
    ));
    assert_eq!(banks[0]["hashes"], 2);
    assert_eq!(banks[0]["settings"]["max_distance"], 31);

    // The copy indexed before the bank: found by a scan.
    let scanned = json(&run_ok(
        vsearch()
            .args(["hashes", "scan", "--json", "--collection"])
            .arg(&site),
    ));
    let scanned: Vec<&str> = scanned
        .as_array()
        .expect("matches")
        .iter()
        .map(|m| m["path"].as_str().expect("path"))
        .collect();
    assert_eq!(scanned, ["copy-q30.jpg"]);
    assert_eq!(hidden(&site), set(&["copy-q30.jpg"]));

    // Copies that arrive later are blocked as they arrive; the crop and the unrelated photos are not.
    later_files(&site);
    let report = json(&index(&site, &["--json"]));
    assert_eq!(report["hash_matches"], 3, "{report}");
    let expected = set(&[
        "copy-q30.jpg",
        "late/copy-half.jpg",
        "late/copy-q30.jpg",
        "late/copy-quarter.png",
    ]);
    assert_eq!(hidden(&site), expected);

    // The audit log names the bank and the distance of each match.
    let audit = std::fs::read_to_string(site.join(".vsearch/audit.jsonl")).expect("audit log");
    let matches: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("audit line"))
        .filter(|e| e["action"] == "hash_match")
        .collect();
    assert_eq!(matches.len(), 4);
    for m in &matches {
        assert_eq!(m["match"]["bank"], "partner");
        let d = m["match"]["distance"].as_u64().expect("distance");
        assert!(d <= 31, "{m}");
        assert!(m["block"]["reason"]
            .as_str()
            .expect("reason")
            .contains("partner takedown list"));
    }
    let by_arrival: Vec<&Value> = matches
        .iter()
        .filter(|m| m["match"]["run_by"] == "vsearch index")
        .collect();
    assert_eq!(by_arrival.len(), 3);

    // Export the takedowns as PDQ hashes; a fresh collection of the same files blocks the same images.
    let exported = tmp.path().join("takedowns.csv");
    run_ok(
        vsearch()
            .args(["hashes", "export", "--collection"])
            .arg(&site)
            .arg("-o")
            .arg(&exported),
    );
    let text = std::fs::read_to_string(&exported).expect("export");
    assert!(text.starts_with("hash,quality,tags\n"));
    assert_eq!(text.lines().count(), 1 + 4, "{text}");
    let fresh = tmp.path().join("fresh");
    first_files(&fresh);
    later_files(&fresh);
    index(&fresh, &[]);
    run_ok(
        vsearch()
            .args(["hashes", "import"])
            .arg(&exported)
            .args(["--bank", "site-takedowns", "--collection"])
            .arg(&fresh),
    );
    run_ok(
        vsearch()
            .args(["hashes", "scan", "--collection"])
            .arg(&fresh),
    );
    assert_eq!(hidden(&fresh), expected);

    // A bank's own hashes export too; a bad list is refused with its line; removing a bank keeps its blocks.
    let bank = String::from_utf8(
        run_ok(
            vsearch()
                .args(["hashes", "export", "--bank", "partner", "--collection"])
                .arg(&site),
        )
        .stdout,
    )
    .expect("utf-8");
    assert!(bank.contains(&h0) && bank.contains(&h12), "{bank}");
    let bad = tmp.path().join("bad.txt");
    std::fs::write(&bad, format!("{h0}\nnot a hash\n")).expect("write");
    let err = run_err(
        vsearch()
            .args(["hashes", "import"])
            .arg(&bad)
            .args(["--bank", "x", "--collection"])
            .arg(&site),
    );
    assert!(err.contains("line 2"), "{err}");
    run_ok(
        vsearch()
            .args(["hashes", "remove", "partner", "--collection"])
            .arg(&site),
    );
    let err = run_err(
        vsearch()
            .args(["hashes", "remove", "partner", "--collection"])
            .arg(&site),
    );
    assert!(err.contains("no hash bank is named 'partner'"), "{err}");
    assert_eq!(hidden(&site), expected);
}

/// The partner's list (TSV) holding the reference hashes of ukbench 0 and 12, written in `dir`.
fn partner_list(dir: &Path) -> std::path::PathBuf {
    let (h0, q0) = reference("ukbench00000.jpg");
    let (h12, q12) = reference("ukbench00012.jpg");
    let list = dir.join("partner.tsv");
    std::fs::write(
        &list,
        format!("signal_value\tquality\ttags\n{h0}\t{q0}\tcsam verified\n{h12}\t{q12}\tncii\n"),
    )
    .expect("write list");
    list
}

/// The arguments naming the Qdrant collection `collection` indexed from `root` (records in
/// `ROOT/.vsearch/qdrant/COLLECTION`).
fn on_qdrant(node: &qdrant::Node, collection: &str, root: &Path) -> Vec<String> {
    vec![
        "--qdrant".into(),
        node.url(),
        "--qdrant-collection".into(),
        collection.into(),
        "--root".into(),
        root.display().to_string(),
    ]
}

/// `vsearch index ROOT --qdrant URL --qdrant-collection C --json`.
fn index_into(node: &qdrant::Node, root: &Path, collection: &str) -> Value {
    json(&run_ok(
        vsearch()
            .arg("index")
            .arg(root)
            .args(["--model", MODEL, "--json", "--qdrant", &node.url()])
            .args(["--qdrant-collection", collection]),
    ))
}

/// The paths the Qdrant collection's blocks hide (`vsearch blocks --json --qdrant ...`).
fn hidden_on(target: &[String]) -> BTreeSet<String> {
    let v = json(&run_ok(vsearch().args(["blocks", "--json"]).args(target)));
    v["blocks"]
        .as_array()
        .expect("blocks")
        .iter()
        .flat_map(|b| b["hides"].as_array().expect("hides").iter())
        .map(|h| h["path"].as_str().expect("path").to_string())
        .collect()
}

/// The paths browsing the Qdrant collection shows (hidden points are filtered inside Qdrant, as for
/// every search).
fn browsed(node: &qdrant::Node, collection: &str, root: &Path) -> BTreeSet<String> {
    let mut target = vsearch_engine::QdrantTarget::new(node.url());
    target.collection = collection.to_string();
    let c = vsearch_engine::QdrantCollection::open(&vsearch_engine::QdrantOpen {
        target,
        model: vsearch_engine::ModelSpec::Auto,
        device: vsearch_engine::DeviceSpec::Cpu,
        root: Some(root.to_path_buf()),
        records: Some(vsearch_engine::qdrant_records_dir(root, collection)),
        load_model: false,
    })
    .expect("open the Qdrant collection");
    c.browse(0, 1000, None)
        .expect("browse")
        .images
        .into_iter()
        .map(|m| m.path)
        .collect()
}

#[test]
fn a_partners_bank_blocks_copies_arriving_in_qdrant_and_takedowns_export_to_a_fresh_qdrant_collection(
) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(node) = qdrant::single(&tmp.path().join("qdrant")) else {
        return;
    };
    let site = tmp.path().join("site");
    first_files(&site);
    let at = on_qdrant(&node, "site", &site);
    // The bank goes into the records folder before the collection's first run.
    let list = partner_list(tmp.path());
    let imported = json(&run_ok(
        vsearch()
            .args(["hashes", "import"])
            .arg(&list)
            .args([
                "--bank",
                "partner",
                "--reason",
                "partner takedown list",
                "--json",
            ])
            .args(&at),
    ));
    assert_eq!(imported["total"], 2, "{imported}");
    assert!(site
        .join(".vsearch/qdrant/site")
        .join(vsearch_engine::layout::HASHBANKS_FILE)
        .exists());
    let banks = json(&run_ok(
        vsearch().args(["hashes", "list", "--json"]).args(&at),
    ));
    assert_eq!(banks[0]["hashes"], 2);

    // The first run blocks the copy it brings; the unrelated photos stay.
    let report = index_into(&node, &site, "site");
    assert_eq!(report["hash_matches"], 1, "{report}");
    assert_eq!(hidden_on(&at), set(&["copy-q30.jpg"]));
    let shown = browsed(&node, "site", &site);
    assert!(!shown.contains("copy-q30.jpg"), "{shown:?}");
    assert!(shown.contains("ukbench00004.jpg"), "{shown:?}");

    // A copy indexed before the bank (removed, then imported again): found by a scan of the payload.
    run_ok(vsearch().args(["hashes", "remove", "partner"]).args(&at));
    copy(
        &ukbench().join("ukbench00012.jpg"),
        &site.join("before-bank.jpg"),
    );
    let report = index_into(&node, &site, "site");
    assert_eq!(report["hash_matches"], 0, "{report}");
    run_ok(
        vsearch()
            .args(["hashes", "import"])
            .arg(&list)
            .args(["--bank", "partner", "--reason", "partner takedown list"])
            .args(&at),
    );
    let scanned = json(&run_ok(
        vsearch().args(["hashes", "scan", "--json"]).args(&at),
    ));
    let scanned: Vec<&str> = scanned
        .as_array()
        .expect("matches")
        .iter()
        .map(|m| m["path"].as_str().expect("path"))
        .collect();
    assert_eq!(scanned, ["before-bank.jpg"]);

    // Copies that arrive later are blocked as they arrive; the crop and the unrelated photos are not.
    later_files(&site);
    let report = index_into(&node, &site, "site");
    assert_eq!(report["hash_matches"], 3, "{report}");
    let expected = set(&[
        "before-bank.jpg",
        "copy-q30.jpg",
        "late/copy-half.jpg",
        "late/copy-q30.jpg",
        "late/copy-quarter.png",
    ]);
    assert_eq!(hidden_on(&at), expected);
    let shown = browsed(&node, "site", &site);
    assert!(shown.is_disjoint(&expected), "{shown:?}");
    for kept in [
        "late/crop80.jpg",
        "late/ukbench00044.jpg",
        "late/ukbench00001.jpg",
    ] {
        assert!(shown.contains(kept), "{kept} is not blocked: {shown:?}");
    }

    // The audit log in the records folder names the bank and the distance of each match.
    let audit =
        std::fs::read_to_string(site.join(".vsearch/qdrant/site/audit.jsonl")).expect("audit log");
    let matches: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("audit line"))
        .filter(|e| e["action"] == "hash_match")
        .collect();
    assert_eq!(matches.len(), 5);
    for m in &matches {
        assert_eq!(m["match"]["bank"], "partner");
        assert!(
            m["match"]["distance"].as_u64().expect("distance") <= 31,
            "{m}"
        );
    }
    assert_eq!(
        matches
            .iter()
            .filter(|m| m["match"]["run_by"] == "vsearch index")
            .count(),
        4
    );

    // Export what Qdrant hides as PDQ hashes; a fresh Qdrant collection of the same files blocks the same.
    let exported = tmp.path().join("takedowns.csv");
    run_ok(
        vsearch()
            .args(["hashes", "export", "-o"])
            .arg(&exported)
            .args(&at),
    );
    let text = std::fs::read_to_string(&exported).expect("export");
    assert!(text.starts_with("hash,quality,tags\n"));
    assert_eq!(text.lines().count(), 1 + expected.len(), "{text}");
    let fresh = tmp.path().join("fresh");
    first_files(&fresh);
    later_files(&fresh);
    copy(
        &ukbench().join("ukbench00012.jpg"),
        &fresh.join("before-bank.jpg"),
    );
    let fresh_at = on_qdrant(&node, "fresh", &fresh);
    run_ok(
        vsearch()
            .args(["hashes", "import"])
            .arg(&exported)
            .args(["--bank", "site-takedowns"])
            .args(&fresh_at),
    );
    let report = index_into(&node, &fresh, "fresh");
    assert_eq!(report["hash_matches"], expected.len(), "{report}");
    assert_eq!(hidden_on(&fresh_at), expected);
}
