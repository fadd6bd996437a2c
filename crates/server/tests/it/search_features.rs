//! The search features over a real collection: board queries, crops, pages, filters, browsing and the
//! similar-images endpoint, over HTTP. 16 ukbench photos (four objects x four views) in two folders
//! (`a/`: objects 0 and 1, `b/`: objects 2 and 3) plus `c/composite.jpg` (a view of object 0 beside a
//! view of object 2), indexed with EfficientNet-Lite0 into HNSW and flat indexes.
//! Needs the Lite0 weights in the model cache (`vsearch models fetch efficientnet-lite0`).

use crate::common;

use crate::common::Server;
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use vsearch_engine::{index_folder, Collection, DeviceSpec};

struct Fixture {
    _photos: tempfile::TempDir,
    collection: Arc<Collection>,
    /// Relative path -> id.
    ids: HashMap<String, u64>,
}

/// The ukbench object (0-3) of a photo's path, `None` for the composite.
fn object_of(path: &str) -> Option<usize> {
    let name = path.rsplit('/').next()?;
    let n: usize = name
        .strip_prefix("ukbench")?
        .strip_suffix(".jpg")?
        .parse()
        .ok()?;
    Some(n / 4)
}

/// Two photos side by side, each 320 x 240: `left` on the left half, `right` on the right half.
fn side_by_side(left: &str, right: &str) -> Vec<u8> {
    let load = |name: &str| {
        image::load_from_memory(&common::photo(name))
            .expect("decode a test photo")
            .resize_exact(320, 240, image::imageops::FilterType::Triangle)
    };
    let mut canvas = image::RgbImage::new(640, 240);
    image::imageops::overlay(&mut canvas, &load(left).to_rgb8(), 0, 0);
    image::imageops::overlay(&mut canvas, &load(right).to_rgb8(), 320, 0);
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(canvas)
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode the composite");
    out.into_inner()
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let photos = tempfile::tempdir().expect("temp dir");
        for i in 0..16 {
            let name = format!("ukbench{i:05}.jpg");
            let folder = photos.path().join(if i < 8 { "a" } else { "b" });
            std::fs::create_dir_all(&folder).expect("mkdir");
            std::fs::copy(common::ukbench().join(&name), folder.join(&name)).expect("copy");
        }
        std::fs::create_dir_all(photos.path().join("c")).expect("mkdir");
        std::fs::write(
            photos.path().join("c/composite.jpg"),
            side_by_side("ukbench00001.jpg", "ukbench00009.jpg"),
        )
        .expect("write the composite");
        let report =
            index_folder(photos.path(), &common::lite0_options()).expect("index the test photos");
        assert_eq!(report.indexed, 17, "{report:?}");
        let collection =
            Collection::open(photos.path(), &DeviceSpec::Cpu).expect("open the collection");
        let ids = collection
            .images()
            .ids()
            .into_iter()
            .map(|id| (collection.relative_path(id).expect("path").to_string(), id))
            .collect();
        Fixture {
            _photos: photos,
            collection: Arc::new(collection),
            ids,
        }
    })
}

fn id_of(path: &str) -> u64 {
    *fixture()
        .ids
        .get(path)
        .unwrap_or_else(|| panic!("{path} is indexed"))
}

async fn server() -> Server {
    Server::start(fixture().collection.clone(), common::serve_options()).await
}

/// A 200 answer's JSON (the error body otherwise, in the panic).
async fn ok_json(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.expect("JSON body");
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn result_ids(body: &Value) -> Vec<u64> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["id"].as_u64().expect("id"))
        .collect()
}

fn result_paths(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["path"].as_str().expect("path").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_board_query_is_the_exact_search_of_its_weighted_vector() {
    let server = server().await;
    let (a, b, c) = (
        id_of("a/ukbench00000.jpg"),
        id_of("b/ukbench00008.jpg"),
        id_of("a/ukbench00005.jpg"),
    );
    let body = ok_json(
        server
            .post_json(json!({
                "positive": [{"id": a}, {"id": b, "weight": 0.5}],
                "negative": [{"id": c, "weight": 0.3}],
                "index": "flat",
                "k": 17
            }))
            .await,
    )
    .await;
    // By hand: the normalised weighted sum of the stored (unit) vectors, scored against every vector.
    let collection = &fixture().collection;
    let v = |id| collection.vector(id).expect("vector");
    let (va, vb, vc) = (v(a), v(b), v(c));
    let mut q: Vec<f32> = (0..va.len())
        .map(|i| va[i] + 0.5 * vb[i] - 0.3 * vc[i])
        .collect();
    let norm = q.iter().map(|x| x * x).sum::<f32>().sqrt();
    q.iter_mut().for_each(|x| *x /= norm);
    let (ids, vectors) = collection.embeddings().expect("embeddings");
    let mut expected: Vec<(u64, f32)> = ids
        .iter()
        .zip(vectors.chunks_exact(q.len()))
        .map(|(&id, row)| (id, row.iter().zip(&q).map(|(x, y)| x * y).sum()))
        .collect();
    expected.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
    let got: Vec<(u64, f32)> = body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["id"].as_u64().unwrap(),
                r["score"].as_f64().unwrap() as f32,
            )
        })
        .collect();
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g.0, e.0, "got {got:?}\nexpected {expected:?}");
        assert!((g.1 - e.1).abs() < 1e-4, "{g:?} vs {e:?}");
    }
    // The same board from a multipart form with an uploaded example equals the JSON one by id when the
    // upload is the indexed photo itself (same bytes, same vector).
    let form = Form::new()
        .part(
            "image",
            Part::bytes(common::photo("ukbench00000.jpg")).file_name("q.jpg"),
        )
        .text(
            "positive",
            json!([{"image": 0}, {"id": b, "weight": 0.5}]).to_string(),
        )
        .text("negative", json!([{"id": c, "weight": 0.3}]).to_string())
        .text("index", "flat")
        .text("k", "17");
    let multipart = ok_json(
        server
            .client
            .post(server.url("/api/search"))
            .multipart(form)
            .send()
            .await
            .expect("POST"),
    )
    .await;
    assert_eq!(result_ids(&multipart), result_ids(&body));
    // Boards that cannot be answered are 400s.
    for bad in [
        json!({"positive": []}),
        json!({"negative": [{"id": a}]}),
        json!({"positive": [{"id": a}], "id": b}),
        json!({"positive": [{"id": a, "text": "x"}]}),
        json!({"positive": [{"id": a, "weight": -1}]}),
        json!({"positive": [{"image": 0}]}),
        json!({"positive": [{"id": a}], "negative": [{"id": a}]}),
    ] {
        let response = server.post_json(bad.clone()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_concatenate_to_the_unpaged_list() {
    let server = server().await;
    let query = id_of("b/ukbench00012.jpg");
    for index in ["flat", "hnsw"] {
        let all = ok_json(
            server
                .post_json(json!({"id": query, "k": 17, "index": index, "ef_search": 64}))
                .await,
        )
        .await;
        assert_eq!(all["more"], false);
        let mut paged = Vec::new();
        for page in 0..4 {
            let body = ok_json(
                server
                    .post_json(json!({"id": query, "k": 5, "offset": page * 5, "index": index, "ef_search": 64}))
                    .await,
            )
            .await;
            assert_eq!(body["more"], page < 3, "page {page}");
            let ranks: Vec<u64> = body["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["rank"].as_u64().unwrap())
                .collect();
            let first = page as u64 * 5 + 1;
            assert_eq!(
                ranks,
                (first..first + ranks.len() as u64).collect::<Vec<_>>()
            );
            paged.extend(result_ids(&body));
        }
        assert_eq!(paged, result_ids(&all), "{index}");
        // GET .../similar answers as the POST by id does.
        let similar = ok_json(
            server
                .get(&format!(
                    "/api/images/{query}/similar?k=5&offset=5&index={index}&ef_search=64"
                ))
                .await,
        )
        .await;
        assert_eq!(result_ids(&similar), result_ids(&all)[5..10]);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crop_finds_the_object_inside_it() {
    let server = server().await;
    let composite = id_of("c/composite.jpg");
    // Left half: object 0; right half: object 2.
    for (x, object) in [(0.0, 0usize), (0.5, 2usize)] {
        let crop = json!({"x": x, "y": 0.0, "w": 0.5, "h": 1.0});
        let by_id = ok_json(
            server
                .post_json(json!({"id": composite, "crop": crop, "k": 5, "index": "flat"}))
                .await,
        )
        .await;
        let upload = ok_json(
            server
                .upload(
                    side_by_side("ukbench00001.jpg", "ukbench00009.jpg"),
                    &[("crop", &crop.to_string()), ("k", "5"), ("index", "flat")],
                )
                .await,
        )
        .await;
        assert_eq!(result_ids(&by_id), result_ids(&upload), "the same pixels");
        let top: Vec<Option<usize>> = result_paths(&by_id)
            .iter()
            .filter(|p| !p.starts_with("c/"))
            .take(3)
            .map(|p| object_of(p))
            .collect();
        assert!(
            top.iter().filter(|o| **o == Some(object)).count() >= 2,
            "crop at x = {x} should find object {object}: {:?}",
            result_paths(&by_id)
        );
    }
    // The whole composite without a crop is itself first; crops outside the image are 400s.
    let whole = ok_json(server.post_json(json!({"id": composite, "k": 1})).await).await;
    assert_eq!(result_ids(&whole), [composite]);
    for crop in [
        json!({"x": 0.8, "y": 0.0, "w": 0.5, "h": 1.0}),
        json!({"x": 0.0, "y": 0.0, "w": 0.0, "h": 1.0}),
        json!({"x": 0.0, "y": 0.0, "w": 0.001, "h": 0.001}),
    ] {
        let response = server
            .post_json(json!({"id": composite, "crop": crop}))
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{crop}");
    }
    let response = server
        .post_json(json!({"vector": vec![1.0; 1280], "crop": {"x": 0, "y": 0, "w": 1, "h": 1}}))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_apply_to_searching_and_browsing_alike() {
    let server = server().await;
    let in_b = json!({"must": [{"key": "folder", "match": {"value": "b"}}]});
    let query = id_of("a/ukbench00000.jpg");
    for index in ["flat", "hnsw"] {
        let body = ok_json(
            server
                .post_json(json!({"id": query, "k": 5, "index": index, "filter": in_b}))
                .await,
        )
        .await;
        let paths = result_paths(&body);
        assert_eq!(paths.len(), 5, "{index}: a filter still returns k results");
        assert!(paths.iter().all(|p| p.starts_with("b/")), "{paths:?}");
        assert_eq!(body["filter"]["matched"], 8);
        assert_eq!(body["filter"]["total"], 17);
    }
    // Browsing: the filter, pages and the total.
    let encoded = |v: &Value| {
        let url =
            reqwest::Url::parse_with_params("http://x/", &[("f", v.to_string())]).expect("URL");
        url.query()
            .unwrap_or_default()
            .trim_start_matches("f=")
            .to_string()
    };
    let page = ok_json(
        server
            .get(&format!("/api/images?limit=5&filter={}", encoded(&in_b)))
            .await,
    )
    .await;
    assert_eq!(page["total"], 8);
    assert_eq!(page["images"].as_array().unwrap().len(), 5);
    let all = ok_json(server.get("/api/images?limit=100").await).await;
    assert_eq!(all["total"], 17);
    let mut concatenated = Vec::new();
    for offset in (0..17).step_by(6) {
        let page = ok_json(
            server
                .get(&format!("/api/images?limit=6&offset={offset}"))
                .await,
        )
        .await;
        concatenated.extend(
            page["images"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].clone()),
        );
    }
    let every: Vec<Value> = all["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].clone())
        .collect();
    assert_eq!(concatenated, every);
    let facets = ok_json(server.get("/api/facets").await).await;
    assert_eq!(
        facets["folders"],
        json!([{"value": "a", "count": 8}, {"value": "b", "count": 8}, {"value": "c", "count": 1}])
    );
    let meta = ok_json(server.get(&format!("/api/images/{query}/meta")).await).await;
    assert_eq!(meta["path"], "a/ukbench00000.jpg");
    assert_eq!(meta["folder"], "a");
    assert_eq!(meta["format"], "jpeg");
    // Bad filters are 400s, with what is wrong.
    for bad in [
        json!({"must": [{"key": "colour", "match": {"value": "red"}}]}),
        json!({"must": "folder"}),
        json!({"must": [{"key": "bytes", "range": {"gte": "big"}}]}),
    ] {
        let response = server.post_json(json!({"id": query, "filter": bad})).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        let response = server
            .get(&format!("/api/images?filter={}", encoded(&bad)))
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collapse_and_diversity_fields_run_the_ranking_stage() {
    let server = server().await;
    let a = id_of("a/ukbench00000.jpg");
    let plain = ok_json(server.post_json(json!({"id": a, "k": 8})).await).await;
    assert_eq!(plain["ranking"]["steps"], json!([]));
    assert!(plain["results"][0].get("original_rank").is_none());
    let ranked = ok_json(
        server
            .post_json(json!({"id": a, "k": 8, "collapse": true, "diversity": 0.5}))
            .await,
    )
    .await;
    assert_eq!(ranked["ranking"]["steps"], json!(["collapse", "diversity"]));
    assert_eq!(result_ids(&ranked)[0], a, "the best result stays first");
    assert_eq!(result_ids(&ranked).len(), 8);
    for r in ranked["results"].as_array().expect("results") {
        assert!(
            r["original_rank"].as_u64().is_some() && r["original_score"].is_number(),
            "{r}"
        );
    }
    assert_ne!(
        result_ids(&ranked),
        result_ids(&plain),
        "diversity re-orders the page"
    );
    // The same fields on the similar-images endpoint and in a multipart form.
    let similar = ok_json(
        server
            .get(&format!(
                "/api/images/{a}/similar?k=8&collapse=true&diversity=0.5"
            ))
            .await,
    )
    .await;
    assert_eq!(result_ids(&similar), result_ids(&ranked));
    let form = ok_json(
        server
            .upload(
                common::photo("ukbench00000.jpg"),
                &[("k", "8"), ("collapse", "true"), ("diversity", "0.5")],
            )
            .await,
    )
    .await;
    assert_eq!(form["ranking"]["steps"], json!(["collapse", "diversity"]));
    // Bad values are 400s that say what is wrong.
    for (body, what) in [
        (json!({"id": a, "diversity": 1.5}), "diversity"),
        (json!({"id": a, "diversity": -0.1}), "diversity"),
        (json!({"id": a, "collapse": "yes"}), "boolean"),
    ] {
        let message = common::expect_error(
            server.post_json(body).await,
            StatusCode::BAD_REQUEST,
            "a bad ranking field",
        )
        .await;
        assert!(message.contains(what), "{message}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recommendations_for_a_board_and_without_one() {
    let server = server().await;
    let (a, b) = (id_of("a/ukbench00000.jpg"), id_of("b/ukbench00008.jpg"));
    let board = json!({"positive": [{"id": a}, {"id": b}]}).to_string();
    let url = format!("/api/recommend?k=10&board={}", urlencode(&board));
    let feed = ok_json(server.get(&url).await).await;
    assert_eq!(feed["cold_start"], json!(false));
    let ids = result_ids(&feed);
    assert_eq!(ids.len(), 10);
    assert!(!ids.contains(&a) && !ids.contains(&b), "{ids:?}");
    // Both pinned objects are followed: views of object 0 and of object 2 near the top.
    let objects: Vec<Option<usize>> = result_paths(&feed)[..4]
        .iter()
        .map(|p| object_of(p))
        .collect();
    assert!(
        objects.contains(&Some(0)) && objects.contains(&Some(2)),
        "{objects:?}"
    );
    assert!(feed["ranking"]["steps"]
        .as_array()
        .expect("steps")
        .contains(&json!("collapse")));
    // The next page follows on.
    let next = ok_json(server.get(&format!("{url}&offset=10")).await).await;
    for id in result_ids(&next) {
        assert!(!ids.contains(&id) && id != a && id != b);
    }
    // Cold start.
    let cold = ok_json(server.get("/api/recommend?k=5").await).await;
    assert_eq!(cold["cold_start"], json!(true));
    assert_eq!(result_ids(&cold).len(), 5);
    // Bad requests.
    for (query, what) in [
        ("board=notjson", "board"),
        ("k=0", "k must be"),
        ("diversity=2", "diversity"),
        ("board=%7B%22positive%22%3A%5B%5D%7D", "positive"),
    ] {
        let message = common::expect_error(
            server.get(&format!("/api/recommend?{query}")).await,
            StatusCode::BAD_REQUEST,
            "a bad recommendation request",
        )
        .await;
        assert!(message.contains(what), "{query}: {message}");
    }
    let missing = json!({"positive": [{"id": 999_999}]}).to_string();
    let status = server
        .get(&format!("/api/recommend?board={}", urlencode(&missing)))
        .await
        .status();
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.stop().await;
}

/// `text` percent-encoded for a URL's query.
fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
