//! The report policy: what visitors may report, how many distinct reporters hide an image pending
//! review, and how fast one address may report. Plain data with [`Default`], stored with the reports
//! ([`super::store::ReportStore::policy`]) and changed by `vsearch reports policy`.

use crate::types::error::{EngineError, Result};
use serde::{Deserialize, Serialize};

/// Longest reason name, in characters.
pub const MAX_REASON_CHARS: usize = 64;
/// Most reasons a policy lists.
pub const MAX_REASONS: usize = 32;
/// Longest note the policy may allow, in characters.
pub const MAX_NOTE_LIMIT: usize = 10_000;

/// How reports are taken and when they hide an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportPolicy {
    /// The reasons a report may give (short names, e.g. `spam`).
    pub reasons: Vec<String>,
    /// Distinct reporters of an image within [`Self::window_secs`] that hide it pending review; 0 never
    /// hides.
    pub hide_after: u32,
    /// The window the distinct reporters are counted in, in seconds.
    pub window_secs: u64,
    /// Reports one client address may file per minute; beyond that it gets 429 with `Retry-After`.
    pub per_minute: u32,
    /// Longest note, in characters.
    pub max_note_chars: usize,
}

impl Default for ReportPolicy {
    /// Reasons `fake_endorsement`, `spam`, `harmful`, `copyright`, `other`; 3 distinct reporters within
    /// 24 hours hide an image; 10 reports per address per minute; notes up to 1,000 characters.
    fn default() -> Self {
        Self {
            reasons: ["fake_endorsement", "spam", "harmful", "copyright", "other"]
                .map(String::from)
                .to_vec(),
            hide_after: 3,
            window_secs: 24 * 3600,
            per_minute: 10,
            max_note_chars: 1000,
        }
    }
}

impl ReportPolicy {
    /// Checks the policy is usable.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: String| Err(EngineError::BadQuery { reason });
        if self.reasons.is_empty() || self.reasons.len() > MAX_REASONS {
            return bad(format!(
                "a report policy lists 1 to {MAX_REASONS} reasons, not {}",
                self.reasons.len()
            ));
        }
        for r in &self.reasons {
            let ok = !r.is_empty()
                && r.chars().count() <= MAX_REASON_CHARS
                && r.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !ok {
                return bad(format!(
                    "report reason `{r}`: use 1 to {MAX_REASON_CHARS} letters, digits, `_` or `-`"
                ));
            }
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = self.reasons.iter().find(|r| !seen.insert(r.as_str())) {
            return bad(format!("report reason `{dup}` is listed twice"));
        }
        if self.window_secs == 0 {
            return bad("the report window must be at least one second".into());
        }
        if self.per_minute == 0 {
            return bad("reports per address per minute must be at least 1".into());
        }
        if self.max_note_chars > MAX_NOTE_LIMIT {
            return bad(format!(
                "notes of up to {MAX_NOTE_LIMIT} characters at most, not {}",
                self.max_note_chars
            ));
        }
        Ok(())
    }

    /// Whether `reason` is one of the policy's reasons.
    pub fn allows(&self, reason: &str) -> bool {
        self.reasons.iter().any(|r| r == reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_bad_policies_are_refused() {
        ReportPolicy::default().validate().unwrap();
        for bad in [
            ReportPolicy {
                reasons: vec![],
                ..Default::default()
            },
            ReportPolicy {
                reasons: vec!["has space".into()],
                ..Default::default()
            },
            ReportPolicy {
                reasons: vec!["spam".into(), "spam".into()],
                ..Default::default()
            },
            ReportPolicy {
                window_secs: 0,
                ..Default::default()
            },
            ReportPolicy {
                per_minute: 0,
                ..Default::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
