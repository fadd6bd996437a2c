//! Zero-shot labels with the tiny CLIP fixture (tests/fixtures/clip-tiny): a policy of two labels applied at
//! index time, scores stored in [0, 1] and equal to a hand computation from the stored vectors and the
//! prompts' text embeddings, label filter keys against a brute force over the stored scores, a changed
//! policy applied by `vsearch labels apply` without re-embedding (matrix unchanged), and `vsearch eval
//! labels` against a hand computation of precision, recall and F1.

use crate::common;

use crate::common::{json, photos_in, run_ok, sample_images, ukbench, vsearch};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use vsearch_embed::{DeviceSpec, ModelSpec};
use vsearch_engine::catalog::Catalog;
use vsearch_engine::Collection;

/// The fixture as a normal Hugging Face CLIP folder.
fn clip_folder(dir: &Path) -> PathBuf {
    common::clip_fixture_folder(dir)
}

/// A label of a test policy.
struct TestLabel {
    name: &'static str,
    prompts: &'static [&'static str],
    opposite: &'static [&'static str],
    threshold: f32,
    action: &'static str,
}

fn policy_toml(labels: &[TestLabel]) -> String {
    let list = |v: &[&str]| {
        v.iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    labels
        .iter()
        .map(|l| {
            format!(
                "[[label]]\nname = \"{}\"\nprompts = [{}]\nopposite = [{}]\nthreshold = {}\naction = \"{}\"\n\n",
                l.name,
                list(l.prompts),
                list(l.opposite),
                l.threshold,
                l.action
            )
        })
        .collect()
}

/// Scores by hand: softmax at scale 100 of the image's cosine with the normalised mean of each prompt set.
fn hand_scores(
    clip: &Path,
    labels: &[TestLabel],
    vectors: &HashMap<u64, Vec<f32>>,
) -> HashMap<u64, BTreeMap<String, f64>> {
    let model = vsearch_embed::load(&ModelSpec::Dir(clip.to_path_buf()), &DeviceSpec::Cpu)
        .expect("load the fixture");
    let direction = |texts: &[&str]| -> Vec<f64> {
        let rows = model.embed_texts(texts).expect("embed prompts");
        let mut mean = vec![0f64; rows[0].len()];
        for r in &rows {
            for (m, x) in mean.iter_mut().zip(r) {
                *m += f64::from(*x) / rows.len() as f64;
            }
        }
        let norm = mean.iter().map(|x| x * x).sum::<f64>().sqrt();
        mean.iter().map(|x| x / norm).collect()
    };
    let dirs: Vec<(&str, Vec<f64>, Vec<f64>)> = labels
        .iter()
        .map(|l| (l.name, direction(l.prompts), direction(l.opposite)))
        .collect();
    let dot = |a: &[f32], b: &[f64]| a.iter().zip(b).map(|(x, y)| f64::from(*x) * y).sum::<f64>();
    vectors
        .iter()
        .map(|(&id, v)| {
            let scores = dirs
                .iter()
                .map(|(name, p, q)| {
                    let logit = 100.0 * (dot(v, p) - dot(v, q));
                    (name.to_string(), 1.0 / (1.0 + (-logit).exp()))
                })
                .collect();
            (id, scores)
        })
        .collect()
}

fn stored_scores(coll: &Path) -> HashMap<u64, BTreeMap<String, f32>> {
    Catalog::open_read_only(coll)
        .expect("catalog")
        .labels()
        .expect("labels")
}

fn assert_scores_match(
    stored: &HashMap<u64, BTreeMap<String, f32>>,
    hand: &HashMap<u64, BTreeMap<String, f64>>,
) {
    assert_eq!(stored.len(), hand.len(), "every image has scores");
    let mut max_diff = 0f64;
    for (id, want) in hand {
        let got = &stored[id];
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>()
        );
        for (name, w) in want {
            let g = f64::from(got[name]);
            assert!((0.0..=1.0).contains(&g), "score {g} of {id}/{name}");
            max_diff = max_diff.max((g - w).abs());
        }
    }
    assert!(
        max_diff < 1e-4,
        "stored scores differ from the hand computation by {max_diff}"
    );
}

/// Bytes of every embedding-matrix file of the collection, by name.
fn matrix_files(coll: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(coll)
        .expect("read collection")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("embeddings"))
        })
        .map(|p| {
            (
                p.file_name().expect("name").to_string_lossy().into_owned(),
                std::fs::read(&p).expect("read matrix"),
            )
        })
        .collect()
}

/// The ids `vsearch search --id ID --filter FILTER` returns (every match: k is the collection size).
fn search_ids(photos: &Path, filter: &serde_json::Value, k: usize) -> BTreeSet<u64> {
    let out = run_ok(
        vsearch()
            .args(["search", "--collection"])
            .arg(photos)
            .args([
                "--id",
                "0",
                "--index",
                "flat",
                "-k",
                &k.to_string(),
                "--json",
            ])
            .args(["--filter", &filter.to_string()]),
    );
    json(&out)["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["id"].as_u64().expect("id"))
        .collect()
}

#[test]
fn labels_are_scored_filtered_reapplied_without_reembedding_and_evaluated() {
    let work = tempfile::tempdir().expect("tempdir");
    let clip = clip_folder(work.path());
    let photos = work.path().join("photos");
    std::fs::create_dir_all(&photos).expect("mkdir");
    let mut sources = photos_in(&ukbench());
    sources.truncate(6);
    sources.extend(photos_in(&sample_images()).into_iter().take(4));
    for src in &sources {
        std::fs::copy(src, photos.join(src.file_name().expect("name"))).expect("copy photo");
    }
    let n = sources.len();
    let coll = photos.join(".vsearch");

    // 1. Index with a policy of two labels.
    let policy_a = [
        TestLabel {
            name: "bright",
            prompts: &["a bright photo", "a photo in daylight"],
            opposite: &["a dark photo"],
            threshold: 0.5,
            action: "flag",
        },
        TestLabel {
            name: "animal",
            prompts: &["a photo of an animal"],
            opposite: &["a photo of an object", "a photo of a building"],
            threshold: 0.5,
            action: "hide",
        },
    ];
    let a_path = work.path().join("a.toml");
    std::fs::write(&a_path, policy_toml(&policy_a)).expect("write policy");
    let out = run_ok(
        vsearch()
            .arg("index")
            .arg(&photos)
            .arg("--model-dir")
            .arg(&clip)
            .arg("--policy")
            .arg(&a_path)
            .arg("--json"),
    );
    let report = json(&out);
    assert_eq!(report["embedded"], n, "{report}");
    assert_eq!(report["labelled"], n, "{report}");

    let collection = Collection::open_without_model(&photos).expect("open");
    let (ids, flat) = collection.embeddings().expect("embeddings");
    let dim = flat.len() / ids.len();
    let vectors: HashMap<u64, Vec<f32>> = ids
        .iter()
        .zip(flat.chunks(dim))
        .map(|(&id, v)| (id, v.to_vec()))
        .collect();
    let stored = stored_scores(&coll);
    assert_scores_match(&stored, &hand_scores(&clip, &policy_a, &vectors));
    // Flags and hidden follow the thresholds.
    for m in collection.images().iter() {
        let s = &stored[&m.id];
        assert_eq!(m.flags.contains(&"bright".to_string()), s["bright"] >= 0.5);
        assert_eq!(m.hidden.contains(&"animal".to_string()), s["animal"] >= 0.5);
        assert_eq!(&m.labels, s);
    }

    // 2. Filters on label keys keep exactly the images whose stored score passes.
    let mut bright: Vec<f32> = stored.values().map(|s| s["bright"]).collect();
    bright.sort_by(f32::total_cmp);
    let cut = bright[n / 2];
    let want: BTreeSet<u64> = stored
        .iter()
        .filter(|(_, s)| s["bright"] >= cut)
        .map(|(&id, _)| id)
        .collect();
    let filter = serde_json::json!({"must": [{"key": "label.bright", "range": {"gte": cut}}]});
    assert_eq!(search_ids(&photos, &filter, n), want);
    let want: BTreeSet<u64> = stored
        .iter()
        .filter(|(_, s)| s["animal"] < 0.5)
        .map(|(&id, _)| id)
        .collect();
    let filter = serde_json::json!({"must": [{"is_empty": {"key": "hidden"}}]});
    assert_eq!(search_ids(&photos, &filter, n), want);
    let want: BTreeSet<u64> = stored
        .iter()
        .filter(|(_, s)| s["bright"] >= 0.5)
        .map(|(&id, _)| id)
        .collect();
    let filter = serde_json::json!({"must": [{"key": "flag", "match": {"value": "bright"}}]});
    assert_eq!(search_ids(&photos, &filter, n), want);

    // 3. A new policy (other prompts and thresholds) through `labels apply`: nothing re-embedded.
    let policy_b = [
        TestLabel {
            name: "bright",
            prompts: &["a sunny photo"],
            opposite: &["a photo at night", "a dark photo"],
            threshold: cut,
            action: "flag",
        },
        TestLabel {
            name: "animal",
            prompts: &["a photo of a cat", "a photo of a fish"],
            opposite: &["a photo of a car"],
            threshold: 0.0,
            action: "hide",
        },
    ];
    let b_path = work.path().join("b.toml");
    std::fs::write(&b_path, policy_toml(&policy_b)).expect("write policy");
    let matrix_before = matrix_files(&coll);
    assert!(!matrix_before.is_empty());
    let out = run_ok(
        vsearch()
            .args(["labels", "apply", "--collection"])
            .arg(&photos)
            .arg("--policy")
            .arg(&b_path)
            .arg("--json"),
    );
    let report = json(&out);
    assert_eq!(report["embedded"], 0, "{report}");
    assert_eq!(report["labelled"], n, "{report}");
    assert_eq!(report["policy_changed"], true, "{report}");
    assert_eq!(
        matrix_files(&coll),
        matrix_before,
        "labels apply changed the matrix"
    );
    let stored = stored_scores(&coll);
    assert_scores_match(&stored, &hand_scores(&clip, &policy_b, &vectors));
    let reopened = Collection::open_without_model(&photos).expect("reopen");
    assert!(
        reopened.generation() > collection.generation(),
        "a new generation is committed"
    );
    for m in reopened.images().iter() {
        assert_eq!(m.hidden, ["animal"], "threshold 0 hides every image");
    }
    // An index run afterwards finds nothing to embed or score.
    let out = run_ok(vsearch().arg("index").arg(&photos).arg("--json"));
    let report = json(&out);
    assert_eq!(
        (report["embedded"].as_u64(), report["labelled"].as_u64()),
        (Some(0), Some(0)),
        "{report}"
    );
    assert_eq!(matrix_files(&coll), matrix_before);

    // 4. `eval labels` against a small truth file: P/R/F1 at the policy threshold by hand.
    let images: Vec<(u64, String)> = reopened
        .images()
        .iter()
        .map(|m| (m.id, m.path.clone()))
        .collect();
    let mut csv = String::from("path,label,truth\n");
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    for (i, (id, path)) in images.iter().enumerate() {
        let truth = i % 2 == 0;
        csv += &format!("{path},bright,{}\n", u8::from(truth));
        match (stored[id]["bright"] >= cut, truth) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            (false, false) => {}
        }
    }
    let truth_path = work.path().join("truth.csv");
    std::fs::write(&truth_path, csv).expect("write truth");
    let plot = work.path().join("pr.svg");
    let out = run_ok(
        vsearch()
            .args(["eval", "labels", "--truth"])
            .arg(&truth_path)
            .arg("--collection")
            .arg(&photos)
            .arg("--plot")
            .arg(&plot),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let precision = if tp + fp == 0 {
        1.0
    } else {
        tp as f64 / (tp + fp) as f64
    };
    let recall = if tp + fn_ == 0 {
        1.0
    } else {
        tp as f64 / (tp + fn_) as f64
    };
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    let row = text
        .lines()
        .find(|l| l.starts_with("| bright |"))
        .unwrap_or_else(|| panic!("no row for bright:\n{text}"));
    let expected = format!("| {tp} | {fp} | {fn_} | {precision:.4} | {recall:.4} | {f1:.4} |");
    assert!(row.contains(&expected), "{row} lacks {expected}\n{text}");
    assert!(
        text.contains("### bright: precision/recall over thresholds"),
        "{text}"
    );
    let svg = std::fs::read_to_string(&plot).expect("the plot is written");
    assert!(
        svg.starts_with("<svg") && svg.contains("bright"),
        "{}",
        &svg[..svg.len().min(200)]
    );
}
