//! Zero-shot labels from a policy file: each label is a set of prompts, a set of prompts for its opposite,
//! a threshold and an action (`flag` or `hide`), scored against the text tower of a CLIP-family model.
//!
//! **Score.** For a label with prompt embeddings `p_1..p_n` and opposite-prompt embeddings `q_1..q_m`
//! (each L2-normalised by the model), the label's two directions are the normalised means
//! `P = normalize(mean(p_i))` and `Q = normalize(mean(q_j))` (CLIP's prompt ensembling). An image with
//! normalised embedding `v` scores
//!
//! ```text
//! score = softmax(100 * [v·P, v·Q])[0] = 1 / (1 + exp(-100 * (v·P - v·Q)))
//! ```
//!
//! the probability CLIP's zero-shot classifier (logit scale 100, the value CLIP's learned scale is
//! clamped to) gives the label against its opposite. It lies in `[0, 1]`; 0.5 means the image is as close
//! to the prompts as to their opposite. An image whose score reaches the label's `threshold` gets its
//! action: [`crate::labels::Action::Flag`] or [`crate::labels::Action::Hide`].
//!
//! Scores depend only on the stored image vectors and the prompts, so a changed policy is applied without
//! re-embedding an image (`vsearch labels apply`). They are kept per image in the catalog
//! ([`crate::store::catalog`]), with the policy in force. Zero-shot labels are a first filter for browsing, not a
//! moderation decision: the scores are uncalibrated (measure a policy with `vsearch eval labels`).

use crate::types::error::{EngineError, Result};
use crate::types::label_policy::Policy;
use serde::{Deserialize, Serialize};
use vsearch_embed::Embedder;

/// CLIP's logit scale: the temperature of the two-way softmax of a label's score.
pub const LOGIT_SCALE: f64 = 100.0;

/// The normalised mean of normalised prompt embeddings (CLIP's prompt ensembling).
pub fn prompt_direction(vectors: &[Vec<f32>]) -> Vec<f32> {
    let dim = vectors.first().map_or(0, Vec::len);
    let mut mean = vec![0f32; dim];
    for v in vectors {
        for (m, x) in mean.iter_mut().zip(v) {
            *m += x;
        }
    }
    vsearch_core::vector::normalize(&mut mean);
    mean
}

/// The score of an image vector against a label's two directions (see the module docs).
pub fn label_score(image: &[f32], positive: &[f32], negative: &[f32]) -> f32 {
    let margin = f64::from(vsearch_core::vector::dot(image, positive))
        - f64::from(vsearch_core::vector::dot(image, negative));
    let score = 1.0 / (1.0 + (-LOGIT_SCALE * margin).exp());
    if score.is_finite() {
        score as f32
    } else {
        0.0
    }
}

/// A policy's labels as directions in the model's space: scores image vectors without the model.
#[derive(Debug, Clone)]
pub struct LabelScorer {
    /// Name, prompt direction, opposite direction.
    labels: Vec<(String, Vec<f32>, Vec<f32>)>,
}

impl LabelScorer {
    /// Embeds every prompt of `policy` with `embedder`'s text tower (one batch); fails with
    /// [`EngineError::LabelsNeedText`] for a model without one.
    pub fn new(policy: &Policy, embedder: &Embedder) -> Result<Self> {
        if embedder.text.is_none() {
            return Err(EngineError::LabelsNeedText {
                model: embedder.info.id.clone(),
            });
        }
        let texts: Vec<&str> = policy
            .labels
            .iter()
            .flat_map(|l| l.prompts.iter().chain(&l.opposite).map(String::as_str))
            .collect();
        let vectors = if texts.is_empty() {
            Vec::new()
        } else {
            embedder.embed_texts(&texts)?
        };
        if vectors.len() != texts.len() {
            return Err(EngineError::NoQueryVector {
                query: "label prompts",
            });
        }
        let mut rest = vectors.as_slice();
        let mut labels = Vec::with_capacity(policy.labels.len());
        for l in &policy.labels {
            let (pos, after) = rest.split_at(l.prompts.len());
            let (neg, after) = after.split_at(l.opposite.len());
            rest = after;
            labels.push((l.name.clone(), prompt_direction(pos), prompt_direction(neg)));
        }
        Ok(Self { labels })
    }

    /// The scores of one image vector, by label name.
    pub fn score(&self, image: &[f32]) -> Vec<(String, f32)> {
        self.labels
            .iter()
            .map(|(name, p, q)| (name.clone(), label_score(image, p, q)))
            .collect()
    }

    /// The label names, in policy order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.labels.iter().map(|(n, _, _)| n.as_str())
    }
}

/// What `vsearch labels apply` did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LabelReport {
    /// Model id whose text tower embedded the prompts.
    pub model: String,
    /// Labels in the policy.
    pub labels: usize,
    /// Images whose scores were computed.
    pub labelled: usize,
    /// Images that went through the model (always 0: scores come from the stored vectors).
    pub embedded: usize,
    /// Whether the stored policy changed.
    pub policy_changed: bool,
    pub seconds: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_a_two_way_softmax_at_scale_100() {
        let p = [1.0, 0.0];
        let q = [0.0, 1.0];
        assert!((label_score(&[1.0, 0.0], &p, &q) - 1.0).abs() < 1e-6);
        assert!(label_score(&[0.0, 1.0], &p, &q) < 1e-6);
        let s = std::f32::consts::FRAC_1_SQRT_2;
        assert!((label_score(&[s, s], &p, &q) - 0.5).abs() < 1e-6);
        // A margin of 0.01 is a logit of 1.
        let v = [0.5, 0.49];
        let expected = 1.0 / (1.0 + (-1.0f64).exp());
        assert!((f64::from(label_score(&v, &p, &q)) - expected).abs() < 1e-5);
        assert_eq!(prompt_direction(&[vec![1.0, 0.0], vec![0.0, 1.0]]), [s, s]);
    }
}
