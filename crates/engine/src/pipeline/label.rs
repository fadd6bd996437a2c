//! Step 3b of a run: label scores ([`crate::labels`]) for the indexed images that lack them, from their
//! stored vectors and the text embeddings of the policy's prompts; every image when the policy changed.
//! No image is decoded or embedded.

use crate::safety::labels::LabelScorer;
use crate::store::catalog::{Catalog, Status};
use crate::store::matrix::Matrix;
use crate::types::error::{EngineError, Result};
use crate::types::label_policy::PolicySource;
use std::path::Path;
use vsearch_embed::Embedder;

/// What [`update_labels`] did.
pub(crate) struct LabelOutcome {
    /// Images scored.
    pub labelled: usize,
    /// Labels in the policy in force.
    pub labels: usize,
    /// Whether the stored policy changed.
    pub policy_changed: bool,
}

/// Scores the indexed images of `catalog` that lack a score of the policy in force (`requested`, else
/// the stored one, else the default), or all of them when `all` is set or the policy changed, and stores
/// the scores and the policy in one commit (none when nothing changed).
///
/// A model without a text tower cannot score: that is an error when a policy was asked for (`requested`
/// or `all`), and a logged skip otherwise.
pub(crate) fn update_labels(
    catalog: &mut Catalog,
    coll: &Path,
    dim: usize,
    embedder: &Embedder,
    requested: Option<&PolicySource>,
    all: bool,
) -> Result<LabelOutcome> {
    if embedder.text.is_none() {
        if requested.is_some() || all {
            return Err(EngineError::LabelsNeedText {
                model: embedder.info.id.clone(),
            });
        }
        tracing::info!(
            "model '{}' has no text tower: no labels are scored (they need a CLIP-family model)",
            embedder.info.id
        );
        return Ok(LabelOutcome {
            labelled: 0,
            labels: 0,
            policy_changed: false,
        });
    }
    let stored = catalog.label_policy()?;
    let policy = match (requested, &stored) {
        (Some(p), _) => p.clone(),
        (None, Some(text)) => match PolicySource::parse(text, "stored in the catalog") {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!("{e}: the default policy replaces it");
                PolicySource::default_policy()?
            }
        },
        (None, None) => PolicySource::default_policy()?,
    };
    let policy_changed = stored.as_deref() != Some(policy.text.as_str());
    let replace_all = all || policy_changed;
    let names: Vec<&str> = policy
        .policy
        .labels
        .iter()
        .map(|l| l.name.as_str())
        .collect();
    let have = catalog.labels()?;
    let todo: Vec<u64> = catalog
        .entries()?
        .into_iter()
        .filter(|e| e.status == Status::Ok)
        .map(|e| e.id)
        .filter(|id| {
            replace_all
                || have
                    .get(id)
                    .is_none_or(|s| names.iter().any(|n| !s.contains_key(*n)))
        })
        .collect();
    let outcome = LabelOutcome {
        labelled: if names.is_empty() { 0 } else { todo.len() },
        labels: names.len(),
        policy_changed,
    };
    if !replace_all && (todo.is_empty() || names.is_empty()) {
        return Ok(outcome);
    }
    let scorer = LabelScorer::new(&policy.policy, embedder)?;
    let matrix = Matrix::open(coll, dim, catalog.matrix_ref()?)?;
    let mut rows = Vec::with_capacity(todo.len());
    if !names.is_empty() {
        for id in todo {
            match matrix.row(id) {
                Some(v) => rows.push((id, scorer.score(&v))),
                None => tracing::warn!("id {id} has no vector in the matrix: not labelled"),
            }
        }
    }
    tracing::info!(
        "scored {} labels of {} images{}",
        names.len(),
        rows.len(),
        if policy_changed { " (new policy)" } else { "" }
    );
    catalog.set_labels(&policy.text, replace_all, &rows)?;
    Ok(LabelOutcome {
        labelled: rows.len(),
        ..outcome
    })
}
