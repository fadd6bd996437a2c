//! HEIC and AVIF photos through the real binary: `vsearch index` reads them like any other format and
//! reports the corrupt and truncated ones (nothing else lost), search by a HEIC/AVIF finds its JPEG twin,
//! and the server takes a HEIC upload, serves the original as `image/heic` and its thumbnail as JPEG. The
//! fixtures are `tests/fixtures/heif/` (`scripts/make_heif_fixtures.py`: re-encodings of sample photos).
//! Needs the EfficientNet-Lite0 weights (`vsearch models fetch efficientnet-lite0`) and libheif.

use crate::common::{json, run_ok, sample_images, serve, ukbench, vsearch, MODEL};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

fn heif_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/heif")
}

/// A folder of HEIC/AVIF photos, their JPEG twins, four unrelated ukbench photos and two broken HEICs.
fn photo_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    for name in [
        "squirrel.heic",
        "butterfly.avif",
        "messi_rotated.heic",
        "corrupt.heic",
        "truncated.heic",
    ] {
        std::fs::copy(heif_fixtures().join(name), root.join(name)).expect("copy a fixture");
    }
    for name in ["squirrel_cls.jpg", "butterfly.jpg"] {
        std::fs::copy(sample_images().join(name), root.join(name)).expect("copy a twin");
    }
    for i in 0..4 {
        let name = format!("ukbench{:05}.jpg", i * 4);
        std::fs::copy(ukbench().join(&name), root.join(&name)).expect("copy a photo");
    }
    dir
}

fn search(root: &Path, args: &[&str]) -> Value {
    json(&run_ok(
        vsearch()
            .arg("search")
            .arg("--collection")
            .arg(root)
            .arg("--json")
            .args(args),
    ))
}

fn paths(response: &Value) -> BTreeSet<String> {
    response["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results in {response:#}"))
        .iter()
        .map(|r| r["path"].as_str().expect("path").to_string())
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn heic_and_avif_are_indexed_searched_and_served() {
    let dir = photo_folder();
    let root = dir.path();
    let report = json(&run_ok(
        vsearch()
            .arg("index")
            .arg(root)
            .args(["--model", MODEL, "--json"]),
    ));
    assert_eq!(report["indexed"], 9, "{report:#}");
    let failed: HashMap<String, String> = report["failed"]
        .as_array()
        .expect("failed")
        .iter()
        .map(|f| {
            let path = Path::new(f["path"].as_str().expect("path"));
            let name = path.file_name().expect("name").to_string_lossy();
            (
                name.to_string(),
                f["reason"].as_str().expect("reason").to_string(),
            )
        })
        .collect();
    assert_eq!(
        failed.keys().cloned().collect::<BTreeSet<_>>(),
        set(&["corrupt.heic", "truncated.heic"]),
        "{report:#}"
    );
    for (name, why) in [
        ("corrupt.heic", "no 'meta' box"),
        ("truncated.heic", "end of file"),
    ] {
        assert!(
            failed[name].contains("HEIF") && failed[name].to_lowercase().contains(why),
            "{name}: {}",
            failed[name]
        );
    }
    let check = json(
        &vsearch()
            .arg("index")
            .arg(root)
            .args(["--check", "--json"])
            .output()
            .expect("run vsearch"),
    );
    assert_eq!(
        (check["ok"].as_u64(), check["failed"].as_u64()),
        (Some(9), Some(2)),
        "{check:#}"
    );

    // Each twin finds the other first: the HEIC/AVIF embeds like the JPEG it was made from.
    for (query, twin) in [
        ("squirrel_cls.jpg", "squirrel.heic"),
        ("squirrel.heic", "squirrel_cls.jpg"),
        ("butterfly.avif", "butterfly.jpg"),
        ("butterfly.jpg", "butterfly.avif"),
    ] {
        let image = root.join(query);
        let found = search(
            root,
            &["--image", image.to_str().expect("utf-8"), "-k", "2"],
        );
        assert_eq!(paths(&found), set(&[query, twin]), "{found:#}");
    }

    let server = serve(root, None);
    let client = reqwest::blocking::Client::new();
    // Metadata: the rotated HEIC is upright (the container's rotation, not EXIF's again), formats by content.
    let images: Value = client
        .get(format!("{}/api/images?limit=100", server.base))
        .send()
        .and_then(|r| r.json())
        .expect("browse");
    let by_name: HashMap<String, Value> = images["images"]
        .as_array()
        .unwrap_or_else(|| panic!("no images in {images:#}"))
        .iter()
        .map(|i| (i["name"].as_str().expect("name").to_string(), i.clone()))
        .collect();
    let meta = |name: &str| {
        by_name
            .get(name)
            .unwrap_or_else(|| panic!("{name} not browsed: {images:#}"))
    };
    let rotated = meta("messi_rotated.heic");
    assert_eq!(
        (&rotated["format"], &rotated["width"], &rotated["height"]),
        (&Value::from("heic"), &Value::from(548), &Value::from(342)),
        "{rotated:#}"
    );
    assert_eq!(meta("butterfly.avif")["format"], "avif");

    // An upload of a HEIC searches.
    let form = reqwest::blocking::multipart::Form::new()
        .part(
            "image",
            reqwest::blocking::multipart::Part::bytes(
                std::fs::read(heif_fixtures().join("squirrel.heic")).expect("read"),
            )
            .file_name("IMG_0001.HEIC")
            .mime_str("image/heic")
            .expect("mime"),
        )
        .text("k", "2");
    let response = client
        .post(format!("{}/api/search", server.base))
        .multipart(form)
        .send()
        .expect("upload");
    assert_eq!(response.status(), 200);
    let found: Value = response.json().expect("json");
    assert_eq!(
        paths(&found),
        set(&["squirrel.heic", "squirrel_cls.jpg"]),
        "{found:#}"
    );

    // The original is served as what it is, its thumbnail as a JPEG of the upright photo.
    let id = &rotated["id"];
    let original = client
        .get(format!("{}/api/images/{id}", server.base))
        .send()
        .expect("original");
    assert_eq!(original.headers()["content-type"], "image/heic");
    let thumbnail = client
        .get(format!("{}/api/images/{id}/thumbnail", server.base))
        .send()
        .expect("thumbnail");
    assert_eq!(thumbnail.headers()["content-type"], "image/jpeg");
    let thumbnail = image::load_from_memory(&thumbnail.bytes().expect("bytes")).expect("a JPEG");
    assert!(
        thumbnail.width() > thumbnail.height(),
        "upright: {}x{}",
        thumbnail.width(),
        thumbnail.height()
    );
}
