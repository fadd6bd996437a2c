//! Boosts and demotions as data: amounts added to a candidate's relevance for its age, its label scores,
//! a flag, and open reports on it. Each is 0 (off) by default; a negative amount demotes.

use crate::ranking::features::Features;
use crate::types::error::{EngineError, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The boosts and demotions of the ranking stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Boosts {
    /// Newer files first: adds `weight x 0.5^(age / half_life)` (the file's mtime).
    pub recency: Option<Recency>,
    /// Per label: added per unit of the image's score for that label (0 to 1); e.g.
    /// `{"nsfw": -0.2}` takes up to 0.2 off.
    pub labels: BTreeMap<String, f32>,
    /// Added once when a label policy's `flag` action flags the image (e.g. -0.1 pushes flagged
    /// images down).
    pub flagged: f32,
    /// Added per open report on the image (the reports queue).
    pub per_report: f32,
}

/// The recency boost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recency {
    /// Added to an image modified now.
    pub weight: f32,
    /// Days after which half of `weight` is added.
    pub half_life_days: f32,
}

/// One amount a boost added, for the answer's account (`what`: `recency`, `label:NAME`, `flagged`,
/// `reports`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adjustment {
    pub what: String,
    pub amount: f32,
}

impl Boosts {
    /// Whether any boost is set.
    pub fn any(&self) -> bool {
        self.recency.is_some_and(|r| r.weight != 0.0)
            || self.labels.values().any(|w| *w != 0.0)
            || self.flagged != 0.0
            || self.per_report != 0.0
    }

    /// Checks every amount is finite and a half-life positive.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: String| Err(EngineError::BadQuery { reason });
        let finite = |name: &str, v: f32| -> Result<()> {
            if v.is_finite() && v.abs() <= 10.0 {
                Ok(())
            } else {
                bad(format!(
                    "the boost `{name}` must be a number from -10 to 10, not {v}"
                ))
            }
        };
        if let Some(r) = self.recency {
            finite("recency.weight", r.weight)?;
            if !(r.half_life_days.is_finite() && r.half_life_days > 0.0) {
                return bad(format!(
                    "the recency half-life must be a positive number of days, not {}",
                    r.half_life_days
                ));
            }
        }
        for (label, w) in &self.labels {
            finite(&format!("labels.{label}"), *w)?;
        }
        finite("flagged", self.flagged)?;
        finite("per_report", self.per_report)
    }

    /// The amounts the boosts add to a candidate with `features` (those that are not 0).
    pub fn adjustments(&self, features: &Features) -> Vec<Adjustment> {
        let mut out = Vec::new();
        let mut add = |what: String, amount: f32| {
            if amount != 0.0 && amount.is_finite() {
                out.push(Adjustment { what, amount });
            }
        };
        if let (Some(r), Some(age)) = (self.recency, features.age_days) {
            add(
                "recency".into(),
                r.weight * 0.5f32.powf(age.max(0.0) / r.half_life_days),
            );
        }
        for (label, w) in &self.labels {
            if let Some(score) = features.labels.get(label) {
                add(format!("label:{label}"), w * score);
            }
        }
        if features.flagged {
            add("flagged".into(), self.flagged);
        }
        add(
            "reports".into(),
            self.per_report * features.open_reports as f32,
        );
        out
    }
}
