//! What the ranking stage does for a query: the collection's defaults (`ranking.json` in its records
//! folder) with the query's own `collapse` and `diversity` over them.

use crate::ranking::boosts::Boosts;
use crate::types::error::{EngineError, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The collection's ranking defaults, in its records folder (a local collection's folder, a Qdrant
/// collection's records folder).
pub const RANKING_FILE: &str = "ranking.json";

/// Most candidates fetched per result asked for.
pub const MAX_FACTOR: usize = 50;

/// The ranking stage's options (plain data; the defaults leave the answer as retrieval gave it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RankOptions {
    /// One result per duplicate group (default off for the API and the CLI; the web page asks for it).
    pub collapse: bool,
    /// Weight of diversity in maximal marginal relevance, 0 (off) to 1.
    pub diversity: f32,
    /// Candidates fetched per result of the page when a step runs (`k x factor`, default 5).
    pub factor: usize,
    /// Boosts and demotions added to each candidate's relevance.
    pub boosts: Boosts,
}

impl Default for RankOptions {
    fn default() -> Self {
        Self {
            collapse: false,
            diversity: 0.0,
            factor: 5,
            boosts: Boosts::default(),
        }
    }
}

impl RankOptions {
    /// Checks the options are usable.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: String| Err(EngineError::BadQuery { reason });
        if !self.diversity.is_finite() || !(0.0..=1.0).contains(&self.diversity) {
            return bad(format!(
                "diversity must lie between 0 and 1, not {}",
                self.diversity
            ));
        }
        if self.factor == 0 || self.factor > MAX_FACTOR {
            return bad(format!(
                "the candidate factor must be 1 to {MAX_FACTOR}, not {}",
                self.factor
            ));
        }
        self.boosts.validate()
    }

    /// Whether any step would change the answer (a re-scorer aside).
    pub fn any(&self) -> bool {
        self.collapse || self.diversity > 0.0 || self.boosts.any()
    }

    /// These options with a query's own `collapse` and `diversity` over them.
    pub fn with_query(&self, collapse: Option<bool>, diversity: Option<f32>) -> Self {
        Self {
            collapse: collapse.unwrap_or(self.collapse),
            diversity: diversity.unwrap_or(self.diversity),
            ..self.clone()
        }
    }

    /// The defaults kept in `dir` ([`RANKING_FILE`]); the built-in defaults when there is no file. A file
    /// that cannot be read or checked is an error naming it (a typo must not silently turn boosts off).
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(RANKING_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(EngineError::io(&path)(e)),
        };
        let options: Self = serde_json::from_slice(&bytes).map_err(|e| EngineError::BadQuery {
            reason: format!(
                "{}: {e}; fix or delete the file (README, \"Ranking\")",
                path.display()
            ),
        })?;
        options.validate().map_err(|e| EngineError::BadQuery {
            reason: format!("{}: {e}", path.display()),
        })?;
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_change_nothing_and_bad_values_are_refused() {
        let d = RankOptions::default();
        assert!(!d.any());
        assert!(d.validate().is_ok());
        assert!(d.with_query(Some(true), None).any());
        for bad in [f32::NAN, -0.1, 1.5] {
            assert!(d.with_query(None, Some(bad)).validate().is_err());
        }
        let parsed: RankOptions =
            serde_json::from_str(r#"{"collapse": true, "boosts": {"flagged": -0.1}}"#).unwrap();
        assert!(parsed.collapse && parsed.boosts.flagged == -0.1 && parsed.factor == 5);
        assert!(serde_json::from_str::<RankOptions>(r#"{"colapse": true}"#).is_err());
    }
}
