//! The re-ranker a server applies: on with a model read from the records folder, off without one, and
//! always able to say which and why ([`Reranker::status`]). Loading never fails: a missing model leaves
//! it off, a damaged one leaves it off with the error (searches keep the cosine order).

use super::model::Model;
use super::train::MIN_POSITIVES;
use crate::ranking::Rescorer;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

/// The re-ranker of a served collection.
#[derive(Debug, Clone)]
pub struct Reranker {
    model: Option<Arc<Model>>,
    /// Why it is off (when it is).
    reason: String,
    /// The model file and its (modified time, size) when read, to notice a new one.
    file: Option<PathBuf>,
    stamp: Option<(SystemTime, u64)>,
}

/// Whether the re-ranker is on, with which model, or why not (`/api/collection`, `vsearch rank status`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RerankStatus {
    pub on: bool,
    /// The model's version (when on).
    pub version: Option<u64>,
    /// Why it is off (when off).
    pub reason: Option<String>,
}

impl Reranker {
    /// A re-ranker that is off for `reason`.
    pub fn off(reason: impl Into<String>) -> Self {
        Self {
            model: None,
            reason: reason.into(),
            file: None,
            stamp: None,
        }
    }

    /// A re-ranker applying `model`.
    pub fn with_model(model: Model) -> Self {
        Self {
            model: Some(Arc::new(model)),
            reason: String::new(),
            file: None,
            stamp: None,
        }
    }

    /// The re-ranker of the model in `records_dir` (off without a records folder, without a model, or
    /// with a damaged one: then the error is logged and is the reason).
    pub fn load(records_dir: Option<&Path>) -> Self {
        let Some(dir) = records_dir else {
            return Self::off("this collection keeps no records folder to learn from");
        };
        let file = Model::path(dir);
        let stamp = stamp(&file);
        let mut reranker = match Model::load(dir) {
            Ok(Some(model)) => Self::with_model(model),
            Ok(None) => Self::off(format!(
                "not trained yet: it needs {MIN_POSITIVES} opened or pinned results in the search analytics, then `vsearch rank train`"
            )),
            Err(e) => {
                tracing::warn!("re-ranker off, searches keep the cosine order: {e}");
                Self::off(e.to_string())
            }
        };
        reranker.file = Some(file);
        reranker.stamp = stamp;
        reranker
    }

    /// Whether the model file changed since this was loaded (a new model was trained, or it was
    /// removed): then the caller loads it again ([`Reranker::load`]) and switches.
    pub fn changed(&self) -> bool {
        self.file.as_deref().is_some_and(|f| stamp(f) != self.stamp)
    }

    /// The model, when on.
    pub fn model(&self) -> Option<&Model> {
        self.model.as_deref()
    }

    /// The model as the ranking stage's re-scorer, when on.
    pub fn rescorer(&self) -> Option<Arc<dyn Rescorer>> {
        self.model.clone().map(|model| model as Arc<dyn Rescorer>)
    }

    /// On or off, and why.
    pub fn status(&self) -> RerankStatus {
        match &self.model {
            Some(model) => RerankStatus {
                on: true,
                version: Some(model.version),
                reason: None,
            },
            None => RerankStatus {
                on: false,
                version: None,
                reason: Some(self.reason.clone()),
            },
        }
    }

    /// What it is, in words: `learned re-ranker logistic@N` (the ranking step's name) or `learned
    /// re-ranker off: why`.
    pub fn describe(&self) -> String {
        match &self.model {
            Some(model) => format!("learned re-ranker {}", model.name()),
            None => format!("learned re-ranker off: {}", self.reason),
        }
    }
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}
