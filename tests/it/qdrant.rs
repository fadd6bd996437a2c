//! Qdrant as the store and search engine: a real Qdrant server (`../shared/tools/qdrant/`), ukbench-14
//! indexed into it by `vsearch index --qdrant`, searched through the engine and compared with the local
//! collection's exact search; HNSW recall on 20,000 synthetic vectors; incremental runs, deletes and a
//! killed run; the errors a user sees.

use crate::common;
use crate::common::qdrant;

use crate::common::{run_err, run_ok, serve_with, vsearch, MODEL};
use qdrant::Node;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use vsearch_engine::filter::Filter;
use vsearch_engine::qdrant::{CollectionLayout, Distance, Point, VectorSpec};
use vsearch_engine::{
    Collection, Crop, DeviceSpec, Example, ImageId, IndexKind, ModelSpec, QdrantCollection,
    QdrantOpen, QdrantTarget, Query, QueryOptions, SearchParams,
};

/// `vsearch index DIR --model MODEL --qdrant URL --qdrant-collection NAME [extra...]`.
fn index_into(node: &Node, dir: &Path, collection: &str, extra: &[&str]) -> serde_json::Value {
    let out = run_ok(
        vsearch()
            .arg("index")
            .arg(dir)
            .args(["--model", MODEL, "--json", "--qdrant", &node.url()])
            .args(["--qdrant-collection", collection])
            .args(extra),
    );
    common::json(&out)
}

fn target(node: &Node, collection: &str) -> QdrantTarget {
    let mut t = QdrantTarget::new(node.url());
    t.collection = collection.to_string();
    t
}

fn open(node: &Node, collection: &str, root: Option<&Path>, model: ModelSpec) -> QdrantCollection {
    QdrantCollection::open(&QdrantOpen {
        target: target(node, collection),
        model,
        device: DeviceSpec::Cpu,
        root: root.map(Path::to_path_buf),
        records: None,
        load_model: root.is_some(),
    })
    .expect("open the Qdrant collection")
}

/// Copies the first `n` ukbench photos into `dir`.
fn copy_photos(dir: &Path, n: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).expect("photos dir");
    common::photos_in(&common::ukbench())
        .into_iter()
        .take(n)
        .map(|p| {
            let to = dir.join(p.file_name().expect("name"));
            std::fs::copy(&p, &to).expect("copy photo");
            to
        })
        .collect()
}

/// The PDQ hash (hex) in each point's payload, by path.
fn stored_pdq(node: &Node, collection: &str) -> HashMap<String, String> {
    let store = target(node, collection).connect().expect("connect");
    let mut out = HashMap::new();
    store
        .scroll::<vsearch_engine::qdrant::StoreError>(None, &["path", "pdq"], None, |points| {
            for p in points {
                let path = p.payload["path"].as_str().expect("path").to_string();
                let pdq = p.payload["pdq"]
                    .as_str()
                    .expect("a pdq hash in the payload");
                out.insert(path, pdq.to_string());
            }
            Ok(())
        })
        .expect("scroll");
    out
}

/// The paths of every point in the collection, with how many points each has.
fn stored_paths(node: &Node, collection: &str) -> HashMap<String, usize> {
    let store = target(node, collection).connect().expect("connect");
    let mut paths = HashMap::new();
    store
        .scroll::<vsearch_engine::qdrant::StoreError>(None, &["path"], None, |points| {
            for p in points {
                let path = p.payload["path"].as_str().expect("path").to_string();
                *paths.entry(path).or_insert(0) += 1;
            }
            Ok(())
        })
        .expect("scroll");
    paths
}

/// The folder's image files, relative, `/`-separated.
fn folder_files(dir: &Path) -> BTreeSet<String> {
    common::photos_in(dir)
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect()
}

fn exact(k: usize) -> QueryOptions {
    QueryOptions {
        k,
        index: Some(IndexKind::Flat),
        ..QueryOptions::default()
    }
}

/// Results as (path, score), best first.
fn ranked(r: &vsearch_engine::SearchResponse) -> Vec<(String, f32)> {
    r.results
        .iter()
        .map(|x| (x.path.clone(), x.score))
        .collect()
}

/// Same paths in the same order (ties within 1e-6 may swap) and scores within 1e-5.
fn assert_same(local: &[(String, f32)], remote: &[(String, f32)], what: &str) {
    assert_eq!(local.len(), remote.len(), "{what}: {local:?} vs {remote:?}");
    let by_path: HashMap<&str, f32> = remote.iter().map(|(p, s)| (p.as_str(), *s)).collect();
    for (i, (path, score)) in local.iter().enumerate() {
        let other = by_path.get(path.as_str()).copied();
        assert!(
            other.is_some_and(|s| (s - score).abs() <= 1e-5),
            "{what}: {path} scores {score} locally, {other:?} in Qdrant"
        );
        if remote[i].0 != *path {
            assert!(
                (remote[i].1 - score).abs() <= 1e-6,
                "{what}: rank {} is {path} locally, {} in Qdrant",
                i + 1,
                remote[i].0
            );
        }
    }
}

#[test]
fn ukbench_in_qdrant_answers_like_the_local_exact_search() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(node) = qdrant::single(&tmp.path().join("qdrant")) else {
        return;
    };
    let photos = tmp.path().join("photos");
    copy_photos(&photos, 56);
    common::index(&photos, &["--index", "flat"]);
    let report = index_into(&node, &photos, "uk", &[]);
    assert_eq!(report["indexed"], 56, "{report}");
    assert_eq!(report["failed"].as_array().map(Vec::len), Some(0));

    // Each image's PDQ hash is in its payload, the same as the local catalog's.
    let catalog = vsearch_engine::catalog::Catalog::open_read_only(&photos.join(".vsearch"))
        .expect("local catalog");
    let local_pdq = catalog.pdq_hashes().expect("local hashes");
    let local_pdq: HashMap<String, String> = catalog
        .entries()
        .expect("entries")
        .into_iter()
        .map(|e| (e.path, local_pdq[&e.id].hash.to_hex()))
        .collect();
    assert_eq!(local_pdq.len(), 56);
    assert_eq!(stored_pdq(&node, "uk"), local_pdq);

    let local = Collection::open(&photos, &DeviceSpec::Cpu).expect("local collection");
    let remote = open(&node, "uk", Some(&photos), ModelSpec::Auto);
    assert_eq!(remote.info().count, 56);
    assert_eq!(remote.info().model.id, MODEL);
    // Each image's point, by path.
    let browse = remote.browse(0, 100, None).expect("browse");
    assert_eq!(browse.total, 56);
    let point_of: HashMap<String, ImageId> = browse
        .images
        .iter()
        .map(|m| (m.path.clone(), m.image_id()))
        .collect();
    assert_eq!(point_of.len(), 56);

    for id in local.images().ids() {
        let meta = local.images().get(id).expect("meta").clone();
        let point = point_of[&meta.path];
        // The payload holds the catalog's metadata.
        let stored = remote.image_meta(point).expect("point meta");
        assert_eq!(
            (
                &stored.path,
                &stored.format,
                stored.bytes,
                stored.width,
                stored.height,
                &stored.mtime
            ),
            (
                &meta.path,
                &meta.format,
                meta.bytes,
                meta.width,
                meta.height,
                &meta.mtime
            )
        );
        // By vector, by id: the same exact search.
        let vector = local.vector(id).expect("vector");
        let a = local
            .search(&Query::Vector(vector.clone()), &exact(10))
            .expect("local");
        let b = remote
            .search(&Query::Vector(vector), &exact(10))
            .expect("qdrant");
        assert_same(
            &ranked(&a),
            &ranked(&b),
            &format!("vector of {}", meta.path),
        );
        let c = remote
            .search(&Query::Id(point), &exact(10))
            .expect("qdrant by id");
        assert_same(&ranked(&a), &ranked(&c), &format!("id of {}", meta.path));
    }

    // Uploads, crops, boards, filters and pages.
    let first = common::photos_in(&photos)[0].clone();
    let bytes = std::fs::read(&first).expect("read photo");
    let name = first
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let crop = Some(Crop {
        x: 0.25,
        y: 0.25,
        w: 0.5,
        h: 0.5,
    });
    let board = |id: ImageId, other: ImageId| {
        Query::Board(vsearch_engine::Board {
            positive: vec![
                Example {
                    crop,
                    ..Example::new(Query::Id(id))
                },
                Example {
                    weight: 0.5,
                    ..Example::new(Query::Id(other))
                },
            ],
            negative: vec![Example {
                weight: 0.25,
                ..Example::new(Query::ImageBytes(bytes.clone()))
            }],
        })
    };
    let second = local.images().ids()[5];
    let second_path = local.images().get(second).expect("meta").path.clone();
    let filter = Filter::from_json(&serde_json::json!({
        "must": [{"key": "width", "range": {"gte": 100}}],
        "must_not": [{"key": "name", "match": {"any": [name.clone(), "ukbench00007.jpg"]}}]
    }))
    .expect("filter");
    let local_first = local
        .images()
        .iter()
        .find(|m| m.path == name)
        .expect("first")
        .id;
    let cases: Vec<(&str, Query, Query, QueryOptions)> = vec![
        (
            "upload",
            Query::ImageBytes(bytes.clone()),
            Query::ImageBytes(bytes.clone()),
            exact(10),
        ),
        (
            "board with a crop",
            board(ImageId::Number(local_first), ImageId::Number(second)),
            board(point_of[&name], point_of[&second_path]),
            exact(10),
        ),
        (
            "filter",
            Query::ImageBytes(bytes.clone()),
            Query::ImageBytes(bytes.clone()),
            QueryOptions {
                filter: Some(filter.clone()),
                ..exact(10)
            },
        ),
        (
            "page 3",
            Query::ImageBytes(bytes.clone()),
            Query::ImageBytes(bytes.clone()),
            QueryOptions {
                offset: 10,
                ..exact(5)
            },
        ),
    ];
    for (what, lq, rq, options) in cases {
        let a = local.search(&lq, &options).expect(what);
        let b = remote.search(&rq, &options).expect(what);
        assert_same(&ranked(&a), &ranked(&b), what);
        assert_eq!(a.more, b.more, "{what}");
        if options.filter.is_some() {
            let (fa, fb) = (a.filter.expect("report"), b.filter.expect("report"));
            assert_eq!((fa.matched, fa.total), (fb.matched, fb.total), "{what}");
        }
    }
    // Browsing with a filter counts as the catalog does; facets too.
    let by_folder = remote.browse(0, 10, Some(&filter)).expect("browse");
    assert_eq!(
        by_folder.total,
        local.browse(0, 10, Some(&filter)).expect("local").total
    );
    assert_eq!(
        remote.facets(None).expect("facets"),
        local.facets(None).expect("facets")
    );
    // The command line says the same.
    let out = run_ok(
        vsearch()
            .args([
                "search",
                "--json",
                "-k",
                "5",
                "--index",
                "flat",
                "--qdrant",
                &node.url(),
            ])
            .args(["--qdrant-collection", "uk", "--image"])
            .arg(&first),
    );
    let cli: Vec<String> = common::json(&out)["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["path"].as_str().expect("path").to_string())
        .collect();
    let a = local
        .search(&Query::ImageBytes(bytes), &exact(5))
        .expect("local");
    assert_eq!(
        cli,
        ranked(&a).into_iter().map(|(p, _)| p).collect::<Vec<_>>()
    );
}

/// Unit vectors around 100 random centres (the `i`-th around centre `i % 100`).
fn clustered(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let centres: Vec<Vec<f32>> = (0..100)
        .map(|_| (0..dim).map(|_| rng.gen_range(-1.0f32..1.0)).collect())
        .collect();
    (0..n)
        .map(|i| {
            let c = &centres[i % centres.len()];
            let mut v: Vec<f32> = c.iter().map(|x| x + rng.gen_range(-0.5f32..0.5)).collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter_mut().for_each(|x| *x /= norm);
            v
        })
        .collect()
}

#[test]
fn qdrant_hnsw_recall_at_10_on_20000_vectors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(node) = qdrant::single(&tmp.path().join("qdrant")) else {
        return;
    };
    let (n, dim) = (20_000, 256);
    // Queries from the same distribution as the data, held out of it.
    let mut data = clustered(n + 100, dim, 7);
    let queries = data.split_off(n);
    let store = target(&node, "synthetic").connect().expect("connect");
    let spec = VectorSpec {
        name: "synthetic".into(),
        dim,
        distance: Distance::Cosine,
    };
    store
        .ensure(&spec, &CollectionLayout::default())
        .expect("create");
    let uuid = |i: usize| uuid::Uuid::from_u128(i as u128 + 1);
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let points = chunk
            .iter()
            .map(|&i| Point {
                id: uuid(i),
                vector: data[i].clone(),
                payload: serde_json::json!({"path": format!("v/{i}")})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            })
            .collect();
        store.upsert("synthetic", points, 0).expect("upsert");
    }
    // Qdrant builds its HNSW in the background: wait until every vector is in it.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let info = store.info().expect("info");
        if info.indexed_vectors_count.unwrap_or(0) >= n as u64 && info.status == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Qdrant did not index the vectors: {info:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let remote = open(
        &node,
        "synthetic",
        None,
        ModelSpec::Preset("synthetic".into()),
    );
    let (mut found, mut exact_equal) = (0usize, 0usize);
    for q in &queries {
        let mut scored: Vec<(f32, usize)> = data
            .iter()
            .enumerate()
            .map(|(i, v)| (v.iter().zip(q).map(|(a, b)| a * b).sum::<f32>(), i))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        let truth: BTreeSet<String> = scored[..10].iter().map(|(_, i)| format!("v/{i}")).collect();
        let hnsw = QueryOptions {
            k: 10,
            index: Some(IndexKind::Hnsw),
            params: SearchParams {
                ef_search: Some(128),
                ..SearchParams::default()
            },
            ..QueryOptions::default()
        };
        let got = remote
            .search(&Query::Vector(q.clone()), &hnsw)
            .expect("hnsw");
        found += got
            .results
            .iter()
            .filter(|r| truth.contains(&r.path))
            .count();
        let flat = remote
            .search(&Query::Vector(q.clone()), &exact(10))
            .expect("exact");
        let flat: BTreeSet<String> = flat.results.iter().map(|r| r.path.clone()).collect();
        exact_equal += usize::from(flat == truth);
    }
    let recall = found as f64 / (10 * queries.len()) as f64;
    eprintln!("Qdrant HNSW recall@10 (ef 128) on {n} x {dim}: {recall:.3}");
    assert!(recall >= 0.95, "recall@10 {recall}");
    assert_eq!(
        exact_equal,
        queries.len(),
        "exact search equals brute force"
    );
}

#[test]
fn incremental_runs_deletes_and_a_killed_run_leave_exactly_the_folder() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(node) = qdrant::single(&tmp.path().join("qdrant")) else {
        return;
    };
    let photos = tmp.path().join("photos");
    let all = copy_photos(&tmp.path().join("pool"), 30);
    for p in &all[..20] {
        std::fs::copy(p, photos_join(&photos, p)).expect("copy");
    }
    // A run killed (as kill -9 would) right after its first batch is written.
    let out = vsearch()
        .arg("index")
        .arg(&photos)
        .args(["--model", MODEL, "--batch", "4", "--qdrant", &node.url()])
        .args(["--qdrant-collection", "inc"])
        .env("VSEARCH_FAULT_ABORT", "qdrant-upsert")
        .output()
        .expect("run");
    assert!(!out.status.success(), "the injected abort stops the run");
    let partial = stored_paths(&node, "inc");
    assert_eq!(
        partial.len(),
        4,
        "one batch written before the kill: {partial:?}"
    );
    // The next run resumes: nothing doubled, nothing missing.
    let report = index_into(&node, &photos, "inc", &["--batch", "4"]);
    assert_eq!(
        (report["indexed"].as_u64(), report["unchanged"].as_u64()),
        (Some(16), Some(4))
    );
    assert_same_files(&node, "inc", &photos);

    // Unchanged: nothing to do.
    let report = index_into(&node, &photos, "inc", &[]);
    assert_eq!(
        (report["indexed"].as_u64(), report["unchanged"].as_u64()),
        (Some(0), Some(20))
    );
    // Two files gone, two new, one changed in content, one touched only (same content).
    let names: Vec<PathBuf> = common::photos_in(&photos);
    std::fs::remove_file(&names[0]).expect("rm");
    std::fs::remove_file(&names[1]).expect("rm");
    for p in &all[20..22] {
        std::fs::copy(p, photos_join(&photos, p)).expect("copy");
    }
    let changed = &names[2];
    let img = image::open(changed).expect("decode").fliph();
    img.save_with_format(changed, image::ImageFormat::Jpeg)
        .expect("save");
    common::set_mtime(changed, 2_000_000_000);
    common::set_mtime(&names[3], 2_000_000_000);
    let report = index_into(&node, &photos, "inc", &[]);
    assert_eq!(
        ["indexed", "updated", "removed"].map(|k| report[k].as_u64()),
        [Some(2), Some(1), Some(2)],
        "{report}"
    );
    assert_eq!(
        report["embedded"], 3,
        "the touched file is not embedded again: {report}"
    );
    assert_same_files(&node, "inc", &photos);
    // The changed file's point answers for its new content.
    let remote = open(&node, "inc", Some(&photos), ModelSpec::Auto);
    let bytes = std::fs::read(changed).expect("read");
    let top = remote
        .search(&Query::ImageBytes(bytes), &exact(1))
        .expect("search");
    let name = changed.file_name().expect("name").to_string_lossy();
    assert_eq!(top.results[0].path, name);
    assert!(top.results[0].score > 0.999, "{:?}", top.results[0]);
}

fn photos_join(dir: &Path, file: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).expect("dir");
    dir.join(file.file_name().expect("name"))
}

fn assert_same_files(node: &Node, collection: &str, dir: &Path) {
    let stored = stored_paths(node, collection);
    assert!(
        stored.values().all(|&n| n == 1),
        "a path held twice: {stored:?}"
    );
    assert_eq!(
        stored.keys().cloned().collect::<BTreeSet<_>>(),
        folder_files(dir)
    );
}

#[test]
fn errors_say_what_happened_and_what_to_do() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let photos = tmp.path().join("photos");
    copy_photos(&photos, 3);
    // Nothing listens on the port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let err = run_err(
        vsearch()
            .arg("index")
            .arg(&photos)
            .args([
                "--model",
                MODEL,
                "--qdrant",
                &format!("http://127.0.0.1:{port}"),
            ])
            .args(["--qdrant-retries", "2"]),
    );
    assert!(
        err.contains("cannot reach Qdrant at http://127.0.0.1:"),
        "{err}"
    );
    let Some(node) = qdrant::single(&tmp.path().join("qdrant")) else {
        return;
    };
    // A collection of the model's name with vectors of another size.
    let store = target(&node, "other").connect().expect("connect");
    let wrong = VectorSpec {
        name: MODEL.into(),
        dim: 3,
        distance: Distance::Cosine,
    };
    store
        .ensure(&wrong, &CollectionLayout::default())
        .expect("create");
    let err = run_err(vsearch().arg("index").arg(&photos).args([
        "--model",
        MODEL,
        "--qdrant",
        &node.url(),
        "--qdrant-collection",
        "other",
    ]));
    assert!(
        err.contains(
            "holds vector `efficientnet-lite0` as 3-d cosine, but the model makes 1280-d cosine"
        ),
        "{err}"
    );
    // Searching a collection that does not exist.
    let err = run_err(
        vsearch()
            .args(["search", "--id", "67e55044-10b1-426f-9247-bb680e5fe0c8"])
            .args(["--qdrant", &node.url(), "--qdrant-collection", "missing"]),
    );
    assert!(err.contains("Qdrant has no collection `missing`"), "{err}");
    // Images served from a base URL stored in the payload when the folder is not at hand.
    index_into(
        &node,
        &photos,
        "ok",
        &["--base-url", "https://cdn.example/photos/"],
    );
    let remote = open(&node, "ok", None, ModelSpec::Auto);
    let browse = remote.browse(0, 10, None).expect("browse");
    for m in &browse.images {
        let url = remote.image_url(m.image_id()).expect("url");
        assert_eq!(url, Some(format!("https://cdn.example/photos/{}", m.path)));
    }
    // A number where a UUID is needed.
    let err = run_err(vsearch().args([
        "search",
        "--id",
        "3",
        "--qdrant",
        &node.url(),
        "--qdrant-collection",
        "ok",
    ]));
    assert!(err.contains("no image has id 3"), "{err}");
}

#[test]
fn a_write_that_keeps_failing_is_reported_and_the_next_run_resumes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(mut node) = qdrant::single(&tmp.path().join("qdrant")) else {
        return;
    };
    let photos = tmp.path().join("photos");
    std::fs::create_dir_all(&photos).expect("photos dir");
    common::write_photo_variants(&photos, 120);
    let child = vsearch()
        .arg("index")
        .arg(&photos)
        .args([
            "--model",
            MODEL,
            "--batch",
            "2",
            "--threads",
            "1",
            "--qdrant",
            &node.url(),
        ])
        .args([
            "--qdrant-collection",
            "w",
            "--qdrant-retries",
            "2",
            "--qdrant-timeout",
            "2",
        ])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start index");
    // Once some points are in, the server goes away.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let count = node
            .get_json("/collections/w")
            .and_then(|v| v["result"]["points_count"].as_u64())
            .unwrap_or(0);
        if count >= 4 {
            break;
        }
        assert!(Instant::now() < deadline, "no points were written");
        std::thread::sleep(Duration::from_millis(20));
    }
    node.kill();
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the run fails without its server");
    assert!(
        err.contains("points of this run were written before it and are kept: run the same command again to resume")
            || err.contains("cannot reach Qdrant"),
        "{err}"
    );
    node.restart();
    index_into(&node, &photos, "w", &[]);
    assert_same_files(&node, "w", &photos);
}

#[test]
fn bench_adds_qdrant_as_a_peer() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(node) = qdrant::single(&tmp.path().join("qdrant")) else {
        return;
    };
    let out = tmp.path().join("bench");
    run_ok(
        vsearch()
            .args([
                "bench",
                "--dataset",
                "synthetic:3000,32,20",
                "--quick",
                "--queries",
                "100",
                // One pass per point: this checks the Qdrant peer's answers, not speed.
                "--min-pass-seconds",
                "0",
            ])
            .args(["--qdrant", &node.url(), "--out"])
            .arg(&out),
    );
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).expect("results.json"))
            .expect("results JSON");
    let qdrant: Vec<&serde_json::Value> = results["points"]
        .as_array()
        .expect("points")
        .iter()
        .filter(|p| p["library"] == "qdrant")
        .collect();
    for mode in ["single", "batch"] {
        let best = qdrant
            .iter()
            .filter(|p| p["mode"] == mode && p["index"] == "hnsw")
            .map(|p| p["recall"].as_f64().expect("recall"))
            .fold(0.0, f64::max);
        assert!(best >= 0.95, "{mode}: best recall {best}");
    }
    let single = qdrant
        .iter()
        .find(|p| p["mode"] == "single")
        .expect("a single-query point");
    assert!(
        single["qps"].as_f64().expect("qps") > 0.0
            && single["build_s"].as_f64().expect("build") > 0.0
    );
    let report = std::fs::read_to_string(out.join("report.md")).expect("report");
    assert!(
        report.contains("qdrant/hnsw single") && report.contains("qdrant/hnsw batch"),
        "{report}"
    );
}

#[test]
fn serve_answers_from_qdrant_and_redirects_to_base_urls() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(node) = qdrant::single(&tmp.path().join("qdrant")) else {
        return;
    };
    let photos = tmp.path().join("photos");
    copy_photos(&photos, 8);
    index_into(
        &node,
        &photos,
        "web",
        &["--base-url", "https://cdn.example/p"],
    );
    let server = serve_with(
        &["--qdrant", &node.url(), "--qdrant-collection", "web"],
        None,
    );
    let base = server.base.clone();
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let get = |path: &str| client.get(format!("{base}{path}")).send().expect("GET");
    let info: serde_json::Value = get("/api/collection").json().expect("collection");
    assert_eq!(info["count"], 8, "{info}");
    assert_eq!(info["qdrant"]["collection"], "web", "{info}");
    assert_eq!(info["qdrant"]["points"], 8, "{info}");
    let listing: serde_json::Value = get("/api/images?limit=3").json().expect("browse");
    let first = &listing["images"][0];
    let id = first["id"].as_str().expect("a UUID id").to_string();
    let original = get(&format!("/api/images/{id}"));
    assert_eq!(original.status(), 307);
    assert_eq!(
        original.headers()["location"].to_str().ok(),
        Some(
            format!(
                "https://cdn.example/p/{}",
                first["path"].as_str().expect("path")
            )
            .as_str()
        )
    );
    let meta: serde_json::Value = get(&format!("/api/images/{id}/meta")).json().expect("meta");
    assert_eq!(meta["path"], first["path"]);
    let found: serde_json::Value = client
        .post(format!("{base}/api/search"))
        .json(&serde_json::json!({"id": id, "k": 3, "index": "flat"}))
        .send()
        .expect("search")
        .json()
        .expect("results");
    assert_eq!(found["results"][0]["id"], id.as_str(), "{found}");
    assert_eq!(found["results"].as_array().map(Vec::len), Some(3));
    assert_eq!(get("/api/images/12/meta").status(), 404);
    assert_eq!(get("/api/duplicates").status(), 400);
    drop(server);
}

#[test]
fn two_models_live_side_by_side_in_one_collection() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(node) = qdrant::single(&tmp.path().join("qdrant")) else {
        return;
    };
    let photos = tmp.path().join("photos");
    copy_photos(&photos, 6);
    index_into(&node, &photos, "both", &[]);
    // The same files with a second model: a second named vector in the same points.
    let clip = common::clip_fixture_folder(tmp.path());
    let out = run_ok(
        vsearch()
            .arg("index")
            .arg(&photos)
            .arg("--model-dir")
            .arg(&clip)
            .args([
                "--json",
                "--qdrant",
                &node.url(),
                "--qdrant-collection",
                "both",
            ]),
    );
    let report = common::json(&out);
    assert_eq!(report["indexed"], 6, "{report}");
    let clip_model = report["model"].as_str().expect("model").replace(':', "_");
    let store = target(&node, "both").connect().expect("connect");
    let names: Vec<String> = store
        .vectors()
        .expect("vectors")
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names.contains(&MODEL.to_string()) && names.contains(&clip_model),
        "{names:?}"
    );
    assert_same_files(&node, "both", &photos);
    // Each model searches its own vectors, and the first model's survived the second's writes.
    let lite0 = open(
        &node,
        "both",
        Some(&photos),
        ModelSpec::Preset(MODEL.into()),
    );
    let clip_dir = clip.clone();
    let clip = open(&node, "both", Some(&photos), ModelSpec::Dir(clip));
    let first = common::photos_in(&photos)[0].clone();
    let bytes = std::fs::read(&first).expect("read");
    let name = first
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    for (which, c) in [("lite0", &lite0), ("clip", &clip)] {
        let r = c
            .search(&Query::ImageBytes(bytes.clone()), &exact(6))
            .expect(which);
        assert_eq!(r.results.len(), 6, "{which}");
        assert_eq!(r.results[0].path, name, "{which}");
    }
    // From the command line, each model by its own option.
    for model in [
        vec!["--model".to_string(), MODEL.to_string()],
        vec!["--model-dir".to_string(), clip_dir.display().to_string()],
    ] {
        let out = run_ok(
            vsearch()
                .args(["search", "--json", "-k", "2", "--index", "flat", "--image"])
                .arg(&first)
                .args(&model)
                .args(["--qdrant", &node.url(), "--qdrant-collection", "both"]),
        );
        assert_eq!(
            common::json(&out)["results"][0]["path"],
            name.as_str(),
            "{model:?}"
        );
    }
    // Without --model, a collection of two models asks which.
    let err = run_err(vsearch().args(["search", "--image"]).arg(&first).args([
        "--qdrant",
        &node.url(),
        "--qdrant-collection",
        "both",
    ]));
    assert!(
        err.contains("several models") && err.contains("--model"),
        "{err}"
    );
}
