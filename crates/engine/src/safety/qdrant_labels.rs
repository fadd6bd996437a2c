//! Zero-shot labels on a Qdrant collection (`vsearch labels apply --qdrant URL ...`): the local rule
//! ([`crate::safety::labels`]: each label's score from the stored image vector and the policy's prompt
//! directions, its action at its threshold), scored from the vectors Qdrant holds and written into each
//! point's payload: `label` (the scores by name, so the filter key `label.NAME` is a payload path),
//! `flag` and `hidden` (the names of the labels the image reaches with each action), each indexed. The
//! page's badges and blur and the label filters then work as on a local collection. The policy in force
//! is kept in the records folder ([`POLICY_FILE`]). An index run into Qdrant does not score labels: run
//! `vsearch labels apply --qdrant ...` after it (a re-written point loses its scores until then).

use crate::qdrant::QdrantCollection;
use crate::safety::labels::{LabelReport, LabelScorer};
use crate::types::error::{EngineError, Result};
use crate::types::label_policy::{PolicySource, LABEL_KEY_PREFIX};
use std::collections::BTreeMap;
use std::time::Instant;
use vsearch_qdrant::point_uuid;

/// The label policy in force for a Qdrant collection, in its records folder (its TOML text).
pub const POLICY_FILE: &str = "label_policy.toml";
/// Payload key of the labels an image is flagged by.
pub const FLAG_KEY: &str = "flag";
/// Payload key of the labels an image is hidden by.
pub const HIDDEN_KEY: &str = "hidden";

impl QdrantCollection {
    /// Scores every point's labels with `requested` (put in force), else the policy in force, else the
    /// default one, and writes them into the payload; see the [module](self).
    pub fn apply_labels(&self, requested: Option<&PolicySource>) -> Result<LabelReport> {
        let started = Instant::now();
        let embedder = self.embedder("scoring labels")?;
        let dir = self.records()?;
        let path = dir.join(POLICY_FILE);
        let stored = match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(EngineError::Io { path, source }),
        };
        let policy = match (requested, &stored) {
            (Some(p), _) => p.clone(),
            (None, Some(text)) => PolicySource::parse(text, &path.display().to_string())?,
            (None, None) => PolicySource::default_policy()?,
        };
        let scorer = LabelScorer::new(&policy.policy, embedder)?;
        let store = self.store();
        let prefix = LABEL_KEY_PREFIX.trim_end_matches('.');
        for key in [FLAG_KEY, HIDDEN_KEY] {
            store.create_payload_index(key, "keyword")?;
        }
        for name in scorer.names() {
            store.create_payload_index(&format!("{LABEL_KEY_PREFIX}{name}"), "float")?;
        }
        let vector = self.vector_spec().name.clone();
        let mut labelled = 0usize;
        store.scroll::<EngineError>(None, &["path"], Some(&vector), |points| {
            for p in points {
                let (Some(id), Some(v)) = (
                    p.id.as_ref().and_then(point_uuid),
                    vsearch_qdrant::dense_vector(&p, &vector),
                ) else {
                    continue;
                };
                let scores: BTreeMap<String, f32> = scorer.score(&v).into_iter().collect();
                let (flags, hidden) = policy.policy.actions(&scores);
                let mut payload = serde_json::Map::new();
                payload.insert(
                    prefix.into(),
                    serde_json::to_value(&scores).unwrap_or_default(),
                );
                payload.insert(FLAG_KEY.into(), flags.into());
                payload.insert(HIDDEN_KEY.into(), hidden.into());
                store.set_payload(&[id], payload)?;
                labelled += 1;
            }
            Ok(())
        })?;
        let policy_changed = stored.as_deref() != Some(policy.text.as_str());
        if policy_changed {
            vsearch_core::durable::write_atomic(&path, policy.text.as_bytes())
                .map_err(EngineError::io(&path))?;
        }
        tracing::info!(
            "scored {} labels of {labelled} points{}",
            policy.policy.labels.len(),
            if policy_changed { " (new policy)" } else { "" }
        );
        Ok(LabelReport {
            model: embedder.info.id.clone(),
            labels: policy.policy.labels.len(),
            labelled,
            embedded: 0,
            policy_changed,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}
