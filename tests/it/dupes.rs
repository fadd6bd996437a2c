//! Duplicate groups end to end: the planted test set (tests/it/common/dupes_set.rs) indexed with
//! EfficientNet-Lite0; `vsearch dupes --json` finds the planted groups with pair precision and recall of
//! at least 0.95 at the defaults and does not group photos of one object; `vsearch eval dupes` reports
//! the same figure and writes the curve; `copies_of` on an original returns its planted copies.

use crate::common::dupes_set;

use crate::common::{index, json, run_ok, sample_images, ukbench, vsearch};
use std::collections::{HashMap, HashSet};

fn pair(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    }
}

#[test]
fn planted_copies_are_grouped_and_other_views_are_not() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let folder = tmp.path().join("set");
    let truth = tmp.path().join("truth.csv");
    let set = dupes_set::make_dupes_set(&ukbench(), &sample_images(), &folder, &truth)
        .expect("make the test set");
    assert_eq!(set.images.len(), 42);
    index(&folder, &[]);

    // Truth pairs.
    let mut positives = HashSet::new();
    for (original, copies) in &set.planted {
        let mut all = vec![original.clone()];
        all.extend(copies.iter().cloned());
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                positives.insert(pair(a, b));
            }
        }
    }

    let out = run_ok(
        vsearch()
            .arg("dupes")
            .arg("--collection")
            .arg(&folder)
            .arg("--json"),
    );
    let groups = json(&out)["groups"].as_array().cloned().unwrap_or_default();
    let mut predicted = HashSet::new();
    let mut group_of: HashMap<String, usize> = HashMap::new();
    for (g, group) in groups.iter().enumerate() {
        let images = group["images"].as_array().cloned().unwrap_or_default();
        assert_eq!(
            images[0]["keep"],
            serde_json::Value::Bool(true),
            "the first image is the one to keep: {group}"
        );
        let paths: Vec<String> = images
            .iter()
            .map(|i| i["path"].as_str().unwrap_or_default().to_string())
            .collect();
        for (i, a) in paths.iter().enumerate() {
            group_of.insert(a.clone(), g);
            for b in &paths[i + 1..] {
                predicted.insert(pair(a, b));
            }
        }
    }
    let tp = predicted.intersection(&positives).count() as f64;
    let precision = if predicted.is_empty() {
        1.0
    } else {
        tp / predicted.len() as f64
    };
    let recall = tp / positives.len() as f64;
    eprintln!(
        "vsearch dupes: {} groups, pair precision {precision:.3}, recall {recall:.3} ({} predicted, {} true)",
        groups.len(),
        predicted.len(),
        positives.len()
    );
    let missed: Vec<_> = positives.difference(&predicted).collect();
    let wrong: Vec<_> = predicted.difference(&positives).collect();
    assert!(
        precision >= 0.95 && recall >= 0.95,
        "precision {precision:.3}, recall {recall:.3}; missed {missed:?}; wrong {wrong:?}"
    );
    // Each planted group keeps its original (most pixels, oldest file).
    for (original, _) in &set.planted {
        let g = group_of.get(original).copied().unwrap_or(usize::MAX);
        let keep = groups
            .get(g)
            .and_then(|group| group["images"][0]["path"].as_str());
        assert_eq!(keep, Some(original.as_str()), "group of {original}");
    }
    // Photos of one object are not copies of each other.
    for views in &set.same_object {
        for (i, a) in views.iter().enumerate() {
            for b in &views[i + 1..] {
                assert!(
                    !predicted.contains(&pair(a, b)),
                    "{a} and {b} are photos of one object, not copies"
                );
            }
        }
    }

    // The evaluation reproduces the figure and writes the curve.
    let plot = tmp.path().join("pr.svg");
    let out = run_ok(
        vsearch()
            .args(["eval", "dupes", "--truth"])
            .arg(&truth)
            .arg("--collection")
            .arg(&folder)
            .arg("--plot")
            .arg(&plot),
    );
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{report}");
    let row = report
        .lines()
        .find(|l| l.starts_with("| thumbnail verification |"))
        .unwrap_or_else(|| panic!("no thumbnail row in:\n{report}"));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    let figure = |i: usize| {
        cells
            .get(i)
            .and_then(|c| c.parse::<f64>().ok())
            .unwrap_or(-1.0)
    };
    assert!(
        (figure(6) - precision).abs() < 1e-3 && (figure(7) - recall).abs() < 1e-3,
        "eval's group precision/recall {} {} differ from dupes' {precision} {recall}",
        figure(6),
        figure(7)
    );
    assert!(report.contains("precision/recall over thresholds"));
    for p in [plot.clone(), plot.with_extension("png")] {
        let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        assert!(len > 1000, "{} not written", p.display());
    }

    // copies_of: an original's planted copies.
    let collection =
        vsearch_engine::Collection::open_without_model(&folder).expect("open the collection");
    let id_of: HashMap<String, u64> = collection
        .images()
        .iter()
        .map(|m| (m.path.clone(), m.id))
        .collect();
    for (original, copies) in &set.planted {
        let id = id_of[original];
        let found: HashSet<u64> = vsearch_engine::copies_of(&collection, id)
            .expect("copies_of")
            .into_iter()
            .collect();
        let want: HashSet<u64> = copies.iter().map(|c| id_of[c]).collect();
        assert_eq!(found, want, "copies of {original}");
    }
}
