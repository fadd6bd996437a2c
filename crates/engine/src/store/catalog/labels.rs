//! The catalog's label tables (schema version 3): `labels`, one score per image and label, and
//! `settings`, text settings such as the label policy in force.

use super::Catalog;
use crate::types::error::Result;
use rusqlite::{params, OptionalExtension};

/// Tables added by schema version 3.
pub(super) const LABEL_TABLES: &str = "CREATE TABLE IF NOT EXISTS labels (
        id INTEGER NOT NULL,
        label TEXT NOT NULL,
        score REAL NOT NULL,
        PRIMARY KEY (id, label)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);";

/// The `settings` key of the label policy in force (its TOML text).
const POLICY_SETTING: &str = "label_policy";

/// Label scores of one image, by label name.
pub type LabelScores = std::collections::BTreeMap<String, f32>;

impl Catalog {
    /// The label policy in force (its TOML text); `None` before one was stored.
    pub fn label_policy(&self) -> Result<Option<String>> {
        if !self.has_labels {
            return Ok(None);
        }
        Ok(self
            .conn
            .query_row(
                "SELECT value FROM settings WHERE key = ?1",
                [POLICY_SETTING],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Every stored label score, by image id.
    pub fn labels(&self) -> Result<std::collections::HashMap<u64, LabelScores>> {
        let mut out: std::collections::HashMap<u64, LabelScores> = Default::default();
        if !self.has_labels {
            return Ok(out);
        }
        let mut stmt = self.conn.prepare("SELECT id, label, score FROM labels")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let id = r.get::<_, i64>(0)?.max(0) as u64;
            out.entry(id)
                .or_default()
                .insert(r.get(1)?, r.get::<_, f64>(2)? as f32);
        }
        Ok(out)
    }

    /// Stores label scores and the policy they were computed with, and bumps the generation, in one
    /// transaction: with `replace_all` every stored score is dropped first (a new policy), else the
    /// scores of `rows` are added or replaced.
    pub fn set_labels(
        &mut self,
        policy: &str,
        replace_all: bool,
        rows: &[(u64, Vec<(String, f32)>)],
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            if replace_all {
                tx.execute("DELETE FROM labels", [])?;
            }
            let mut ins = tx.prepare_cached(
                "INSERT OR REPLACE INTO labels (id, label, score) VALUES (?1, ?2, ?3)",
            )?;
            for (id, scores) in rows {
                for (label, score) in scores {
                    ins.execute(params![*id as i64, label, f64::from(*score)])?;
                }
            }
            tx.execute(
                "INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)",
                params![POLICY_SETTING, policy],
            )?;
            tx.execute(
                "UPDATE meta SET value = value + 1 WHERE key = 'generation'",
                [],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}
