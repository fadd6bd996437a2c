//! `vsearch eval labels`: precision, recall and F1 of a collection's label scores against a truth CSV.

use anyhow::Context;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use vsearch_engine::classifier_eval::{self, Metrics, PrPoint};
use vsearch_engine::Collection;

/// Arguments of `vsearch eval labels`.
#[derive(clap::Args)]
pub struct LabelArgs {
    /// Truth: CSV lines `path,label,0|1` (path relative to the indexed folder; a header line
    /// `path,label,...` is skipped).
    #[arg(long, value_name = "CSV")]
    truth: PathBuf,
    /// Collection folder, or an indexed folder containing `.vsearch`.
    #[arg(long, default_value = ".")]
    collection: PathBuf,
    /// Where to write the plot (SVG; default: label_pr.svg beside the truth file).
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
    /// Print the results as JSON instead of Markdown.
    #[arg(long)]
    json: bool,
}

/// The evaluation of one label.
#[derive(serde::Serialize)]
struct LabelEval {
    label: String,
    threshold: f32,
    /// Truth rows with a stored score.
    n: usize,
    positives: usize,
    at_threshold: Metrics,
    average_precision: f64,
    curve: Vec<PrPoint>,
}

/// The truth rows of a CSV: (path, label, truth), in file order.
fn read_truth(path: &Path) -> anyhow::Result<Vec<(String, String, bool)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the truth file {}", path.display()))?;
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.rsplitn(3, ',').map(str::trim).collect();
        let [value, label, file] = fields.as_slice() else {
            anyhow::bail!(
                "{}:{}: expected `path,label,0|1`, got {line:?}",
                path.display(),
                n + 1
            );
        };
        let truth = match *value {
            "1" => true,
            "0" => false,
            _ if n == 0 => continue, // a header
            other => anyhow::bail!(
                "{}:{}: the truth value is 0 or 1, not {other:?}",
                path.display(),
                n + 1
            ),
        };
        rows.push((file.to_string(), label.to_string(), truth));
    }
    Ok(rows)
}

pub(super) fn run(args: LabelArgs) -> anyhow::Result<()> {
    let collection = Collection::open_without_model(&args.collection)
        .with_context(|| format!("cannot open {}", args.collection.display()))?;
    let policy = collection.label_policy().with_context(|| {
        format!(
            "{} has no label policy: index it with a CLIP-family model (`vsearch index DIR --policy FILE`)",
            args.collection.display()
        )
    })?;
    let by_path: HashMap<&str, &vsearch_engine::metadata::ImageMeta> = collection
        .images()
        .iter()
        .map(|m| (m.path.as_str(), m))
        .collect();
    // label -> (scores, truth)
    let mut pairs: BTreeMap<String, (Vec<f32>, Vec<bool>)> = BTreeMap::new();
    for (path, label, truth) in read_truth(&args.truth)? {
        anyhow::ensure!(
            policy.label(&label).is_some(),
            "the truth names label '{label}', which the collection's policy lacks (it has: {})",
            policy
                .labels
                .iter()
                .map(|l| l.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let Some(image) = by_path.get(path.trim_start_matches("./")) else {
            tracing::warn!("{path}: not in the collection; left out");
            continue;
        };
        let Some(&score) = image.labels.get(&label) else {
            tracing::warn!("{path}: no stored score for '{label}'; left out");
            continue;
        };
        let entry = pairs.entry(label).or_default();
        entry.0.push(score);
        entry.1.push(truth);
    }
    anyhow::ensure!(
        !pairs.is_empty(),
        "no truth row names an indexed image with a score"
    );
    let evals: Vec<LabelEval> = policy
        .labels
        .iter()
        .filter_map(|l| {
            let (scores, truth) = pairs.get(&l.name)?;
            let scored: Vec<(f64, bool)> = scores
                .iter()
                .zip(truth)
                .map(|(&s, &t)| (f64::from(s), t))
                .collect();
            let positives = truth.iter().filter(|t| **t).count();
            let curve = classifier_eval::pr_curve(&scored, 0);
            Some(LabelEval {
                label: l.name.clone(),
                threshold: l.threshold,
                n: scores.len(),
                positives,
                at_threshold: classifier_eval::at_threshold(
                    &curve,
                    f64::from(l.threshold),
                    positives,
                ),
                average_precision: classifier_eval::average_precision(&curve),
                curve,
            })
        })
        .collect();
    let plot = args.plot.clone().unwrap_or_else(|| {
        args.truth
            .parent()
            .unwrap_or(Path::new("."))
            .join("label_pr.svg")
    });
    write_plot(&evals, &plot)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&evals)?);
    } else {
        print!("{}", markdown(&evals));
        println!("\nPlot: {}", plot.display());
    }
    Ok(())
}

fn markdown(evals: &[LabelEval]) -> String {
    let mut out = String::from(
        "## Labels at the policy threshold\n\n\
         | label | threshold | n | positives | TP | FP | FN | precision | recall | F1 | AP |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for e in evals {
        let p = &e.at_threshold;
        out += &format!(
            "| {} | {:.3} | {} | {} | {} | {} | {} | {:.4} | {:.4} | {:.4} | {:.4} |\n",
            e.label,
            e.threshold,
            e.n,
            e.positives,
            p.tp,
            p.fp,
            p.fn_,
            p.precision,
            p.recall,
            p.f1,
            e.average_precision
        );
    }
    for e in evals {
        out += &format!(
            "\n### {}: precision/recall over thresholds\n\n| threshold | precision | recall | F1 |\n|---:|---:|---:|---:|\n",
            e.label
        );
        for p in &e.curve {
            out += &format!(
                "| {:.4} | {:.4} | {:.4} | {:.4} |\n",
                p.threshold, p.metrics.precision, p.metrics.recall, p.metrics.f1
            );
        }
    }
    out
}

/// Draws every label's precision/recall curve (a dot at its policy threshold) into an SVG file (and a PNG
/// beside it).
fn write_plot(evals: &[LabelEval], path: &Path) -> anyhow::Result<()> {
    let series: Vec<vsearch_bench::plot::PrSeries> = evals
        .iter()
        .map(|e| vsearch_bench::plot::PrSeries {
            name: format!("{} (AP {:.3})", e.label, e.average_precision),
            points: e
                .curve
                .iter()
                .map(|p| (p.metrics.recall, p.metrics.precision))
                .collect(),
            marked: Some((
                (e.at_threshold.recall, e.at_threshold.precision),
                format!("threshold {:.2}", e.threshold),
            )),
        })
        .collect();
    vsearch_bench::plot::write_pr(
        "Labels: precision against recall over thresholds",
        &series,
        path,
        &path.with_extension("png"),
    )
    .with_context(|| format!("write the plot {}", path.display()))
}
