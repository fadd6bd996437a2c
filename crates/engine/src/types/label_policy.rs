//! Label policies: the zero-shot labels an index run scores, as a TOML file of `[[label]]` tables (each
//! label a set of prompts, a set of prompts for its opposite, a threshold and an action, `flag` or
//! `hide`), parsed and validated, and the actions an image's scores earn. How scores are computed from a
//! CLIP-family model's text tower is [`crate::safety::labels`].

use crate::types::error::{EngineError, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The shipped default policy (`policies/default.toml`): neutral, descriptive labels.
pub const DEFAULT_POLICY: &str = include_str!("../../../../policies/default.toml");

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
