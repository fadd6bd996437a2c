//! Past one machine: a 3-node Qdrant cluster on 127.0.0.1 (its own ports and storage per node), a
//! collection of 3 shards with 2 replicas each, two `vsearch index --part i/2` workers embedding one folder
//! in parallel; with one node killed, searches answer the same, and a block made through one node hides
//! its image in the answers of every node (the node that was down too, once it is back); after it
//! restarts, the cluster converges.

use crate::common;
use crate::common::qdrant;

use crate::common::{run_ok, vsearch, MODEL};
use qdrant::Node;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};
use vsearch_engine::blocks::{BlockSource, NewBlock, Reach};
use vsearch_engine::{
    DeviceSpec, IndexKind, ModelSpec, QdrantCollection, QdrantOpen, QdrantTarget, Query,
    QueryOptions,
};

const COLLECTION: &str = "photos";

fn open(node: &Node) -> QdrantCollection {
    open_with_records(node, None)
}

/// The collection through `node`, with the records folder `records` (where blocks are kept).
fn open_with_records(node: &Node, records: Option<&Path>) -> QdrantCollection {
    let mut target = QdrantTarget::new(node.url());
    target.collection = COLLECTION.into();
    QdrantCollection::open(&QdrantOpen {
        target,
        model: ModelSpec::Auto,
        device: DeviceSpec::Cpu,
        root: None,
        records: records.map(Path::to_path_buf),
        load_model: false,
    })
    .expect("open the collection")
}

/// Asserts `node` answers without the image at `path`: browsing lists the others, and a search by its
/// vector returns 10 results, none of them it.
fn hides_through(node: &Node, path: &str, vector: &[f32]) {
    let collection = open(node);
    let browse = collection.browse(0, 100, None).expect("browse");
    assert_eq!(browse.total, 55, "one image hidden");
    assert!(browse.images.iter().all(|m| m.path != path));
    let results = collection
        .search(
            &Query::Vector(vector.to_vec()),
            &QueryOptions {
                k: 10,
                ..QueryOptions::default()
            },
        )
        .expect("search")
        .results;
    assert_eq!(results.len(), 10, "k results still come back");
    assert!(results.iter().all(|r| r.path != path), "{results:?}");
}

/// Exact top-10 paths and scores for each query vector.
fn answers(collection: &QdrantCollection, queries: &[Vec<f32>]) -> Vec<Vec<(String, f32)>> {
    let options = QueryOptions {
        k: 10,
        index: Some(IndexKind::Flat),
        ..QueryOptions::default()
    };
    queries
        .iter()
        .map(|q| {
            collection
                .search(&Query::Vector(q.clone()), &options)
                .expect("search")
                .results
                .into_iter()
                .map(|r| (r.path, r.score))
                .collect()
        })
        .collect()
}

fn same_answers(a: &[Vec<(String, f32)>], b: &[Vec<(String, f32)>]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        let xs: Vec<&str> = x.iter().map(|(p, _)| p.as_str()).collect();
        let ys: Vec<&str> = y.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(xs, ys);
        for ((_, s), (_, t)) in x.iter().zip(y) {
            assert!((s - t).abs() <= 1e-5, "{s} vs {t}");
        }
    }
}

/// Whether every replica of every shard is active, as `node` sees the collection.
fn converged(node: &Node, replicas: usize, shards: usize) -> bool {
    let Some(info) = node.get_json(&format!("/collections/{COLLECTION}/cluster")) else {
        return false;
    };
    let r = &info["result"];
    let all: Vec<&serde_json::Value> = r["local_shards"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(r["remote_shards"].as_array().into_iter().flatten())
        .collect();
    all.len() == replicas * shards && all.iter().all(|s| s["state"] == "Active")
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn folder_files(dir: &Path) -> BTreeSet<String> {
    common::photos_in(dir)
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect()
}

#[test]
fn two_workers_fill_a_replicated_cluster_that_survives_losing_a_node() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(mut nodes) = qdrant::cluster(&tmp.path().join("cluster"), 3) else {
        return;
    };
    let photos = common::ukbench();
    // Two workers, one per half of the files, each through another node, at the same time.
    let workers: Vec<std::process::Child> = (1..=2)
        .map(|i| {
            vsearch()
                .arg("index")
                .arg(&photos)
                .args(["--model", MODEL, "--json", "--threads", "1"])
                .args([
                    "--qdrant",
                    &nodes[i - 1].url(),
                    "--qdrant-collection",
                    COLLECTION,
                ])
                .args([
                    "--shards",
                    "3",
                    "--replicas",
                    "2",
                    "--part",
                    &format!("{i}/2"),
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("start a worker")
        })
        .collect();
    let mut indexed = 0;
    for w in workers {
        let out = w.wait_with_output().expect("worker");
        assert!(
            out.status.success(),
            "worker failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report = common::json(&out);
        assert_eq!(
            report["failed"].as_array().map(Vec::len),
            Some(0),
            "{report}"
        );
        indexed += report["indexed"].as_u64().expect("indexed");
    }
    let files = folder_files(&photos);
    assert_eq!(
        indexed as usize,
        files.len(),
        "each file indexed by one worker"
    );

    let collection = open(&nodes[0]);
    let status = collection.status().clone();
    assert_eq!(
        (status.shards, status.replicas, status.points),
        (3, 2, 56),
        "{status:?}"
    );
    wait_for("every replica active", || converged(&nodes[0], 2, 3));
    // Every file once, whatever node answers.
    let browse = collection.browse(0, 100, None).expect("browse");
    let paths: Vec<String> = browse.images.iter().map(|m| m.path.clone()).collect();
    assert_eq!(paths.iter().cloned().collect::<BTreeSet<_>>(), files);
    assert_eq!(paths.len(), files.len());

    // Queries: the stored vectors of a dozen images.
    let queries: Vec<Vec<f32>> = browse
        .images
        .iter()
        .step_by(5)
        .map(|m| {
            use vsearch_engine::ImageId;
            let id: ImageId = m.image_id();
            let out = collection
                .search(
                    &Query::Id(id),
                    &QueryOptions {
                        k: 1,
                        ..QueryOptions::default()
                    },
                )
                .expect("by id");
            assert_eq!(out.results[0].path, m.path);
            collection.vector(id).expect("stored vector")
        })
        .collect();
    let before = answers(&collection, &queries);
    let by_other_node = answers(&open(&nodes[1]), &queries);
    same_answers(&before, &by_other_node);

    // A node dies: its shards' other replicas answer.
    nodes[2].kill();
    let during = answers(&open(&nodes[0]), &queries);
    same_answers(&before, &during);
    let count = open(&nodes[1]).browse(0, 100, None).expect("browse").total;
    assert_eq!(count, 56);

    // A block made through one node, with another down, hides the image from every node.
    let records = tmp.path().join("records");
    let blocked = browse.images[3].clone();
    let blocked_vector = collection.vector(blocked.image_id()).expect("vector");
    let view = open_with_records(&nodes[0], Some(&records))
        .add_block(NewBlock {
            source: BlockSource::Id(blocked.image_id()),
            reach: Reach::Example,
            reason: "cluster takedown".into(),
            by: "test".into(),
        })
        .expect("block through node 1");
    assert_eq!(view.hides.len(), 1, "{view:?}");
    assert_eq!(view.hides[0].path, blocked.path);
    for node in &nodes[..2] {
        hides_through(node, &blocked.path, &blocked_vector);
    }

    // It comes back and catches up.
    nodes[2].restart();
    wait_for("the restarted node rejoining", || {
        nodes[0]
            .get_json("/cluster")
            .and_then(|c| c["result"]["peers"].as_object().map(|p| p.len()))
            == Some(3)
    });
    wait_for("every replica active again", || {
        converged(&nodes[0], 2, 3) && converged(&nodes[2], 2, 3)
    });
    // The node that was down hides it too; lifted through another node, it is back everywhere.
    hides_through(&nodes[2], &blocked.path, &blocked_vector);
    let lifted = open_with_records(&nodes[1], Some(&records))
        .remove_block(view.id, "test", Some("cluster test over"))
        .expect("unblock through node 2");
    assert_eq!(lifted.hides.len(), 1);
    let after = answers(&open(&nodes[2]), &queries);
    same_answers(&before, &after);
    // A worker's next run finds nothing to do.
    let out = run_ok(
        vsearch()
            .arg("index")
            .arg(&photos)
            .args(["--model", MODEL, "--json", "--qdrant", &nodes[2].url()])
            .args(["--qdrant-collection", COLLECTION, "--part", "1/2"]),
    );
    let report = common::json(&out);
    assert_eq!(report["indexed"], 0, "{report}");
    let stored: HashMap<String, usize> = open(&nodes[0])
        .browse(0, 100, None)
        .expect("browse")
        .images
        .into_iter()
        .fold(HashMap::new(), |mut m, i| {
            *m.entry(i.path).or_insert(0) += 1;
            m
        });
    assert!(stored.values().all(|&n| n == 1));
    assert_eq!(stored.len(), 56);
}
