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
//! action: [`Action::Flag`] or [`Action::Hide`].
//!
//! Scores depend only on the stored image vectors and the prompts, so a changed policy is applied without
//! re-embedding an image (`vsearch labels apply`). They are kept per image in the catalog
//! ([`crate::catalog`]), with the policy in force. Zero-shot labels are a first filter for browsing, not a
//! moderation decision: the scores are uncalibrated (measure a policy with `vsearch eval labels`).

use crate::error::{EngineError, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use vsearch_embed::Embedder;

/// The shipped default policy (`policies/default.toml`): neutral, descriptive labels.
pub const DEFAULT_POLICY: &str = include_str!("../../../policies/default.toml");

/// CLIP's logit scale: the temperature of the two-way softmax of a label's score.
pub const LOGIT_SCALE: f64 = 100.0;

/// Filter keys of label scores are this prefix and the label's name (`label.screenshot`).
pub const LABEL_KEY_PREFIX: &str = "label.";

/// What an image whose score reaches a label's threshold gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// A badge on the page; the label's name is in the image's `flag` key.
    Flag,
    /// Blurred on the page until clicked; the label's name is in the image's `hidden` key.
    Hide,
}

/// One label of a [`Policy`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Label {
    /// Name: letters, digits, `_` and `-` (the filter key is `label.<name>`).
    pub name: String,
    /// Texts that describe the label.
    pub prompts: Vec<String>,
    /// Texts that describe its opposite.
    pub opposite: Vec<String>,
    /// Scores at or above this get the action; in `[0, 1]`.
    pub threshold: f32,
    /// What such images get.
    pub action: Action,
}

/// A label policy: the labels an index run scores, as a TOML file of `[[label]]` tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// The labels, in the file's order.
    #[serde(default, rename = "label")]
    pub labels: Vec<Label>,
}

/// A policy and the text it was read from (stored as written, comments included).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySource {
    /// The parsed policy.
    pub policy: Policy,
    /// Its TOML text.
    pub text: String,
}

/// Whether `name` can be a label name (and so part of a filter key).
pub fn valid_label_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn bad_policy(origin: &str, reason: String) -> EngineError {
    EngineError::Policy {
        origin: origin.to_string(),
        reason,
    }
}

impl PolicySource {
    /// Parses and validates a policy's TOML text; `origin` names it in errors (a path, "the default
    /// policy").
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let policy: Policy = toml::from_str(text).map_err(|e| bad_policy(origin, e.to_string()))?;
        policy.validate(origin)?;
        Ok(Self {
            policy,
            text: text.to_string(),
        })
    }

    /// Reads and parses a policy file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(EngineError::io(path))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The shipped default policy ([`DEFAULT_POLICY`]).
    pub fn default_policy() -> Result<Self> {
        Self::parse(DEFAULT_POLICY, "the default policy")
    }
}

impl Policy {
    /// Checks names (valid, unique), prompts (non-empty) and thresholds (finite, in `[0, 1]`).
    pub fn validate(&self, origin: &str) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        for l in &self.labels {
            if !valid_label_name(&l.name) {
                return Err(bad_policy(
                    origin,
                    format!(
                        "label name {:?}: use letters, digits, '_' and '-' only",
                        l.name
                    ),
                ));
            }
            if !seen.insert(l.name.as_str()) {
                return Err(bad_policy(
                    origin,
                    format!("label '{}' is given twice", l.name),
                ));
            }
            if l.prompts.is_empty() || l.opposite.is_empty() {
                return Err(bad_policy(
                    origin,
                    format!(
                        "label '{}' needs at least one prompt in `prompts` and one in `opposite`",
                        l.name
                    ),
                ));
            }
            if !(l.threshold.is_finite() && (0.0..=1.0).contains(&l.threshold)) {
                return Err(bad_policy(
                    origin,
                    format!(
                        "label '{}': threshold {} is not in [0, 1]",
                        l.name, l.threshold
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The label `name`.
    pub fn label(&self, name: &str) -> Option<&Label> {
        self.labels.iter().find(|l| l.name == name)
    }

    /// The labels an image with these scores is flagged and hidden by (policy order): those whose score
    /// reaches their threshold, split by action.
    pub fn actions(&self, scores: &BTreeMap<String, f32>) -> (Vec<String>, Vec<String>) {
        let mut flags = Vec::new();
        let mut hidden = Vec::new();
        for l in &self.labels {
            if scores.get(&l.name).is_some_and(|&s| s >= l.threshold) {
                match l.action {
                    Action::Flag => flags.push(l.name.clone()),
                    Action::Hide => hidden.push(l.name.clone()),
                }
            }
        }
        (flags, hidden)
    }
}

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
    fn the_default_policy_parses_and_is_neutral() {
        let p = PolicySource::default_policy().expect("default policy");
        let names: Vec<&str> = p.policy.labels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["screenshot", "document", "people", "outdoor"]);
        assert!(p.policy.labels.iter().all(|l| l.action == Action::Flag));
    }

    #[test]
    fn bad_policies_say_what_is_wrong() {
        let reason = |text: &str| match PolicySource::parse(text, "p.toml") {
            Err(EngineError::Policy { reason, .. }) => reason,
            other => panic!("expected a policy error, got {other:?}"),
        };
        let label = |name: &str, threshold: f32, extra: &str| {
            format!(
                "[[label]]\nname = \"{name}\"\nprompts = [\"a\"]\nopposite = [\"b\"]\nthreshold = {threshold}\naction = \"hide\"\n{extra}"
            )
        };
        assert!(reason(&label("a b", 0.5, "")).contains("letters"));
        assert!(reason(&label("x", 1.5, "")).contains("[0, 1]"));
        assert!(
            reason(&format!("{}{}", label("x", 0.5, ""), label("x", 0.5, ""))).contains("twice")
        );
        assert!(reason(&label("x", 0.5, "colour = 1")).contains("colour"));
        assert!(reason("[[label]]\nname = \"x\"\nprompts = []\nopposite = [\"b\"]\nthreshold = 0.5\naction = \"flag\"").contains("at least one"));
        assert!(reason(&label("x", 0.5, "").replace("hide", "delete")).contains("delete"));
    }

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

    #[test]
    fn actions_split_flags_and_hidden_at_the_threshold() {
        let policy = PolicySource::parse(
            "[[label]]\nname = \"a\"\nprompts = [\"x\"]\nopposite = [\"y\"]\nthreshold = 0.5\naction = \"flag\"\n\
             [[label]]\nname = \"b\"\nprompts = [\"x\"]\nopposite = [\"y\"]\nthreshold = 0.0\naction = \"hide\"\n",
            "test",
        )
        .expect("parse")
        .policy;
        let scores: BTreeMap<String, f32> = [("a".to_string(), 0.5), ("b".to_string(), 0.0)].into();
        assert_eq!(
            policy.actions(&scores),
            (vec!["a".into()], vec!["b".into()])
        );
        let scores: BTreeMap<String, f32> = [("a".to_string(), 0.49)].into();
        assert_eq!(policy.actions(&scores), (vec![], vec![]));
    }
}
