//! Stable ids: an image keeps its id across re-indexing while its path stays the same (a changed file is
//! re-embedded under the same id, in the matrix, the catalog and every index kind); a renamed file gets
//! a new id; a file that stops decoding fails under its id. Through the engine API with
//! EfficientNet-Lite0 over re-encoded ukbench-14 photos.
//!
//! Needs the Lite0 weights (`vsearch models fetch efficientnet-lite0`).

use crate::common::{engine_options, set_mtime, ukbench_photo, write_photo};
use std::path::Path;
use vsearch_engine::catalog::{Catalog, Status};
use vsearch_engine::{index_folder, verify, Collection, IndexKind, Query, QueryOptions};

/// Writes ukbench photo `source` at `root/rel` with mtime `mtime`.
fn photo(root: &Path, rel: &str, source: usize, mtime: u64) {
    let path = root.join(rel);
    write_photo(&path, &ukbench_photo(source, 200), None);
    set_mtime(&path, mtime);
}

fn id_of(collection: &Collection, path: &str) -> u64 {
    collection
        .images()
        .iter()
        .find(|m| m.path == path)
        .unwrap_or_else(|| panic!("{path} is not served"))
        .id
}

/// The top hit of `vector` in each index kind.
fn top_hits(collection: &Collection, vector: &[f32]) -> Vec<(IndexKind, u64, f32)> {
    [IndexKind::Hnsw, IndexKind::Ivf, IndexKind::Flat]
        .into_iter()
        .map(|kind| {
            let options = QueryOptions {
                k: 1,
                index: Some(kind),
                ..QueryOptions::default()
            };
            let response = collection
                .search(&Query::Vector(vector.to_vec()), &options)
                .unwrap_or_else(|e| panic!("{kind} search: {e}"));
            let hit = &response.results[0];
            (kind, hit.id.number().unwrap_or(u64::MAX), hit.score)
        })
        .collect()
}

fn assert_consistent(root: &Path) {
    let report = verify(root).expect("verify");
    assert!(report.is_consistent(), "{:?}", report.problems);
}

/// Every index kind holds exactly the served ids, each once: a full search returns them all.
fn assert_each_id_once(collection: &Collection, vector: &[f32]) {
    let ids = collection.images().ids();
    for kind in [IndexKind::Hnsw, IndexKind::Ivf, IndexKind::Flat] {
        let options = QueryOptions {
            k: ids.len() + 5,
            index: Some(kind),
            params: vsearch_engine::SearchParams {
                ef_search: Some(200),
                nprobe: Some(1024),
                rerank: None,
            },
            ..QueryOptions::default()
        };
        let response = collection
            .search(&Query::Vector(vector.to_vec()), &options)
            .expect("search");
        let mut found: Vec<u64> = response
            .results
            .iter()
            .filter_map(|r| r.id.number())
            .collect();
        found.sort_unstable();
        assert_eq!(found, ids, "{kind} index");
    }
}

#[test]
fn a_changed_file_keeps_its_id_and_a_renamed_one_gets_a_new_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    // Eight photos of eight objects.
    for i in 0..8 {
        photo(root, &format!("p{i}.jpg"), i * 4, 1_700_000_000);
    }
    let first = index_folder(root, &engine_options()).expect("index");
    assert_eq!(first.indexed, 8);
    let before = Collection::open_without_model(root).expect("open");
    let id = id_of(&before, "p0.jpg");
    let old_vector = before.vector(id).expect("vector");
    drop(before);

    // Same path, another photo (another object): re-embedded under the same id.
    photo(root, "p0.jpg", 40, 1_700_000_100);
    let second = index_folder(root, &engine_options()).expect("re-index");
    assert_eq!(
        (second.updated, second.embedded, second.indexed),
        (1, 1, 0),
        "{second:?}"
    );
    assert_consistent(root);
    let after = Collection::open_without_model(root).expect("open");
    assert_eq!(after.len(), 8);
    assert_eq!(id_of(&after, "p0.jpg"), id, "same path, same id");
    let new_vector = after.vector(id).expect("vector");
    let dot: f32 = new_vector.iter().zip(&old_vector).map(|(a, b)| a * b).sum();
    assert!(dot < 0.99, "the vector changed (cosine {dot})");
    for (kind, hit, score) in top_hits(&after, &new_vector) {
        assert_eq!(hit, id, "{kind}: the new vector finds its id");
        assert!(score > 0.999, "{kind}: score {score}");
    }
    for (kind, hit, score) in top_hits(&after, &old_vector) {
        assert!(
            !(hit == id && score > 0.999),
            "{kind}: the old vector is still indexed under id {id} (score {score})"
        );
    }
    assert_each_id_once(&after, &new_vector);
    drop(after);

    // Changed again: the newest row wins again (the matrix holds three rows of that id until
    // compaction keeps one).
    photo(root, "p0.jpg", 44, 1_700_000_200);
    let third = index_folder(root, &engine_options()).expect("re-index again");
    assert_eq!((third.updated, third.embedded), (1, 1), "{third:?}");
    assert_consistent(root);
    let again = Collection::open_without_model(root).expect("open");
    assert_eq!(id_of(&again, "p0.jpg"), id);
    let newest = again.vector(id).expect("vector");
    for (kind, hit, score) in top_hits(&again, &newest) {
        assert_eq!(hit, id, "{kind}");
        assert!(score > 0.999, "{kind}: score {score}");
    }
    for (kind, hit, score) in top_hits(&again, &new_vector) {
        assert!(
            !(hit == id && score > 0.999),
            "{kind}: a stale vector of id {id}"
        );
    }
    let max_id = again.images().ids().into_iter().max().expect("ids");
    let renamed_from = id_of(&again, "p1.jpg");
    drop(again);

    // Renamed: a new id; the old one is gone and not reused.
    std::fs::rename(root.join("p1.jpg"), root.join("p1-renamed.jpg")).expect("rename");
    let fourth = index_folder(root, &engine_options()).expect("index the rename");
    assert_eq!((fourth.removed, fourth.indexed), (1, 1), "{fourth:?}");
    assert_consistent(root);
    let renamed = Collection::open_without_model(root).expect("open");
    let new_id = id_of(&renamed, "p1-renamed.jpg");
    assert!(
        new_id > max_id,
        "a new path gets a new id ({new_id} after {max_id})"
    );
    assert!(!renamed.images().contains(renamed_from));
    assert_eq!(id_of(&renamed, "p0.jpg"), id);
    assert_each_id_once(&renamed, &newest);
}

#[test]
fn a_file_that_stops_decoding_fails_under_its_id_and_comes_back_under_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    for i in 0..6 {
        photo(root, &format!("p{i}.jpg"), i * 4 + 1, 1_700_000_000);
    }
    index_folder(root, &engine_options()).expect("index");
    let id = id_of(
        &Collection::open_without_model(root).expect("open"),
        "p2.jpg",
    );

    std::fs::write(root.join("p2.jpg"), b"not a jpeg any more").expect("overwrite");
    set_mtime(&root.join("p2.jpg"), 1_700_000_100);
    let broken = index_folder(root, &engine_options()).expect("index the broken file");
    assert_eq!(broken.failed.len(), 1, "{broken:?}");
    assert_consistent(root);
    let catalog = Catalog::open_read_only(&root.join(".vsearch")).expect("catalog");
    let row = catalog
        .entries()
        .expect("entries")
        .into_iter()
        .find(|e| e.path == "p2.jpg")
        .expect("row");
    assert_eq!((row.id, row.status), (id, Status::Failed));
    let served = Collection::open_without_model(root).expect("open");
    assert_eq!(served.len(), 5);
    assert!(!served.images().contains(id));
    let probe = served.vector(id_of(&served, "p0.jpg")).expect("vector");
    assert_each_id_once(&served, &probe);
    drop(served);

    photo(root, "p2.jpg", 30, 1_700_000_200);
    let fixed = index_folder(root, &engine_options()).expect("index the fixed file");
    assert_eq!((fixed.updated, fixed.embedded), (1, 1), "{fixed:?}");
    assert_consistent(root);
    let served = Collection::open_without_model(root).expect("open");
    assert_eq!(id_of(&served, "p2.jpg"), id);
    let v = served.vector(id).expect("vector");
    for (kind, hit, _) in top_hits(&served, &v) {
        assert_eq!(hit, id, "{kind}");
    }
    assert_each_id_once(&served, &v);
}
