//! `vsearch eval dupes` scores duplicate
//! detection on pairs: precision, recall and F1 at the chosen threshold, the precision/recall curve over
//! thresholds (Markdown), and a plot of the curve (SVG and PNG).

use anyhow::Context;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use vsearch_engine::classifier_eval::{self, Metrics, PrPoint};
use vsearch_engine::dupes::{DupesOptions, Verification};
use vsearch_engine::Collection;

/// Arguments of `vsearch eval dupes`.
#[derive(clap::Args)]
pub struct DupesArgs {
    /// The truth CSV.
    #[arg(long)]
    truth: PathBuf,
    /// Collection folder, or an indexed folder containing `.vsearch`.
    #[arg(long, default_value = ".")]
    collection: PathBuf,
    #[command(flatten)]
    cuts: crate::cli::dupes::Cuts,
    /// The verifications to measure (repeatable; default all: `thumbnails`, `pdq`, `both`), each beside the
    /// embedding cosine alone. --threshold applies to the thumbnail score (`thumbnails`, `both`); `pdq` is
    /// cut at PDQ's match distance of 31 bits.
    #[arg(long, value_parser = crate::cli::dupes::parse_verification)]
    verification: Vec<Verification>,
    /// Where the plot goes (`.svg`; a `.png` is written beside it).
    #[arg(long, default_value = "dupes_pr.svg")]
    plot: PathBuf,
}

/// One method's evaluation.
struct Evaluated {
    name: &'static str,
    curve: Vec<PrPoint>,
    /// Pairs of the groups at the threshold (what `vsearch dupes` shows).
    grouped: Metrics,
    /// Pairs at the threshold, before grouping.
    pairs: Metrics,
    threshold: f32,
    /// Seconds the candidate pairs took to score, and the images decoded for it.
    seconds: f64,
}

pub(super) fn run(args: DupesArgs) -> anyhow::Result<()> {
    let truth = classifier_eval::read_truth_csv(&args.truth)?;
    let collection = Collection::open_without_model(&args.collection)
        .with_context(|| format!("open the collection at {}", args.collection.display()))?;
    let path_of: HashMap<u64, String> = collection
        .images()
        .iter()
        .map(|m| (m.id, m.path.clone()))
        .collect();
    let known: HashSet<&str> = path_of.values().map(String::as_str).collect();
    let missing: Vec<&str> = truth
        .iter()
        .flat_map(|t| [t.a.as_str(), t.b.as_str()])
        .filter(|p| !known.contains(p))
        .collect();
    anyhow::ensure!(
        missing.is_empty(),
        "{} paths of the truth are not indexed in the collection (first: {}); paths must be relative to the indexed folder",
        missing.len(),
        missing.first().unwrap_or(&"")
    );
    let positives: HashSet<(String, String)> = truth
        .iter()
        .filter(|t| t.is_copy)
        .map(|t| t.key())
        .collect();
    let labelled: HashSet<(String, String)> = truth.iter().map(|t| t.key()).collect();
    let mut results = Vec::new();
    let wanted = if args.verification.is_empty() {
        vec![
            Verification::Thumbnails,
            Verification::Pdq,
            Verification::Both,
        ]
    } else {
        args.verification.clone()
    };
    let mut methods: Vec<(&'static str, Verification, f32)> = wanted
        .iter()
        .map(|&v| {
            let name = match v {
                Verification::Thumbnails => "thumbnail verification",
                Verification::Pdq => "PDQ alone (distance <= 31)",
                Verification::Both => "PDQ, then thumbnails",
                Verification::Cosine => "embedding cosine only",
            };
            let threshold = match v {
                Verification::Cosine => f32::NAN,
                other => args.cuts.threshold_for(other),
            };
            (name, v, threshold)
        })
        .collect();
    if !wanted.contains(&Verification::Cosine) {
        methods.push(("embedding cosine only", Verification::Cosine, f32::NAN));
    }
    let images = collection.images().len().max(1);
    for (name, verification, threshold) in methods {
        let options = DupesOptions {
            threshold: if threshold.is_nan() { 0.0 } else { threshold },
            min_cosine: args.cuts.min_cosine,
            neighbours: args.cuts.neighbours,
            verification,
        };
        let started = std::time::Instant::now();
        let pairs = collection.duplicate_pairs(&options)?;
        let seconds = started.elapsed().as_secs_f64();
        let key = |a: u64, b: u64| -> Option<(String, String)> {
            Some(classifier_eval::ordered(path_of.get(&a)?, path_of.get(&b)?))
        };
        // Only labelled pairs count (a truth CSV may label a subset).
        let scored: Vec<(f64, bool, (String, String))> = pairs
            .iter()
            .filter_map(|p| key(p.a, p.b).map(|k| (p.score as f64, k)))
            .filter(|(_, k)| labelled.contains(k))
            .map(|(s, k)| (s, positives.contains(&k), k))
            .collect();
        let seen: HashSet<&(String, String)> = scored.iter().map(|(_, _, k)| k).collect();
        let unscored = positives.iter().filter(|k| !seen.contains(k)).count();
        let flat: Vec<(f64, bool)> = scored.iter().map(|(s, t, _)| (*s, *t)).collect();
        let curve = classifier_eval::pr_curve(&flat, unscored);
        // For the cosine baseline, report its own best-F1 cut (the most it can do).
        let threshold = if threshold.is_nan() {
            classifier_eval::best_f1(&curve).map_or(1.0, |p| p.threshold as f32)
        } else {
            threshold
        };
        let pair_metrics = classifier_eval::at_threshold(&curve, threshold as f64, positives.len());
        let groups = collection.duplicates(&DupesOptions {
            threshold,
            ..options
        })?;
        let mut predicted = HashSet::new();
        for g in &groups {
            for (i, x) in g.images.iter().enumerate() {
                for y in &g.images[i + 1..] {
                    let k = classifier_eval::ordered(&x.path, &y.path);
                    if labelled.contains(&k) {
                        predicted.insert(k);
                    }
                }
            }
        }
        results.push(Evaluated {
            name,
            curve,
            grouped: Metrics::of_sets(&predicted, &positives),
            pairs: pair_metrics,
            threshold,
            seconds,
        });
    }
    println!(
        "# Duplicate detection: {} ({} labelled pairs, {} copies)\n",
        args.truth.display(),
        labelled.len(),
        positives.len()
    );
    println!(
        "Candidates: {} nearest neighbours with embedding cosine >= {} (model {}).\n",
        args.cuts.neighbours,
        args.cuts.min_cosine,
        collection.manifest().model.id
    );
    println!("| method | threshold | pair precision | pair recall | F1 | groups: precision | recall | F1 | best-F1 threshold | verification ms per image |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &results {
        let best = classifier_eval::best_f1(&r.curve);
        println!(
            "| {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {} | {:.2} |",
            r.name,
            r.threshold,
            r.pairs.precision,
            r.pairs.recall,
            r.pairs.f1,
            r.grouped.precision,
            r.grouped.recall,
            r.grouped.f1,
            best.map_or("-".into(), |b| format!(
                "{:.3} (F1 {:.3})",
                b.threshold, b.metrics.f1
            )),
            1000.0 * r.seconds / images as f64
        );
    }
    println!(
        "\nVerification cost: the candidate pairs' scoring time over the collection's {images} images (PDQ reads \
         the hashes stored at index time, where computing one costs about a decode: `cargo bench --bench pdq_match`)."
    );
    let thresholds: Vec<f64> = (0..=8).map(|i| 0.5 + 0.05 * i as f64).collect();
    for r in &results {
        println!("\n## {}: precision/recall over thresholds\n", r.name);
        print!(
            "{}",
            classifier_eval::markdown_table(&r.curve, positives.len(), &thresholds)
        );
    }
    write_plot(&args.plot, &results)?;
    println!(
        "\nPlot: {} and {}",
        args.plot.display(),
        args.plot.with_extension("png").display()
    );
    Ok(())
}

fn write_plot(svg: &Path, results: &[Evaluated]) -> anyhow::Result<()> {
    let series: Vec<vsearch_bench::plot::PrSeries> = results
        .iter()
        .map(|r| {
            let at = classifier_eval::at_threshold(&r.curve, r.threshold as f64, 0);
            vsearch_bench::plot::PrSeries {
                name: r.name.to_string(),
                points: r
                    .curve
                    .iter()
                    .map(|p| (p.metrics.recall, p.metrics.precision))
                    .collect(),
                marked: Some((
                    (at.recall, at.precision),
                    format!("threshold {:.2}", r.threshold),
                )),
            }
        })
        .collect();
    vsearch_bench::plot::write_pr(
        "Duplicate pairs: precision against recall over thresholds",
        &series,
        svg,
        &svg.with_extension("png"),
    )
    .with_context(|| format!("write the plot {}", svg.display()))
}
