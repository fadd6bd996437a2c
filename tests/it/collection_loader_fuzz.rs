//! Fuzzing the collection loaders (issue: reliability, fuzzing): a collection indexed from real photos
//! is copied and one to three of its files are mutated (the manifest, the catalog, the embedding matrix
//! and its ids, the commit point, a generation's file list, the index files: bytes flipped or
//! overwritten, files truncated, extended, emptied or removed, JSON values replaced by others), then
//! opened as the server opens it and checked as `vsearch index --check` does. Each must answer or fail
//! with a typed error; no panic may escape, and a collection that opens must answer a query by id.
//!
//! Bounded and reproducible: `COLLECTION_FUZZ_CASES` cases (default 150), seeded from 1
//! (`COLLECTION_FUZZ_SEED` starts elsewhere); each case prints its seed and mutations.
//! Needs the Lite0 weights (`vsearch models fetch efficientnet-lite0`).

use crate::common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use vsearch_engine::{verify, Collection, IndexKind, Query, QueryOptions};

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = e.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

/// A value to put in place of a JSON leaf.
fn odd_value(rng: &mut StdRng) -> Value {
    match rng.gen_range(0..10) {
        0 => json!(0),
        1 => json!(-1),
        2 => json!(u64::MAX),
        3 => json!(1u64 << 53),
        4 => json!(1e300),
        5 => json!("x"),
        6 => json!([]),
        7 => json!(null),
        8 => json!({}),
        _ => json!(rng.gen_range(0..100_000)),
    }
}

/// Replaces one random leaf (or whole array or object) of `v`.
fn mutate_json(v: &mut Value, rng: &mut StdRng) -> String {
    match v {
        Value::Object(map) if !map.is_empty() && rng.gen_bool(0.8) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = &keys[rng.gen_range(0..keys.len())];
            let inner = map.get_mut(key).expect("key");
            format!(".{key}{}", mutate_json(inner, rng))
        }
        Value::Array(items) if !items.is_empty() && rng.gen_bool(0.8) => {
            let i = rng.gen_range(0..items.len());
            format!("[{i}]{}", mutate_json(&mut items[i], rng))
        }
        _ => {
            *v = odd_value(rng);
            format!(" = {v}")
        }
    }
}

/// One mutation of one file under `coll`; returns what it did.
fn mutate(coll: &Path, rng: &mut StdRng) -> String {
    let files = files_under(coll);
    let path = &files[rng.gen_range(0..files.len())];
    let name = path
        .strip_prefix(coll)
        .expect("under")
        .display()
        .to_string();
    let mut bytes = std::fs::read(path).expect("read");
    let len = bytes.len();
    if let (true, Ok(mut value)) = (
        name.ends_with(".json") && rng.gen_bool(0.7),
        serde_json::from_slice::<Value>(&bytes),
    ) {
        let what = mutate_json(&mut value, rng);
        std::fs::write(path, serde_json::to_vec(&value).expect("json")).expect("write");
        return format!("{name}{what}");
    }
    let what = match rng.gen_range(0..6) {
        0 if len > 0 => {
            let at = rng.gen_range(0..len);
            bytes[at] ^= 1 << rng.gen_range(0..8);
            format!("bit flipped at {at}")
        }
        1 if len > 0 => {
            let at = rng.gen_range(0..len);
            let run = rng.gen_range(1..=64.min(len - at));
            rng.fill(&mut bytes[at..at + run]);
            format!("{run} bytes overwritten at {at}")
        }
        2 => {
            let at = rng.gen_range(0..=len);
            bytes.truncate(at);
            format!("truncated to {at}")
        }
        3 => {
            let extra: Vec<u8> = (0..rng.gen_range(1..200)).map(|_| rng.gen()).collect();
            bytes.extend_from_slice(&extra);
            format!("{} bytes appended", extra.len())
        }
        4 => {
            std::fs::remove_file(path).expect("remove");
            return format!("{name}: removed");
        }
        _ => {
            bytes.clear();
            "emptied".to_string()
        }
    };
    std::fs::write(path, &bytes).expect("write");
    format!("{name}: {what}")
}

#[test]
fn mutated_collections_open_or_fail_cleanly() {
    let cases: u64 = std::env::var("COLLECTION_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150);
    let first_seed: u64 = std::env::var("COLLECTION_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let tmp = tempfile::tempdir().expect("tempdir");
    let photos = tmp.path().join("photos");
    std::fs::create_dir_all(&photos).expect("mkdir");
    for p in photos_in(&ukbench()).iter().take(24) {
        std::fs::copy(p, photos.join(p.file_name().expect("name"))).expect("copy");
    }
    // Every index kind, and a compacted matrix: index, delete a third, index again.
    index(
        &photos,
        &[
            "--index",
            "flat",
            "--add-index",
            "hnsw",
            "--add-index",
            "ivf",
        ],
    );
    for p in photos_in(&photos).iter().step_by(3) {
        std::fs::remove_file(p).expect("delete");
    }
    index(&photos, &[]);
    let coll = photos.join(".vsearch");
    assert!(
        coll.join("embeddings-1.f32").exists(),
        "{:?}",
        files_under(&coll)
    );
    assert!(verify(&coll).expect("verify").is_consistent());

    let (mut opened, mut refused) = (0, 0);
    for seed in first_seed..first_seed + cases {
        let mut rng = StdRng::seed_from_u64(seed);
        let case = tmp.path().join(format!("case-{seed}"));
        copy_tree(&coll, &case);
        let what: Vec<String> = (0..rng.gen_range(1..=3))
            .map(|_| mutate(&case, &mut rng))
            .collect();
        eprintln!("[seed {seed}] {}", what.join("; "));
        // Checked as `vsearch index --check` does: a report or an error.
        let _ = verify(&case);
        // Opened as the server does.
        match Collection::open_without_model(&case) {
            Ok(c) => {
                opened += 1;
                let _ = c.info();
                if let Ok((ids, _)) = c.embeddings() {
                    if let Some(&id) = ids.first() {
                        for index in [None, Some(IndexKind::Hnsw), Some(IndexKind::Ivf)] {
                            let options = QueryOptions {
                                k: 3,
                                index,
                                ..QueryOptions::default()
                            };
                            let _ = c.search(&Query::Id(id.into()), &options);
                        }
                    }
                }
            }
            Err(e) => {
                refused += 1;
                assert!(!e.to_string().is_empty());
            }
        }
        std::fs::remove_dir_all(&case).expect("remove case");
    }
    eprintln!("{cases} mutated collections: {opened} opened, {refused} refused");
}
