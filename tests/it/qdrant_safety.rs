//! Duplicates and takedowns on a Qdrant collection equal a local collection's: the planted duplicates set
//! and ukbench-14 indexed both locally and into a real Qdrant server (`../shared/tools/qdrant/`, one
//! server for the file); `vsearch dupes`, `vsearch block --near` (copies) and `--near T` give the same
//! groups and hide the same files; with blocks in force, Qdrant searches still return `k` results (the
//! flag is a filter inside Qdrant), browsing and facets leave hidden images out and a query by a hidden id
//! is refused; a copy indexed later is blocked on arrival and logged; `unblock` shows everything again;
//! the HTTP API (`POST /api/blocks` with a UUID, `GET /api/duplicates`) works on a Qdrant-backed `serve`.

use crate::common::{self, dupes_set, qdrant, qdrant_args, run_ok, serve_with, vsearch, MODEL};
use qdrant::Node;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use vsearch_engine::{
    Backend, DeviceSpec, EngineError, ImageId, IndexKind, ModelSpec, QdrantCollection, QdrantOpen,
    QdrantTarget, Query, QueryOptions,
};

/// `vsearch index DIR --qdrant URL --qdrant-collection NAME --json`.
fn index_into(node: &Node, dir: &Path, collection: &str) -> Value {
    let out = run_ok(
        vsearch()
            .arg("index")
            .arg(dir)
            .args(["--model", MODEL, "--json", "--qdrant", &node.url()])
            .args(["--qdrant-collection", collection]),
    );
    common::json(&out)
}

/// The arguments that name the Qdrant collection `collection` indexed from `root`.
fn on_qdrant(node: &Node, collection: &str, root: &Path) -> Vec<String> {
    qdrant_args(&node.url(), collection, root)
}

/// The arguments that name the local collection of `root`.
fn local(root: &Path) -> Vec<String> {
    vec!["--collection".into(), root.display().to_string()]
}

/// `vsearch ARGS --json` as JSON.
fn cli_json(args: &[String]) -> Value {
    common::json(&run_ok(vsearch().args(args).arg("--json")))
}

fn args(parts: &[&str], target: &[String]) -> Vec<String> {
    parts
        .iter()
        .map(|s| s.to_string())
        .chain(target.iter().cloned())
        .collect()
}

/// The groups of `vsearch dupes --json`: each group's image to keep and its others (their order among
/// equals follows the ids, which differ between the backends).
fn groups(v: &Value) -> BTreeSet<(String, BTreeSet<String>)> {
    v["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| {
            let paths: Vec<String> = g["images"]
                .as_array()
                .expect("images")
                .iter()
                .map(|i| i["path"].as_str().expect("path").to_string())
                .collect();
            (paths[0].clone(), paths[1..].iter().cloned().collect())
        })
        .collect()
}

/// The paths a block's JSON hides.
fn hides(block: &Value) -> BTreeSet<String> {
    block["hides"]
        .as_array()
        .expect("hides")
        .iter()
        .map(|h| h["path"].as_str().expect("path").to_string())
        .collect()
}

fn open(node: &Node, collection: &str, root: &Path) -> QdrantCollection {
    let mut target = QdrantTarget::new(node.url());
    target.collection = collection.to_string();
    QdrantCollection::open(&QdrantOpen {
        target,
        model: ModelSpec::Auto,
        device: DeviceSpec::Cpu,
        root: Some(root.to_path_buf()),
        records: Some(vsearch_engine::qdrant_records_dir(root, collection)),
        load_model: false,
    })
    .expect("open the Qdrant collection")
}

/// Path -> id of every visible image of a Qdrant collection, and of a local one.
fn qdrant_ids(collection: &QdrantCollection) -> HashMap<String, ImageId> {
    collection
        .browse(0, 1000, None)
        .expect("browse")
        .images
        .into_iter()
        .map(|m| (m.path.clone(), m.image_id()))
        .collect()
}

fn local_ids(root: &Path) -> HashMap<String, u64> {
    vsearch_engine::Collection::open_without_model(root)
        .expect("open the local collection")
        .images()
        .iter()
        .map(|m| (m.path.clone(), m.id))
        .collect()
}

/// The example of a test's blocks: its path and its id in each collection.
struct Example<'a> {
    path: &'a str,
    local: String,
    remote: String,
}

/// Blocks the example with `--near [near]` in both collections; asserts both hide the same files and
/// returns them.
fn block_both(
    node: &Node,
    name: &str,
    root: &Path,
    example: &Example,
    near: Option<&str>,
) -> BTreeSet<String> {
    let (local_id, remote_id, example) = (&example.local, &example.remote, example.path);
    let mut reach = vec!["--near"];
    reach.extend(near);
    let reason = format!("test takedown of {example}");
    let here = cli_json(&args(
        &[
            &["block", "--id", local_id, "--reason", &reason][..],
            &reach,
        ]
        .concat(),
        &local(root),
    ));
    let there = cli_json(&args(
        &[
            &["block", "--id", remote_id, "--reason", &reason][..],
            &reach,
        ]
        .concat(),
        &on_qdrant(node, name, root),
    ));
    assert_eq!(
        hides(&here),
        hides(&there),
        "{name}: block {example} --near {near:?}: local {here} vs Qdrant {there}"
    );
    assert!(hides(&there).contains(example), "{there}");
    hides(&there)
}

/// With `hidden` blocked: `k` results from Qdrant's HNSW and exact search, none hidden; browsing and
/// facets count the others; a query by a hidden id is refused.
fn assert_hidden_everywhere(
    collection: &QdrantCollection,
    hidden: &BTreeSet<String>,
    total: usize,
) {
    let visible: Vec<(String, ImageId)> = {
        let browse = collection.browse(0, 1000, None).expect("browse");
        assert_eq!(browse.total, total - hidden.len(), "browse total");
        browse
            .images
            .into_iter()
            .map(|m| (m.path.clone(), m.image_id()))
            .collect()
    };
    assert_eq!(visible.len(), total - hidden.len());
    assert!(visible.iter().all(|(p, _)| !hidden.contains(p)));
    let facets = collection.facets(None).expect("facets");
    assert_eq!(
        facets.formats.iter().map(|f| f.count).sum::<usize>(),
        total - hidden.len(),
        "facet counts"
    );
    let k = 10.min(total - hidden.len());
    for index in [IndexKind::Hnsw, IndexKind::Flat] {
        for (_, id) in visible.iter().step_by(7) {
            let out = collection
                .search(
                    &Query::Id(*id),
                    &QueryOptions {
                        k,
                        index: Some(index),
                        ..QueryOptions::default()
                    },
                )
                .expect("search");
            assert_eq!(out.results.len(), k, "{index}: k results");
            assert!(out.results.iter().all(|r| !hidden.contains(&r.path)));
        }
    }
}

/// Blocks, the hiding and arrivals on one collection indexed both ways; returns nothing, asserts.
fn compare(node: &Node, name: &str, root: &Path, example: &str, late_copy: &str) {
    common::index(root, &[]);
    let report = index_into(node, root, name);
    let total = report["indexed"].as_u64().expect("indexed") as usize;

    // The same duplicate groups; the Qdrant ones stored in the records folder.
    let dupes = |target: &[String]| groups(&cli_json(&args(&["dupes"], target)));
    let local_groups = dupes(&local(root));
    let remote_groups = dupes(&on_qdrant(node, name, root));
    eprintln!("{name}: {} duplicate groups", remote_groups.len());
    assert_eq!(local_groups, remote_groups, "{name}: duplicate groups");
    let records = vsearch_engine::qdrant_records_dir(root, name);
    assert!(records.join("duplicates.json").is_file());
    assert_eq!(dupes(&on_qdrant(node, name, root)), remote_groups, "stored");

    // block --near (its copies) and --near 0.9: the same files hidden.
    let chosen = Example {
        path: example,
        local: local_ids(root)[example].to_string(),
        remote: qdrant_ids(&open(node, name, root))[example].to_string(),
    };
    let copies = block_both(node, name, root, &chosen, None);
    let within = block_both(node, name, root, &chosen, Some("0.9"));
    eprintln!("{name}: block --near hides {copies:?}; --near 0.9 hides {within:?}");
    let hidden: BTreeSet<String> = copies.union(&within).cloned().collect();
    let collection = open(node, name, root);
    assert_hidden_everywhere(&collection, &hidden, total);
    let listed = cli_json(&args(&["blocks"], &on_qdrant(node, name, root)));
    assert_eq!(listed["hidden"], hidden.len(), "{listed}");
    // A query by a hidden image is refused, as locally.
    let local_collection =
        vsearch_engine::Collection::open_without_model(root).expect("local collection");
    assert!(matches!(
        Backend::image_meta(&local_collection, ImageId::Number(local_ids(root)[example])),
        Err(EngineError::Blocked { .. })
    ));
    let hidden_id: ImageId = listed["blocks"][0]["example"]["id"]
        .as_str()
        .expect("a UUID")
        .parse()
        .expect("id");
    assert!(matches!(
        collection.image_meta(hidden_id),
        Err(EngineError::Blocked { .. })
    ));
    assert!(matches!(
        collection.search(&Query::Id(hidden_id), &QueryOptions::default()),
        Err(EngineError::Blocked { .. })
    ));
    // The groups left once blocks hide some images: the same again (computed anew).
    assert_eq!(
        dupes(&local(root)),
        dupes(&on_qdrant(node, name, root)),
        "{name}: duplicate groups with blocks"
    );

    // A copy indexed later is blocked on arrival, in both, and logged.
    let original = image::open(root.join(example)).expect("open the example");
    original
        .resize(
            original.width() * 3 / 4,
            original.height() * 3 / 4,
            image::imageops::FilterType::Triangle,
        )
        .to_rgb8()
        .save(root.join(late_copy))
        .expect("save the late copy");
    let local_run = common::json(&common::index(root, &["--json"]));
    let remote_run = index_into(node, root, name);
    assert_eq!(remote_run["indexed"], 1, "{remote_run}");
    assert_eq!(
        remote_run["blocked"], local_run["blocked"],
        "{remote_run} vs {local_run}"
    );
    assert!(remote_run["blocked"].as_u64() >= Some(1), "{remote_run}");
    let audit = std::fs::read_to_string(records.join("audit.jsonl")).expect("audit log");
    let arrivals: Vec<Value> = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["action"] == "blocked_on_arrival")
        .collect();
    assert!(
        arrivals
            .iter()
            .any(|e| e["hid"].to_string().contains(late_copy)),
        "{audit}"
    );
    let mut hidden = hidden;
    hidden.insert(late_copy.to_string());
    assert_hidden_everywhere(&open(node, name, root), &hidden, total + 1);
    let listed_local = cli_json(&args(&["blocks"], &local(root)));
    let listed = cli_json(&args(&["blocks"], &on_qdrant(node, name, root)));
    for (a, b) in listed_local["blocks"]
        .as_array()
        .expect("blocks")
        .iter()
        .zip(listed["blocks"].as_array().expect("blocks"))
    {
        assert_eq!(hides(a), hides(b), "blocks after the late copy");
    }

    // Unblocking shows everything again.
    for block in ["0", "1"] {
        run_ok(
            vsearch()
                .args(args(
                    &["unblock", block, "--reason", "test over"],
                    &local(root),
                ))
                .arg("--json"),
        );
        run_ok(vsearch().args(args(
            &["unblock", block, "--reason", "test over"],
            &on_qdrant(node, name, root),
        )));
    }
    assert_hidden_everywhere(&open(node, name, root), &BTreeSet::new(), total + 1);
    std::fs::remove_file(root.join(late_copy)).expect("remove the late copy");
}

#[test]
fn duplicates_and_blocks_on_qdrant_equal_the_local_ones() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(node) = qdrant::single(&tmp.path().join("qdrant")) else {
        return;
    };
    // The planted set.
    let planted = tmp.path().join("planted");
    let set = dupes_set::make_dupes_set(
        &common::ukbench(),
        &common::sample_images(),
        &planted,
        &tmp.path().join("truth.csv"),
    )
    .expect("make the planted set");
    let (original, copies) = set
        .planted
        .iter()
        .max_by_key(|(_, c)| c.len())
        .expect("a planted original");
    eprintln!("planted: blocking {original} (copies {copies:?})");
    compare(&node, "planted", &planted, original, "late-copy.png");
    // ukbench-14.
    let photos = tmp.path().join("ukbench");
    std::fs::create_dir_all(&photos).expect("photos");
    for p in common::photos_in(&common::ukbench()) {
        std::fs::copy(&p, photos.join(p.file_name().expect("name"))).expect("copy");
    }
    compare(
        &node,
        "ukbench",
        &photos,
        "ukbench00008.jpg",
        "late-copy.png",
    );
    served_from_qdrant(&node, &photos);
}

/// The blocks API and the duplicates view of a Qdrant-backed `serve --root DIR`.
fn served_from_qdrant(node: &Node, root: &Path) {
    const TOKEN: &str = "qdrant-admin-token";
    let server = serve_with(&on_qdrant(node, "ukbench", root), Some(TOKEN));
    let base = server.base.clone();
    let client = reqwest::blocking::Client::new();
    let dupes: Value = client
        .get(format!("{base}/api/duplicates"))
        .send()
        .expect("duplicates")
        .json()
        .expect("json");
    assert_eq!(
        groups(&dupes),
        groups(&cli_json(&args(
            &["dupes"],
            &on_qdrant(node, "ukbench", root)
        ))),
        "{dupes}"
    );
    let ids = qdrant_ids(&open(node, "ukbench", root));
    let example = ids["ukbench00008.jpg"].to_string();
    let made: Value = client
        .post(format!("{base}/api/blocks"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"id": example, "near": true, "reason": "API takedown"}))
        .send()
        .expect("block")
        .json()
        .expect("json");
    assert!(hides(&made).contains("ukbench00008.jpg"), "{made}");
    let found: Value = client
        .post(format!("{base}/api/search"))
        .json(&serde_json::json!({"id": ids["ukbench00009.jpg"].to_string(), "k": 10}))
        .send()
        .expect("search")
        .json()
        .expect("json");
    let paths: Vec<&str> = found["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["path"].as_str().expect("path"))
        .collect();
    assert_eq!(paths.len(), 10, "{found}");
    assert!(paths.iter().all(|p| !hides(&made).contains(*p)), "{found}");
    let gone = client
        .get(format!("{base}/api/images/{example}/meta"))
        .send()
        .expect("meta");
    assert_eq!(gone.status(), 410);
    let lifted = client
        .delete(format!("{base}/api/blocks/{}", made["id"]))
        .bearer_auth(TOKEN)
        .send()
        .expect("unblock");
    assert_eq!(lifted.status(), 200);
    let back = client
        .get(format!("{base}/api/images/{example}/meta"))
        .send()
        .expect("meta");
    assert_eq!(back.status(), 200);
    drop(server);
}

/// `vsearch labels apply --qdrant ... --policy P` scores the points as the local collection indexed with
/// P scores its images (the tiny CLIP fixture): the same scores (within 1e-5), flags and hidden labels by
/// path; the label filters select the same images; the page's marks come from the payload.
#[test]
fn labels_on_qdrant_equal_the_local_ones() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(node) = qdrant::single(&tmp.path().join("qdrant")) else {
        return;
    };
    let clip = common::clip_fixture_folder(tmp.path());
    let photos = tmp.path().join("photos");
    std::fs::create_dir_all(&photos).expect("photos");
    for p in common::photos_in(&common::ukbench()).into_iter().take(12) {
        std::fs::copy(&p, photos.join(p.file_name().expect("name"))).expect("copy");
    }
    let policy = tmp.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[[label]]\nname = \"bright\"\nprompts = [\"a bright photo\", \"a photo in daylight\"]\n\
         opposite = [\"a dark photo\"]\nthreshold = 0.5\naction = \"flag\"\n\n\
         [[label]]\nname = \"animal\"\nprompts = [\"a photo of an animal\"]\n\
         opposite = [\"a photo of an object\", \"a photo of a building\"]\nthreshold = 0.5\naction = \"hide\"\n",
    )
    .expect("write the policy");
    let clip_arg = clip.display().to_string();
    let policy_arg = policy.display().to_string();
    run_ok(vsearch().arg("index").arg(&photos).args([
        "--model-dir",
        &clip_arg,
        "--policy",
        &policy_arg,
    ]));
    run_ok(
        vsearch()
            .arg("index")
            .arg(&photos)
            .args(["--model-dir", &clip_arg, "--qdrant", &node.url()])
            .args(["--qdrant-collection", "labels"]),
    );
    let applied = cli_json(&args(
        &[
            "labels",
            "apply",
            "--model-dir",
            &clip_arg,
            "--policy",
            &policy_arg,
        ],
        &on_qdrant(&node, "labels", &photos),
    ));
    assert_eq!(applied["labelled"], 12, "{applied}");
    assert_eq!(applied["labels"], 2, "{applied}");
    assert!(vsearch_engine::qdrant_records_dir(&photos, "labels")
        .join("label_policy.toml")
        .is_file());

    let local = vsearch_engine::Collection::open_without_model(&photos).expect("local");
    let mut target = QdrantTarget::new(node.url());
    target.collection = "labels".into();
    let remote = QdrantCollection::open(&QdrantOpen {
        target,
        model: ModelSpec::Dir(clip.clone()),
        device: DeviceSpec::Cpu,
        root: Some(photos.clone()),
        records: None,
        load_model: false,
    })
    .expect("open the Qdrant collection");
    let remote_by_path: HashMap<String, vsearch_engine::metadata::ImageMeta> = remote
        .browse(0, 100, None)
        .expect("browse")
        .images
        .into_iter()
        .map(|m| (m.path.clone(), m))
        .collect();
    let mut flagged = 0;
    for m in local.images().iter() {
        let r = &remote_by_path[&m.path];
        assert_eq!(r.flags, m.flags, "{}", m.path);
        assert_eq!(r.hidden, m.hidden, "{}", m.path);
        assert_eq!(
            r.labels.keys().collect::<Vec<_>>(),
            m.labels.keys().collect::<Vec<_>>()
        );
        for (name, score) in &m.labels {
            assert!(
                (r.labels[name] - score).abs() <= 1e-5,
                "{}: {name} scores {score} locally, {} in Qdrant",
                m.path,
                r.labels[name]
            );
        }
        assert_eq!(
            Backend::marks(&remote, r.image_id()),
            (m.flags.clone(), m.hidden.clone())
        );
        flagged += usize::from(!m.flags.is_empty() || !m.hidden.is_empty());
    }
    eprintln!("labels: {flagged} of 12 images flagged or hidden by a label");
    for filter in [
        serde_json::json!({"must": [{"key": "flag", "match": {"value": "bright"}}]}),
        serde_json::json!({"must": [{"key": "hidden", "match": {"value": "animal"}}]}),
        serde_json::json!({"must": [{"key": "label.animal", "range": {"gte": 0.3}}]}),
    ] {
        let f = vsearch_engine::filter::Filter::from_json(&filter).expect("filter");
        let paths = |b: vsearch_engine::browse::Browse| -> BTreeSet<String> {
            b.images.into_iter().map(|m| m.path).collect()
        };
        assert_eq!(
            paths(local.browse(0, 100, Some(&f)).expect("local browse")),
            paths(remote.browse(0, 100, Some(&f)).expect("Qdrant browse")),
            "{filter}"
        );
    }
}
