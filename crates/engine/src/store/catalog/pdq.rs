//! The catalog's PDQ table (schema version 4): one row per indexed image, its PDQ hash (64 hex digits;
//! `NULL` for an image too small to hash) and quality, written in the transaction that writes the image's
//! row. A re-written or deleted image loses its row in that transaction; images that lack one (indexed
//! before schema 4, or by a run interrupted between its batches' commits) get it from the next index run,
//! which decodes them without embedding them again.

use super::Catalog;
use crate::pdq::{Pdq, PdqHash};
use crate::types::error::Result;
use rusqlite::params;
use std::collections::HashMap;

/// The table added by schema version 4.
pub(super) const PDQ_TABLE: &str = "CREATE TABLE IF NOT EXISTS pdq (
        id INTEGER PRIMARY KEY,
        hash TEXT,
        quality INTEGER NOT NULL
    );";

/// Writes the PDQ rows of `rows` (replacing any) inside `tx`: `None` records an image too small to hash.
pub(super) fn write_pdq(tx: &rusqlite::Transaction<'_>, rows: &[(u64, Option<Pdq>)]) -> Result<()> {
    let mut put =
        tx.prepare_cached("INSERT OR REPLACE INTO pdq (id, hash, quality) VALUES (?1, ?2, ?3)")?;
    for (id, pdq) in rows {
        put.execute(params![
            *id as i64,
            pdq.map(|p| p.hash.to_hex()),
            pdq.map_or(0, |p| i64::from(p.quality))
        ])?;
    }
    Ok(())
}

impl Catalog {
    /// Every stored PDQ hash, by image id (images too small to hash have none; images not hashed yet
    /// are absent: see [`Catalog::unhashed`]).
    pub fn pdq_hashes(&self) -> Result<HashMap<u64, Pdq>> {
        if !self.has_pdq {
            return Ok(HashMap::new());
        }
        let mut stmt = self
            .conn
            .prepare("SELECT id, hash, quality FROM pdq WHERE hash IS NOT NULL")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)? as u64,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut out = HashMap::new();
        for row in rows {
            let (id, hex, quality) = row?;
            match PdqHash::from_hex(&hex) {
                Ok(hash) => {
                    out.insert(
                        id,
                        Pdq {
                            hash,
                            quality: quality.clamp(0, 100) as u8,
                        },
                    );
                }
                // Only this code writes the table; a bad row is left out and re-hashed by no one, so say so.
                Err(e) => tracing::warn!("catalog: the PDQ hash of image {id} is damaged: {e}"),
            }
        }
        Ok(out)
    }

    /// The indexed images (status ok) that have no PDQ row yet, by id.
    pub fn unhashed(&self) -> Result<Vec<super::Entry>> {
        if !self.has_pdq {
            return Ok(Vec::new());
        }
        let hashed: std::collections::HashSet<u64> = {
            let mut stmt = self.conn.prepare("SELECT id FROM pdq")?;
            let ids = stmt.query_map([], |r| r.get::<_, i64>(0))?;
            ids.map(|id| id.map(|id| id as u64))
                .collect::<rusqlite::Result<_>>()?
        };
        Ok(self
            .entries()?
            .into_iter()
            .filter(|e| e.status == super::Status::Ok && !hashed.contains(&e.id))
            .collect())
    }

    /// Stores the PDQ hashes of images hashed without being re-embedded, in one transaction (the
    /// generation is not raised: nothing a search serves changes).
    pub fn set_pdq(&mut self, rows: &[(u64, Option<Pdq>)]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        write_pdq(&tx, rows)?;
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Catalog, Entry, Status};
    use crate::pdq::{Pdq, PdqHash};

    fn row(id: u64, path: &str) -> Entry {
        Entry {
            id,
            path: path.into(),
            size: 1,
            mtime_ns: 1,
            hash: format!("h{id}"),
            width: 64,
            height: 64,
            status: Status::Ok,
            error: None,
            meta: None,
            version: 0,
            frame: None,
        }
    }

    #[test]
    fn hashes_are_written_with_their_rows_and_go_with_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut catalog = Catalog::open(dir.path()).expect("open");
        let pdq = Pdq {
            hash: PdqHash {
                words: [1, 2, 3, 4],
            },
            quality: 87,
        };
        catalog
            .commit_hashed(
                &[],
                &[row(0, "a.jpg"), row(1, "b.jpg"), row(2, "c.jpg")],
                &[],
                3,
                None,
                &[(0, Some(pdq)), (1, None)],
            )
            .expect("commit");
        let stored = catalog.pdq_hashes().expect("hashes");
        assert_eq!((stored.len(), stored[&0]), (1, pdq));
        // Image 1 is too small to hash (a row without a hash); image 2 has no row yet.
        let unhashed: Vec<u64> = catalog
            .unhashed()
            .expect("unhashed")
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(unhashed, [2]);
        catalog.set_pdq(&[(2, Some(pdq))]).expect("set");
        assert!(catalog.unhashed().expect("unhashed").is_empty());
        // A re-written row loses its hash (until given a new one); a removed row too.
        catalog
            .commit(&[2], &[row(0, "a.jpg")], &[], 3, None)
            .expect("rewrite");
        assert!(catalog.pdq_hashes().expect("hashes").is_empty());
        let unhashed: Vec<u64> = catalog
            .unhashed()
            .expect("unhashed")
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(unhashed, [0]);
    }
}
