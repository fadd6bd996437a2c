//! The learned re-ranker's model: a logistic regression over standardised [feature rows](crate::ranking::Features::values)
//! (fitted by `linfa-logistic`: L-BFGS with an L2 penalty), stored as JSON in the collection's records
//! folder ([`FILE_NAME`]), written atomically, with a version that grows with each training.

use crate::ranking::features::{Features, Row, FEATURES_VERSION, FEATURE_NAMES};
use crate::ranking::Rescorer;
use crate::types::error::{EngineError, Result};
use linfa::traits::Fit;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Numbers in a feature row.
const WIDTH: usize = FEATURE_NAMES.len();

/// The model's file in the records folder.
pub const FILE_NAME: &str = "reranker.json";

/// The layout of the file.
pub const FORMAT: u32 = 1;

/// L2 penalty of the fit (on standardised features).
pub const ALPHA: f64 = 1.0;

/// A trained re-ranker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// [`FORMAT`].
    pub format: u32,
    /// 1 for the first model trained in a records folder, then one more each training.
    pub version: u64,
    /// The layout of the feature rows it scores ([`FEATURES_VERSION`]).
    pub features_version: u32,
    /// The features' names ([`FEATURE_NAMES`]), for whoever reads the file.
    pub features: Vec<String>,
    /// Each feature's mean and standard deviation over the training rows (standardisation).
    pub mean: Vec<f32>,
    pub scale: Vec<f32>,
    /// The weight of each standardised feature, and the intercept.
    pub weights: Vec<f32>,
    pub intercept: f32,
    /// When it was trained, ms since the Unix epoch.
    pub trained_at_ms: i64,
    /// Searches, labelled results and positive ones it was trained on.
    pub searches: usize,
    pub examples: usize,
    pub positives: usize,
}

impl Model {
    /// Fits a model to `rows` labelled `labels` (true: opened or pinned). Needs both labels.
    pub fn fit(rows: &[Row], labels: &[bool]) -> Result<Self> {
        let fail = |reason: String| EngineError::RerankTraining { reason };
        if rows.is_empty() || rows.len() != labels.len() {
            return Err(fail(format!(
                "{} rows and {} labels to train on",
                rows.len(),
                labels.len()
            )));
        }
        let positives = labels.iter().filter(|l| **l).count();
        if positives == 0 || positives == labels.len() {
            return Err(fail(
                "the examples are all positive or all negative: a model needs both (results opened, and results skipped above them)".into(),
            ));
        }
        let n = rows.len() as f64;
        let mut mean = [0f64; WIDTH];
        let mut var = [0f64; WIDTH];
        for row in rows {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += f64::from(*v) / n;
            }
        }
        for row in rows {
            for ((s, m), v) in var.iter_mut().zip(&mean).zip(row) {
                *s += (f64::from(*v) - m).powi(2) / n;
            }
        }
        // A feature that barely varies (below 1e-3) is taken as constant: standardising it would blow its
        // noise up to a unit of signal.
        let scale = var.map(|v| if v.sqrt() > 1e-3 { v.sqrt() } else { 1.0 });
        let x = ndarray::Array2::from_shape_fn((rows.len(), WIDTH), |(i, j)| {
            (f64::from(rows[i][j]) - mean[j]) / scale[j]
        });
        let y = ndarray::Array1::from_iter(labels.iter().copied());
        let fitted = linfa_logistic::LogisticRegression::default()
            .alpha(ALPHA)
            .max_iterations(200)
            .fit(&linfa::Dataset::new(x, y))
            .map_err(|e| fail(format!("the logistic regression did not fit: {e}")))?;
        // The fitted model's probability is that of its "positive" class, which is whichever label it
        // met first: turn it into the probability of an open.
        let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
        Ok(Self {
            format: FORMAT,
            version: 1,
            features_version: FEATURES_VERSION,
            features: FEATURE_NAMES.iter().map(|n| n.to_string()).collect(),
            mean: mean.iter().map(|m| *m as f32).collect(),
            scale: scale.iter().map(|s| *s as f32).collect(),
            weights: fitted.params().iter().map(|w| (sign * w) as f32).collect(),
            intercept: (sign * fitted.intercept()) as f32,
            trained_at_ms: crate::analytics::now_ms(),
            searches: 0,
            examples: rows.len(),
            positives,
        })
    }

    /// The model's score of a row: the log-odds that the result is opened.
    pub fn log_odds(&self, row: &Row) -> f32 {
        self.intercept
            + row
                .iter()
                .zip(&self.mean)
                .zip(&self.scale)
                .zip(&self.weights)
                .map(|(((x, m), s), w)| w * (x - m) / s)
                .sum::<f32>()
    }

    /// The order the model ranks `rows` in: indices into `rows`, best first (ties keep their order).
    pub fn order(&self, rows: &[Row]) -> Vec<usize> {
        let scores: Vec<f32> = rows.iter().map(|r| self.log_odds(r)).collect();
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        order
    }

    /// The file of the model in `records_dir`.
    pub fn path(records_dir: &Path) -> PathBuf {
        records_dir.join(FILE_NAME)
    }

    /// Writes the model into `records_dir` atomically (a server serving the folder switches to it at
    /// its next reload).
    pub fn save(&self, records_dir: &Path) -> Result<PathBuf> {
        let path = Self::path(records_dir);
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| EngineError::RerankModel {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        std::fs::create_dir_all(records_dir).map_err(EngineError::io(records_dir))?;
        vsearch_core::durable::write_atomic(&path, &bytes).map_err(EngineError::io(&path))?;
        Ok(path)
    }

    /// The model in `records_dir`: `None` when none was trained; an error when the file cannot be read,
    /// is not a model, or scores another layout of features than this build computes.
    pub fn load(records_dir: &Path) -> Result<Option<Self>> {
        let path = Self::path(records_dir);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(EngineError::io(&path)(e)),
        };
        let bad = |reason: String| EngineError::RerankModel {
            path: path.clone(),
            reason,
        };
        let model: Self = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        if model.format != FORMAT {
            return Err(bad(format!(
                "format {} (this build reads {FORMAT})",
                model.format
            )));
        }
        if model.features_version != FEATURES_VERSION {
            return Err(bad(format!(
                "trained on features of layout {} (this build computes layout {FEATURES_VERSION})",
                model.features_version
            )));
        }
        let lengths = [model.mean.len(), model.scale.len(), model.weights.len()];
        if lengths.iter().any(|l| *l != WIDTH) {
            return Err(bad(format!("{lengths:?} numbers where {WIDTH} are needed")));
        }
        let numbers = model
            .mean
            .iter()
            .chain(&model.scale)
            .chain(&model.weights)
            .chain(std::iter::once(&model.intercept));
        if numbers.clone().any(|v| !v.is_finite()) || model.scale.iter().any(|s| *s <= 0.0) {
            return Err(bad(
                "a weight, mean or scale is not a finite number (or a scale is not positive)"
                    .into(),
            ));
        }
        Ok(Some(model))
    }
}

/// The model as the ranking stage's re-scorer: a candidate's relevance is the probability that it is
/// opened (0 to 1, on the cosine's scale, so boosts and diversity mix with it as with a cosine).
impl Rescorer for Model {
    fn name(&self) -> String {
        format!("logistic@{}", self.version)
    }

    fn score(&self, features: &Features) -> f32 {
        1.0 / (1.0 + (-self.log_odds(&features.values())).exp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows where feature 3 (agreement) decides the label and the cosine does not.
    fn data() -> (Vec<Row>, Vec<bool>) {
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for i in 0..200 {
            let mut row = [0f32; WIDTH];
            row[0] = (i % 7) as f32 / 7.0;
            row[3] = (i % 10) as f32 / 10.0;
            rows.push(row);
            labels.push(i % 10 >= 6 || i % 23 == 0);
        }
        (rows, labels)
    }

    #[test]
    fn the_fit_learns_the_feature_that_decides() {
        let (rows, labels) = data();
        let model = Model::fit(&rows, &labels).unwrap();
        assert!(model.weights[3] > 0.5, "{:?}", model.weights);
        let mut high = [0f32; WIDTH];
        high[3] = 0.9;
        let low = [0f32; WIDTH];
        assert_eq!(model.order(&[low, high]), [1, 0]);
    }

    #[test]
    fn a_model_reads_back_and_a_damaged_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Model::load(dir.path()).unwrap(), None);
        let (rows, labels) = data();
        let model = Model::fit(&rows, &labels).unwrap();
        model.save(dir.path()).unwrap();
        assert_eq!(Model::load(dir.path()).unwrap(), Some(model));
        std::fs::write(Model::path(dir.path()), b"{\"format\": 1, \"vers").unwrap();
        let err = Model::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains(FILE_NAME) && err.contains("rank train"),
            "{err}"
        );
        assert!(Model::fit(&rows, &vec![true; rows.len()]).is_err());
    }
}
