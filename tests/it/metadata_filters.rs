//! Metadata at index time (format, EXIF date, camera, GPS in the catalog), filters, browsing and the
//! catalog migration, through the engine API with EfficientNet-Lite0, over a generated folder tree of
//! re-encoded ukbench-14 photos, some with EXIF written by the test (`little_exif`).
//!
//! Needs the Lite0 weights (`vsearch models fetch efficientnet-lite0`).

use crate::common::{engine_options, set_mtime, ukbench_photo, write_photo, ExifSpec};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use vsearch_engine::catalog::Catalog;
use vsearch_engine::filter::Filter;
use vsearch_engine::metadata::ImageMeta;
use vsearch_engine::{index_folder, verify, Collection, Query, QueryOptions};

/// One photo of the generated tree.
struct Photo {
    rel: &'static str,
    /// ukbench photo number.
    source: usize,
    /// Longest side in pixels.
    side: u32,
    exif: Option<ExifSpec>,
    /// Modification time, seconds since the epoch.
    mtime: u64,
}

fn exif(
    date: Option<&'static str>,
    offset: Option<&'static str>,
    make: Option<&'static str>,
    model: Option<&'static str>,
    gps: Option<(f64, f64)>,
) -> Option<ExifSpec> {
    Some(ExifSpec {
        date,
        offset,
        make,
        model,
        gps,
    })
}

fn tree() -> Vec<Photo> {
    let p = |rel, source, side, exif, mtime| Photo {
        rel,
        source,
        side,
        exif,
        mtime,
    };
    vec![
        p(
            "a.jpg",
            0,
            200,
            exif(
                Some("2024:06:01 10:00:00"),
                Some("+02:00"),
                Some("Canon"),
                Some("EOS R5"),
                Some((48.8584, 2.2945)),
            ),
            1_700_000_000,
        ),
        p("b.png", 4, 180, None, 1_700_000_100),
        p(
            "trips/2024/c.jpg",
            8,
            220,
            exif(
                Some("2024:06:01 09:00:00"),
                None,
                Some("Nikon"),
                Some("Z6"),
                Some((-33.8568, 151.2153)),
            ),
            1_650_000_000,
        ),
        p(
            "trips/2024/d.jpg",
            12,
            160,
            exif(
                Some("2024:07:15 18:30:00"),
                Some("-05:00"),
                Some("Canon"),
                Some("EOS R6"),
                None,
            ),
            1_650_000_000,
        ),
        p(
            "trips/2024/e.jpg",
            16,
            240,
            exif(
                None,
                None,
                Some("Apple"),
                Some("iPhone 15"),
                Some((40.6892, -74.0445)),
            ),
            1_720_000_000,
        ),
        p("trips/2024/deep/f.png", 20, 200, None, 1_600_000_000),
        p(
            "trips/2024/deep/g.jpg",
            24,
            150,
            exif(
                Some("2023:12:31 23:59:59"),
                Some("+09:00"),
                None,
                None,
                None,
            ),
            1_600_000_000,
        ),
        p(
            "trips/2023/h.jpg",
            28,
            210,
            exif(
                Some("2023:03:10 08:00:00"),
                None,
                Some("Fujifilm"),
                None,
                None,
            ),
            1_690_000_000,
        ),
        p("trips/2023/i.jpg", 32, 190, None, 1_690_000_000),
        p("misc/j.png", 36, 170, None, 1_710_000_000),
        p("misc/k.jpg", 40, 230, None, 1_710_000_000),
        p(
            "misc/l.jpg",
            44,
            200,
            exif(
                Some("2024:06:01 08:00:00"),
                Some("+00:00"),
                None,
                None,
                None,
            ),
            1_710_000_000,
        ),
    ]
}

/// Writes the tree under `root`; returns each photo's size in pixels, by path.
fn write_tree(root: &Path, photos: &[Photo]) -> BTreeMap<&'static str, (u32, u32)> {
    let mut sizes = BTreeMap::new();
    for photo in photos {
        let img = ukbench_photo(photo.source, photo.side);
        let path = root.join(photo.rel);
        write_photo(&path, &img, photo.exif.as_ref());
        set_mtime(&path, photo.mtime);
        sizes.insert(photo.rel, (img.width(), img.height()));
    }
    sizes
}

/// The expected `taken_at` instant of an EXIF spec (offset applied, UTC without one).
fn expected_instant(spec: &ExifSpec) -> Option<jiff::Timestamp> {
    let date = spec.date?;
    let civil: jiff::civil::DateTime =
        jiff::civil::DateTime::strptime("%Y:%m:%d %H:%M:%S", date).expect("test date");
    let offset = match spec.offset {
        Some(o) => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let h: i32 = o[1..3].parse().expect("hours");
            let m: i32 = o[4..6].parse().expect("minutes");
            jiff::tz::Offset::from_seconds(sign * (h * 3600 + m * 60)).expect("offset")
        }
        None => jiff::tz::Offset::UTC,
    };
    Some(offset.to_timestamp(civil).expect("instant"))
}

fn instant(text: &str) -> jiff::Timestamp {
    text.parse()
        .unwrap_or_else(|e| panic!("{text} is not RFC 3339: {e}"))
}

/// The catalog's rows as served metadata (brute-force side of the filter checks).
fn catalog_rows(root: &Path) -> Vec<ImageMeta> {
    let catalog = Catalog::open_read_only(&root.join(".vsearch")).expect("catalog");
    catalog
        .entries()
        .expect("entries")
        .iter()
        .map(ImageMeta::from_entry)
        .collect()
}

fn ids_where(rows: &[ImageMeta], keep: impl Fn(&ImageMeta) -> bool) -> Vec<u64> {
    let mut ids: Vec<u64> = rows.iter().filter(|m| keep(m)).map(|m| m.id).collect();
    ids.sort_unstable();
    ids
}

/// Browse order computed independently: date taken else mtime, newest first, then id.
fn browse_order(rows: &[ImageMeta]) -> Vec<u64> {
    let mut keyed: Vec<(jiff::Timestamp, u64)> = rows
        .iter()
        .map(|m| {
            let t = m
                .taken_at
                .as_deref()
                .map(instant)
                .unwrap_or_else(|| instant(&m.mtime));
            (t, m.id)
        })
        .collect();
    keyed.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    keyed.into_iter().map(|(_, id)| id).collect()
}

#[test]
fn metadata_is_cataloged_and_every_filter_kind_matches_a_brute_force_filter() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let photos = tree();
    let sizes = write_tree(root, &photos);
    let report = index_folder(root, &engine_options()).expect("index");
    assert_eq!(report.indexed, photos.len(), "{report:?}");
    assert!(report.failed.is_empty(), "{:?}", report.failed);

    // The catalog's metadata.
    let rows = catalog_rows(root);
    assert_eq!(rows.len(), photos.len());
    for photo in &photos {
        let m = rows
            .iter()
            .find(|m| m.path == photo.rel)
            .unwrap_or_else(|| panic!("{} is not cataloged", photo.rel));
        let path = root.join(photo.rel);
        let (folder, name) = photo.rel.rsplit_once('/').unwrap_or(("", photo.rel));
        assert_eq!((m.folder.as_str(), m.name.as_str()), (folder, name));
        let format = if photo.rel.ends_with(".png") {
            "png"
        } else {
            "jpeg"
        };
        assert_eq!(m.format, format, "{}", photo.rel);
        assert_eq!(m.bytes, std::fs::metadata(&path).expect("stat").len());
        assert_eq!((m.width, m.height), sizes[photo.rel], "{}", photo.rel);
        assert_eq!(instant(&m.mtime).as_second(), photo.mtime as i64);
        let spec = photo.exif.clone().unwrap_or_default();
        assert_eq!(
            m.taken_at.as_deref().map(instant),
            expected_instant(&spec),
            "{}",
            photo.rel
        );
        assert_eq!(m.camera_make.as_deref(), spec.make, "{}", photo.rel);
        assert_eq!(m.camera_model.as_deref(), spec.model, "{}", photo.rel);
        match spec.gps {
            Some((lat, lon)) => {
                let (got_lat, got_lon) = (m.gps_lat.expect("lat"), m.gps_lon.expect("lon"));
                assert!(
                    (got_lat - lat).abs() < 1e-5 && (got_lon - lon).abs() < 1e-5,
                    "{}: {got_lat} {got_lon}",
                    photo.rel
                );
            }
            None => assert_eq!((m.gps_lat, m.gps_lon), (None, None), "{}", photo.rel),
        }
    }
    let by_path = |p: &str| rows.iter().find(|m| m.path == p).expect("row");
    // The offset is kept in the text; without one, UTC.
    assert_eq!(
        by_path("a.jpg").taken_at.as_deref(),
        Some("2024-06-01T10:00:00+02:00")
    );
    assert_eq!(
        by_path("trips/2024/c.jpg").taken_at.as_deref(),
        Some("2024-06-01T09:00:00Z")
    );

    let collection = Collection::open_without_model(root).expect("open");
    assert_eq!(collection.len(), photos.len());
    // The collection serves the catalog's metadata.
    for m in &rows {
        assert_eq!(collection.images().get(m.id), Some(m));
    }

    let mut bytes: Vec<u64> = rows.iter().map(|m| m.bytes).collect();
    bytes.sort_unstable();
    let median = bytes[bytes.len() / 2];
    let a = by_path("a.jpg").id;
    let f = by_path("trips/2024/deep/f.png").id;
    type Check = Box<dyn Fn(&ImageMeta) -> bool>;
    let cases: Vec<(serde_json::Value, Check)> = vec![
        (
            json!({"must": [{"key": "format", "match": {"value": "jpeg"}}]}),
            Box::new(|m| m.format == "jpeg"),
        ),
        (
            json!({"must": [{"key": "format", "match": {"any": ["png"]}}]}),
            Box::new(|m| m.format == "png"),
        ),
        (
            json!({"must": [{"key": "format", "match": {"except": ["jpeg"]}}]}),
            Box::new(|m| m.format != "jpeg"),
        ),
        (
            json!({"must": [{"key": "folder", "match": {"value": "trips/2024"}}]}),
            Box::new(|m| m.folder == "trips/2024"),
        ),
        (
            json!({"must": [{"key": "folder", "match": {"value": ""}}]}),
            Box::new(|m| !m.path.contains('/')),
        ),
        (
            json!({"must": [{"key": "path", "match": {"prefix": "trips/2024/"}}]}),
            Box::new(|m| m.path.starts_with("trips/2024/")),
        ),
        (
            json!({"must": [{"key": "name", "match": {"value": "k.jpg"}}]}),
            Box::new(|m| m.name == "k.jpg"),
        ),
        (
            json!({"must": [{"key": "bytes", "range": {"gte": median}}]}),
            Box::new(move |m| m.bytes >= median),
        ),
        (
            json!({"must": [{"key": "width", "range": {"gt": 180, "lte": 220}}]}),
            Box::new(|m| m.width > 180 && m.width <= 220),
        ),
        (
            json!({"must": [{"key": "taken_at", "range": {"gte": "2024-06-01T08:30:00+00:00", "lt": "2024-07-01T00:00:00+02:00"}}]}),
            Box::new(|m| {
                m.taken_at.as_deref().map(instant).is_some_and(|t| {
                    t >= instant("2024-06-01T08:30:00Z") && t < instant("2024-06-30T22:00:00Z")
                })
            }),
        ),
        (
            json!({"must": [{"key": "mtime", "range": {"lt": "2023-11-14T22:13:20Z"}}]}),
            Box::new(|m| instant(&m.mtime).as_second() < 1_700_000_000),
        ),
        (
            json!({"must": [{"key": "taken_at", "match": {"prefix": "2024-06"}}]}),
            Box::new(|m| {
                m.taken_at
                    .as_deref()
                    .is_some_and(|t| t.starts_with("2024-06"))
            }),
        ),
        (
            json!({"must": [{"is_empty": {"key": "taken_at"}}]}),
            Box::new(|m| m.taken_at.is_none()),
        ),
        (
            json!({"must_not": [{"is_empty": {"key": "gps_lat"}}]}),
            Box::new(|m| m.gps_lat.is_some()),
        ),
        (
            json!({"must": [{"has_id": [a, f, 999]}]}),
            Box::new(move |m| m.id == a || m.id == f),
        ),
        (
            json!({"must": [{"key": "camera_make", "match": {"any": ["Canon", "Nikon"]}}]}),
            Box::new(|m| matches!(m.camera_make.as_deref(), Some("Canon" | "Nikon"))),
        ),
        (
            json!({"must": [{"key": "gps_lat", "range": {"lt": 0}}]}),
            Box::new(|m| m.gps_lat.is_some_and(|l| l < 0.0)),
        ),
        (
            json!({
                "must": [{"key": "path", "match": {"prefix": "trips/"}}],
                "should": [{"key": "camera_make", "match": {"value": "Canon"}}, {"is_empty": {"key": "camera_make"}}],
                "must_not": [{"must": [{"key": "folder", "match": {"value": "trips/2023"}}]}]
            }),
            Box::new(|m| {
                m.path.starts_with("trips/")
                    && (m.camera_make.as_deref() == Some("Canon") || m.camera_make.is_none())
                    && m.folder != "trips/2023"
            }),
        ),
    ];
    for (json, keep) in &cases {
        let filter = Filter::from_json(json).expect("valid filter");
        let expected = ids_where(&rows, keep);
        let selected: Vec<u64> = collection
            .images()
            .select(&filter)
            .expect("select")
            .ids()
            .collect();
        assert_eq!(selected, expected, "filter {json}");
        assert!(
            !expected.is_empty() || json.to_string().contains("999"),
            "a case that keeps nothing: {json}"
        );
        let page = collection.browse(0, 100, Some(&filter)).expect("browse");
        assert_eq!(page.total, expected.len(), "filter {json}");
        let mut browsed: Vec<u64> = page.images.iter().map(|m| m.id).collect();
        browsed.sort_unstable();
        assert_eq!(browsed, expected, "browse with filter {json}");
        // A filtered search returns exactly the images the filter keeps (k covers them all); exact
        // search, as the indexes' filtered search is another change.
        let options = QueryOptions {
            k: 100,
            index: Some(vsearch_engine::IndexKind::Flat),
            filter: Some(filter.clone()),
            ..QueryOptions::default()
        };
        let response = collection
            .search(&Query::Id(a.into()), &options)
            .expect("search");
        let mut found: Vec<u64> = response
            .results
            .iter()
            .filter_map(|r| r.id.number())
            .collect();
        found.sort_unstable();
        assert_eq!(found, expected, "search with filter {json}");
    }

    // Browse: newest first, then id; pages concatenate to the whole list.
    let all = collection.browse(0, usize::MAX, None).expect("browse");
    assert_eq!(all.total, photos.len());
    let order: Vec<u64> = all.images.iter().map(|m| m.id).collect();
    assert_eq!(order, browse_order(&rows));
    let mut paged = Vec::new();
    for offset in (0..all.total + 5).step_by(5) {
        let page = collection.browse(offset, 5, None).expect("page");
        assert_eq!(page.total, all.total);
        paged.extend(page.images.iter().map(|m| m.id));
    }
    assert_eq!(paged, order);
    let filter =
        Filter::from_json(&json!({"must": [{"key": "format", "match": {"value": "jpeg"}}]}))
            .expect("filter");
    let jpegs = collection
        .browse(2, 3, Some(&filter))
        .expect("filtered page");
    let jpeg_order: Vec<u64> = order
        .iter()
        .copied()
        .filter(|id| {
            collection
                .images()
                .get(*id)
                .is_some_and(|m| m.format == "jpeg")
        })
        .collect();
    assert_eq!(jpegs.total, jpeg_order.len());
    assert_eq!(
        jpegs.images.iter().map(|m| m.id).collect::<Vec<_>>(),
        jpeg_order[2..5]
    );

    // Facets.
    let facets = collection.facets(None).expect("facets");
    let mut folders: BTreeMap<String, usize> = BTreeMap::new();
    let mut formats: BTreeMap<String, usize> = BTreeMap::new();
    for m in &rows {
        *folders.entry(m.folder.clone()).or_default() += 1;
        *formats.entry(m.format.clone()).or_default() += 1;
    }
    let pairs = |f: &[vsearch_engine::browse::FacetCount]| -> BTreeMap<String, usize> {
        f.iter().map(|c| (c.value.clone(), c.count)).collect()
    };
    assert_eq!(pairs(&facets.folders), folders);
    assert_eq!(pairs(&facets.formats), formats);
    assert!(serde_json::to_value(&facets).is_ok() && serde_json::to_value(&all).is_ok());

    // A bad filter is refused with the reason.
    let bad = Filter::from_json(&json!({"must": [{"key": "format", "range": {"gt": 1}}]}));
    assert!(matches!(
        bad,
        Err(vsearch_engine::EngineError::Filter { .. })
    ));
    let bad: Filter =
        serde_json::from_value(json!({"must": [{"key": "colour", "match": {"value": "red"}}]}))
            .expect("parses");
    assert!(collection.browse(0, 10, Some(&bad)).is_err());
    assert!(collection.images().select(&bad).is_err());
}

#[test]
fn an_old_catalog_gains_the_metadata_columns_and_fields_without_re_embedding() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let photos: Vec<Photo> = tree().into_iter().take(5).collect();
    write_tree(root, &photos);
    let first = index_folder(root, &engine_options()).expect("index");
    assert_eq!(first.embedded, photos.len());
    let before = catalog_rows(root);

    // Make it a schema-1 catalog: no metadata columns, no schema version.
    {
        let conn = rusqlite::Connection::open(root.join(".vsearch/catalog.sqlite")).expect("open");
        for column in [
            "format",
            "taken_at",
            "camera_make",
            "camera_model",
            "gps_lat",
            "gps_lon",
            "version",
            "video",
            "frame_ms",
        ] {
            conn.execute_batch(&format!("ALTER TABLE files DROP COLUMN {column}"))
                .expect("drop column");
        }
        conn.execute("DELETE FROM meta WHERE key = 'schema_version'", [])
            .expect("delete version");
    }
    // Served before the next run: metadata from the path alone.
    let old = Collection::open_without_model(root).expect("open an old catalog");
    let a = old
        .images()
        .iter()
        .find(|m| m.path == "a.jpg")
        .expect("a.jpg");
    assert_eq!((a.format.as_str(), a.taken_at.as_deref()), ("jpeg", None));
    drop(old);

    let second = index_folder(root, &engine_options()).expect("index again");
    assert_eq!(second.embedded, 0, "{second:?}");
    assert_eq!(second.metadata, photos.len(), "{second:?}");
    let catalog = Catalog::open_read_only(&root.join(".vsearch")).expect("catalog");
    assert_eq!(
        catalog.schema_version().expect("version"),
        vsearch_engine::catalog::SCHEMA_VERSION
    );
    let after = catalog_rows(root);
    assert_eq!(
        after, before,
        "same ids and the same metadata as a fresh index"
    );
    let report = verify(root).expect("verify");
    assert!(report.is_consistent(), "{:?}", report.problems);
    let served = Collection::open_without_model(root).expect("open");
    for m in &after {
        assert_eq!(served.images().get(m.id), Some(m));
    }
    // Nothing is left to read.
    let third = index_folder(root, &engine_options()).expect("index a third time");
    assert_eq!((third.embedded, third.metadata), (0, 0), "{third:?}");
}
