//! Fuzzing the index loaders: saved flat, HNSW (full vectors and int8 codes), IVF-Flat and IVF-PQ
//! folders are mutated (bytes flipped, runs overwritten, files truncated, extended or emptied,
//! `index.json` fields edited) and loaded again.
//! Every load must return an index or a typed error, never panic or crash; an index that loads must
//! answer searches without panicking. Half the data-file mutations also rewrite the file's checksum in
//! `index.json`, so the mutated bytes reach the parsers (hnsw_rs's, FAISS's, ours) instead of stopping
//! at the checksum.
//!
//! Bounded and reproducible: `LOADER_FUZZ_CASES` cases per index kind (default 200), seeded; a failure
//! prints its case seed (`LOADER_FUZZ_SEED` reruns from it).

use crate::common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::Path;
use vsearch_index::{
    build, load, load_for_search, HnswParams, IndexConfig, IvfCodes, IvfParams, Metric,
    Quantization, SearchParams,
};

const DIM: usize = 16;
const N: usize = 300;

fn configs() -> Vec<(&'static str, IndexConfig)> {
    let ivf = IvfParams {
        nlist: Some(8),
        nprobe: 4,
        codes: IvfCodes::Flat,
        rerank: false,
        train_size: None,
    };
    vec![
        ("flat", IndexConfig::Flat),
        ("hnsw", IndexConfig::Hnsw(HnswParams::default())),
        (
            "hnsw-int8",
            IndexConfig::Hnsw(HnswParams {
                quantization: Some(Quantization::Int8),
                ..HnswParams::default()
            }),
        ),
        ("ivf-flat", IndexConfig::Ivf(ivf)),
        (
            "ivf-pq",
            IndexConfig::Ivf(IvfParams {
                codes: IvfCodes::Pq { m: 4, bits: 4 },
                rerank: true,
                ..ivf
            }),
        ),
    ]
}

/// One mutation of one file of the folder `dir`; returns what it did.
fn mutate(dir: &Path, rng: &mut StdRng) -> String {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let path = &files[rng.gen_range(0..files.len())];
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut bytes = std::fs::read(path).unwrap();
    let len = bytes.len();
    let parsed = serde_json::from_slice::<serde_json::Value>(&bytes).ok();
    let what = if let (true, Some(mut json)) = (name == "index.json" && rng.gen_bool(0.5), parsed) {
        // A field edited to another plausible value.
        let edits: [(&str, serde_json::Value); 6] = [
            ("dim", serde_json::json!(rng.gen_range(0..64))),
            ("len", serde_json::json!(rng.gen_range(0..100_000))),
            ("format_version", serde_json::json!(rng.gen_range(0..4))),
            ("metric", serde_json::json!("l2")),
            (
                "kind",
                serde_json::json!(["flat", "hnsw", "ivf"][rng.gen_range(0..3)]),
            ),
            (
                "config",
                serde_json::json!({"kind": "hnsw", "m": 0, "ef_construction": 1, "ef_search": 0}),
            ),
        ];
        let (field, value) = edits[rng.gen_range(0..edits.len())].clone();
        json[field] = value.clone();
        bytes = serde_json::to_vec(&json).unwrap();
        format!("index.json: {field} = {value}")
    } else {
        let what = match rng.gen_range(0..6) {
            0 if len > 0 => {
                let at = rng.gen_range(0..len);
                bytes[at] ^= 1 << rng.gen_range(0..8);
                format!("bit flipped at {at}")
            }
            1 if len > 0 => {
                let at = rng.gen_range(0..len);
                let run = rng.gen_range(1..=16.min(len - at));
                rng.fill(&mut bytes[at..at + run]);
                format!("{run} bytes overwritten at {at}")
            }
            2 => {
                let at = rng.gen_range(0..=len);
                bytes.truncate(at);
                format!("truncated to {at}")
            }
            3 => {
                let extra: Vec<u8> = (0..rng.gen_range(1..64)).map(|_| rng.gen()).collect();
                bytes.extend_from_slice(&extra);
                format!("{} bytes appended", extra.len())
            }
            4 => {
                bytes.clear();
                "emptied".to_string()
            }
            _ if len >= 8 => {
                // A length or count field blown up: 8 bytes of 0xff.
                let at = rng.gen_range(0..=len - 8);
                bytes[at..at + 8].fill(0xff);
                format!("0xff x8 at {at}")
            }
            _ => "unchanged".to_string(),
        };
        format!("{name}: {what}")
    };
    std::fs::write(path, &bytes).unwrap();
    // Half the time the checksum follows, so the parsers see the bytes.
    if name != "index.json" && rng.gen_bool(0.5) {
        let manifest_path = dir.join("index.json");
        let Ok(mut json) =
            serde_json::from_slice::<serde_json::Value>(&std::fs::read(&manifest_path).unwrap())
        else {
            return what;
        };
        if json["files"].get(&name).is_some() {
            json["files"][&name] = serde_json::json!(crc32fast::hash(&bytes));
            std::fs::write(&manifest_path, serde_json::to_vec(&json).unwrap()).unwrap();
            return format!("{what} (checksum rewritten)");
        }
    }
    what
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn mutated_index_folders_load_or_fail_cleanly() {
    let cases: u64 = std::env::var("LOADER_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let first_seed: u64 = std::env::var("LOADER_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let (base, queries) = clustered(N, 8, DIM, 10, 5);
    let ids = ids(N);
    let tmp = tempfile::tempdir().unwrap();
    let only = std::env::var("LOADER_FUZZ_KINDS").ok();
    for (name, config) in configs() {
        if only
            .as_deref()
            .is_some_and(|k| !k.split(',').any(|k| k == name))
        {
            continue;
        }
        let saved = tmp.path().join(name);
        let index = build(&config, DIM, Metric::Cosine, &ids, &base).unwrap();
        index.save(&saved).unwrap();
        let (mut loaded, mut refused) = (0, 0);
        for seed in first_seed..first_seed + cases {
            let mut rng = StdRng::seed_from_u64(seed);
            let case = tmp.path().join(format!("{name}-{seed}"));
            copy_dir(&saved, &case);
            let mut what = Vec::new();
            for _ in 0..rng.gen_range(1..=3) {
                what.push(mutate(&case, &mut rng));
            }
            eprintln!("[{name} seed {seed}] {}", what.join("; "));
            let full = load(&case);
            // Opened for search only (HNSW read straight from its files): refused or searchable,
            // whatever the full load did, and where both load they answer alike.
            let for_search = load_for_search(&case);
            match (&full, &for_search) {
                (Ok(a), Ok(b)) => {
                    for q in queries.chunks_exact(DIM) {
                        let p = SearchParams::default();
                        if let (Ok(x), Ok(y)) = (a.search(q, 5, &p), b.search(q, 5, &p)) {
                            assert_eq!(x, y, "[{name} seed {seed}] the two loads answer apart");
                        }
                    }
                }
                (Ok(_), Err(e)) | (Err(e), Ok(_)) => {
                    eprintln!("[{name} seed {seed}] one load refused: {e}");
                }
                (Err(_), Err(_)) => {}
            }
            match full {
                Ok(index) => {
                    loaded += 1;
                    let _ = index.len();
                    for q in queries.chunks_exact(DIM) {
                        let _ = index.search(q, 5, &SearchParams::default());
                    }
                    let _ = index.search_batch(&queries, 3, &SearchParams::default());
                }
                Err(e) => {
                    refused += 1;
                    assert!(!e.to_string().is_empty());
                }
            }
            if let Ok(index) = for_search {
                for q in queries.chunks_exact(DIM) {
                    let _ = index.search(q, 5, &SearchParams::default());
                }
            }
            std::fs::remove_dir_all(&case).unwrap();
        }
        eprintln!("[{name}] {cases} mutated folders: {loaded} loaded, {refused} refused");
    }
}
