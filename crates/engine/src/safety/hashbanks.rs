//! Hash banks: lists of PDQ hashes of known-bad images (from partners: ThreatExchange, StopNCII, GIFCT
//! exports; or another collection's takedowns, [`own_takedowns`]) and matching images against them.
//!
//! **Storage.** The banks live in the collection's records folder ([`crate::Backend::records_dir`]: a
//! local collection's folder), in `hashbanks.sqlite` ([`HASHBANKS_FILE`], WAL): a `banks` table (name,
//! reason, match distance, least quality, when imported) and a `hashes` table (bank, hash, quality when
//! the list gave one, tags). A hash appears once per bank; importing it again keeps the first.
//!
//! **Formats read** ([`parse_hash_list`]): one PDQ hash (64 hex digits) per line; or CSV/TSV
//! (ThreatExchange-style) with a hash column and optionally quality and tags columns, with a header
//! naming them (`hash`/`pdq`/`signal`..., `quality`, `tags`) or, without one, in that order. Blank lines
//! and lines starting with `#` are skipped. A line that does not parse refuses the whole file, naming it.
//!
//! **Matching** ([`BankMatcher`]): every bank's hashes in one [`PdqIndex`]; an image matches a hash when
//! their distance is at most the bank's distance ([`MATCH_DISTANCE`] unless set at import), and neither
//! the image's quality nor the hash's (when known) is under the bank's least quality ([`MIN_QUALITY`]
//! unless set at import: flat images are not matched unless asked). A matching image is blocked like a
//! takedown ([`block_matches`]): a block of the image alone, made by `hash bank NAME`, its reason naming
//! the bank, the bank's reason and the distance, and an audit-log line (`"action": "hash_match"`) with
//! the bank, the hash matched and the distance. Index runs match their new and changed images as they
//! arrive; `vsearch hashes scan` matches a whole collection (after importing a bank).

use crate::pdq::{Pdq, PdqHash, PdqIndex, MATCH_DISTANCE, MIN_QUALITY};
use crate::safety::image_set::ImageSet;
use crate::search::collection::Collection;
use crate::types::error::{EngineError, Result};
use crate::types::image_id::ImageId;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use crate::types::layout::HASHBANKS_FILE;

/// One hash of a list (a line of a file, or a row of a bank).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedHash {
    /// The hash, 64 hex digits.
    pub hash: String,
    /// Its quality (0-100) when the list gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<u8>,
    /// Tags the list gives it (as written).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tags: String,
}

/// How a bank matches (set at import).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchSettings {
    /// Largest Hamming distance that is a match.
    pub max_distance: u32,
    /// Hashes (of the image, or of the bank when known) of lower quality are not matched.
    pub min_quality: u8,
}

impl Default for MatchSettings {
    fn default() -> Self {
        Self {
            max_distance: MATCH_DISTANCE,
            min_quality: MIN_QUALITY,
        }
    }
}

/// A bank as `vsearch hashes list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BankSummary {
    /// Its name.
    pub name: String,
    /// Why its matches are blocked.
    pub reason: String,
    /// How it matches.
    pub settings: MatchSettings,
    /// How many hashes it holds.
    pub hashes: usize,
    /// When it was first imported, RFC 3339.
    pub imported_at: String,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    /// The bank.
    pub bank: String,
    /// Hashes added.
    pub added: usize,
    /// Hashes the bank had already.
    pub already: usize,
    /// Hashes the bank holds now.
    pub total: usize,
}

/// An image matching a bank's hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BankMatch {
    /// The bank.
    pub bank: String,
    /// The bank's hash it matched.
    pub hash: String,
    /// Hamming distance between the image's hash and the bank's.
    pub distance: u32,
}

/// The hash banks of a records folder (`hashbanks.sqlite`).
pub struct HashBanks {
    conn: Connection,
    path: PathBuf,
}

impl HashBanks {
    /// Opens (creating when absent) the banks of the records folder `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(EngineError::io(dir))?;
        let path = dir.join(HASHBANKS_FILE);
        let conn = Connection::open(&path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS banks (
                name TEXT PRIMARY KEY,
                reason TEXT NOT NULL,
                max_distance INTEGER NOT NULL,
                min_quality INTEGER NOT NULL,
                imported_at TEXT NOT NULL
            );
            CREATE TABLE IF NOT EXISTS hashes (
                bank TEXT NOT NULL REFERENCES banks (name),
                hash TEXT NOT NULL,
                quality INTEGER,
                tags TEXT NOT NULL DEFAULT '',
                PRIMARY KEY (bank, hash)
            ) WITHOUT ROWID;",
        )?;
        Ok(Self { conn, path })
    }

    /// Whether the records folder `dir` has banks at all (without creating the file).
    pub fn exist(dir: &Path) -> bool {
        dir.join(HASHBANKS_FILE).exists()
    }

    /// Adds `hashes` to the bank `name` (created with `reason` and `settings` when new; an existing
    /// bank keeps its settings, and its reason unless `reason` is given), in one transaction.
    pub fn import(
        &mut self,
        name: &str,
        reason: Option<&str>,
        settings: Option<MatchSettings>,
        hashes: &[ListedHash],
    ) -> Result<ImportReport> {
        let name = name.trim();
        if name.is_empty() {
            return Err(EngineError::BadQuery {
                reason: "a hash bank needs a name (--bank NAME)".into(),
            });
        }
        let tx = self.conn.transaction()?;
        let exists: bool = tx
            .query_row("SELECT 1 FROM banks WHERE name = ?1", [name], |_| Ok(()))
            .optional()?
            .is_some();
        if exists {
            if let Some(reason) = reason.map(str::trim).filter(|r| !r.is_empty()) {
                tx.execute(
                    "UPDATE banks SET reason = ?2 WHERE name = ?1",
                    params![name, reason],
                )?;
            }
            if let Some(s) = settings {
                tx.execute(
                    "UPDATE banks SET max_distance = ?2, min_quality = ?3 WHERE name = ?1",
                    params![name, s.max_distance, s.min_quality],
                )?;
            }
        } else {
            let s = settings.unwrap_or_default();
            tx.execute(
                "INSERT INTO banks (name, reason, max_distance, min_quality, imported_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    name,
                    reason.map(str::trim).unwrap_or_default(),
                    s.max_distance,
                    s.min_quality,
                    jiff::Timestamp::now().to_string()
                ],
            )?;
        }
        let mut added = 0;
        {
            let mut put = tx.prepare_cached(
                "INSERT OR IGNORE INTO hashes (bank, hash, quality, tags) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for h in hashes {
                added += put.execute(params![name, h.hash, h.quality, h.tags])?;
            }
        }
        let total: i64 =
            tx.query_row("SELECT COUNT(*) FROM hashes WHERE bank = ?1", [name], |r| {
                r.get(0)
            })?;
        tx.commit()?;
        Ok(ImportReport {
            bank: name.to_string(),
            added,
            already: hashes.len() - added,
            total: total.max(0) as usize,
        })
    }

    /// Every bank, by name.
    pub fn list(&self) -> Result<Vec<BankSummary>> {
        let mut stmt = self.conn.prepare(
            "SELECT b.name, b.reason, b.max_distance, b.min_quality, b.imported_at,
                    (SELECT COUNT(*) FROM hashes h WHERE h.bank = b.name)
             FROM banks b ORDER BY b.name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(BankSummary {
                name: r.get(0)?,
                reason: r.get(1)?,
                settings: MatchSettings {
                    max_distance: r.get(2)?,
                    min_quality: r.get(3)?,
                },
                imported_at: r.get(4)?,
                hashes: r.get::<_, i64>(5)?.max(0) as usize,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Removes the bank `name` and its hashes; returns how many hashes it held. Blocks its matches made
    /// stay in force (lift them with `vsearch unblock`).
    pub fn remove(&mut self, name: &str) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let hashes = tx.execute("DELETE FROM hashes WHERE bank = ?1", [name])?;
        if tx.execute("DELETE FROM banks WHERE name = ?1", [name])? == 0 {
            return Err(EngineError::NoSuchBank {
                name: name.to_string(),
            });
        }
        tx.commit()?;
        Ok(hashes)
    }

    /// The hashes of the bank `name`.
    pub fn hashes(&self, name: &str) -> Result<Vec<ListedHash>> {
        if !self.list()?.iter().any(|b| b.name == name) {
            return Err(EngineError::NoSuchBank {
                name: name.to_string(),
            });
        }
        let mut stmt = self
            .conn
            .prepare("SELECT hash, quality, tags FROM hashes WHERE bank = ?1 ORDER BY hash")?;
        let rows = stmt.query_map([name], |r| {
            Ok(ListedHash {
                hash: r.get(0)?,
                quality: r.get::<_, Option<i64>>(1)?.map(|q| q.clamp(0, 100) as u8),
                tags: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every bank's hashes, indexed for matching.
    pub fn matcher(&self) -> Result<BankMatcher> {
        let banks = self.list()?;
        let mut stmt = self
            .conn
            .prepare("SELECT bank, hash, quality FROM hashes")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<i64>>(2)?,
            ))
        })?;
        let position: HashMap<&str, usize> = banks
            .iter()
            .enumerate()
            .map(|(i, b)| (b.name.as_str(), i))
            .collect();
        let mut hashes = Vec::new();
        let mut owners = Vec::new();
        for row in rows {
            let (bank, hex, quality) = row?;
            let hash = PdqHash::from_hex(&hex).map_err(|e| EngineError::HashList {
                path: self.path.clone(),
                line: 0,
                reason: format!("bank {bank}: {e}"),
            })?;
            let Some(&b) = position.get(bank.as_str()) else {
                continue;
            };
            hashes.push(hash);
            owners.push((b as u32, quality.map(|q| q.clamp(0, 100) as u8)));
        }
        Ok(BankMatcher {
            index: PdqIndex::new(hashes),
            owners,
            banks,
        })
    }
}

/// Every bank's hashes in one [`PdqIndex`], and what each hash belongs to.
pub struct BankMatcher {
    index: PdqIndex,
    /// Per hash position: its bank (in `banks`) and quality.
    owners: Vec<(u32, Option<u8>)>,
    banks: Vec<BankSummary>,
}

impl BankMatcher {
    /// Whether there is no hash to match.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The banks' hashes `pdq` matches (see the module docs), nearest first.
    pub fn matches(&self, pdq: &Pdq) -> Vec<BankMatch> {
        let widest = self
            .banks
            .iter()
            .map(|b| b.settings.max_distance)
            .max()
            .unwrap_or(0);
        self.index
            .within(&pdq.hash, widest)
            .into_iter()
            .filter_map(|(p, distance)| {
                let (b, quality) = self.owners[p];
                let bank = &self.banks[b as usize];
                let s = bank.settings;
                let good =
                    pdq.quality >= s.min_quality && quality.is_none_or(|q| q >= s.min_quality);
                (distance <= s.max_distance && good).then(|| BankMatch {
                    bank: bank.name.clone(),
                    hash: self.index.get(p).map(PdqHash::to_hex).unwrap_or_default(),
                    distance,
                })
            })
            .collect()
    }

    /// The bank named `name`.
    pub fn bank(&self, name: &str) -> Option<&BankSummary> {
        self.banks.iter().find(|b| b.name == name)
    }
}

/// Reads a hash list (see the module docs for the formats); `path` names it in errors.
pub fn parse_hash_list(path: &Path, text: &str) -> Result<Vec<ListedHash>> {
    let bad = |line: usize, reason: String| EngineError::HashList {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let mut out = Vec::new();
    // Column positions of hash, quality and tags once known (a header names them).
    let mut columns: Option<(usize, Option<usize>, Option<usize>)> = None;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let separator = if line.contains('\t') { '\t' } else { ',' };
        let fields: Vec<&str> = line
            .split(separator)
            .map(|f| f.trim().trim_matches('"'))
            .collect();
        if columns.is_none() && out.is_empty() && PdqHash::from_hex(fields[0]).is_err() {
            if fields.len() == 1 {
                return Err(bad(
                    n + 1,
                    format!("'{}' is not a PDQ hash (64 hex digits)", fields[0]),
                ));
            }
            let find = |names: &[&str]| {
                fields
                    .iter()
                    .position(|f| names.iter().any(|name| f.eq_ignore_ascii_case(name)))
            };
            let hash = find(&[
                "hash",
                "pdq",
                "pdq_hash",
                "signal",
                "signal_value",
                "indicator",
                "value",
            ])
            .ok_or_else(|| {
                bad(
                    n + 1,
                    "a header without a hash column (name it hash, pdq, signal or indicator)"
                        .into(),
                )
            })?;
            columns = Some((
                hash,
                find(&["quality", "pdq_quality"]),
                find(&["tags", "tag"]),
            ));
            continue;
        }
        let (hash_at, quality_at, tags_at) = *columns.get_or_insert((0, Some(1), Some(2)));
        let field = |at: Option<usize>| at.and_then(|i| fields.get(i)).copied().unwrap_or("");
        let hash =
            PdqHash::from_hex(field(Some(hash_at))).map_err(|e| bad(n + 1, e.to_string()))?;
        let quality = match field(quality_at) {
            "" => None,
            q => Some(q.parse::<u8>().ok().filter(|q| *q <= 100).ok_or_else(|| {
                bad(
                    n + 1,
                    format!("quality '{q}' is not a number from 0 to 100"),
                )
            })?),
        };
        out.push(ListedHash {
            hash: hash.to_hex(),
            quality,
            tags: field(tags_at).to_string(),
        });
    }
    Ok(out)
}

/// Writes `hashes` as CSV with a `hash,quality,tags` header (what [`parse_hash_list`] reads back, and
/// ThreatExchange-style tools read).
pub fn write_hash_list(hashes: &[ListedHash]) -> String {
    let mut out = String::from("hash,quality,tags\n");
    for h in hashes {
        let tags = if h.tags.contains([',', '"', '\n']) {
            format!("\"{}\"", h.tags.replace(['"', '\n'], " "))
        } else {
            h.tags.clone()
        };
        out.push_str(&format!(
            "{},{},{}\n",
            h.hash,
            h.quality.map(|q| q.to_string()).unwrap_or_default(),
            tags
        ));
    }
    out
}

/// The PDQ hashes of the images the collection's blocks hide (its takedowns, to share without the
/// images), tagged `vsearch-takedown`.
pub fn own_takedowns(collection: &Collection, pdq: &HashMap<u64, Pdq>) -> Vec<ListedHash> {
    let hidden: Vec<u64> = collection.block_state().hidden.iter().copied().collect();
    takedown_list(&hidden, pdq)
}

/// The PDQ hashes of the images `hidden` (a collection's takedowns), tagged `vsearch-takedown`, sorted
/// by hash, each hash once.
pub(crate) fn takedown_list<Id: Eq + std::hash::Hash>(
    hidden: &[Id],
    pdq: &HashMap<Id, Pdq>,
) -> Vec<ListedHash> {
    let mut out: Vec<ListedHash> = hidden
        .iter()
        .filter_map(|id| pdq.get(id))
        .map(|p| ListedHash {
            hash: p.hash.to_hex(),
            quality: Some(p.quality),
            tags: "vsearch-takedown".into(),
        })
        .collect();
    out.sort_by(|a, b| a.hash.cmp(&b.hash));
    out.dedup_by(|a, b| a.hash == b.hash);
    out
}

/// Matches every image of the collection at `path` (a collection folder, or an indexed folder containing
/// `.vsearch`) against its hash banks and blocks the matching ones not hidden already (`vsearch hashes
/// scan`, after importing a bank). Returns the images blocked.
pub fn scan(path: &Path) -> Result<Vec<BlockedMatch>> {
    let coll = crate::types::layout::resolve_collection_dir(path)?;
    let pdq = crate::store::catalog::Catalog::open_read_only(&coll)?.pdq_hashes()?;
    block_matches(&coll, &pdq, None, "vsearch hashes scan")
}

/// An image matched and blocked by [`block_matches`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockedMatch {
    /// The image's id (a number in a local collection, a UUID in a Qdrant one).
    pub id: ImageId,
    /// Its path.
    pub path: String,
    /// The block made.
    pub block: u64,
    /// The match.
    #[serde(flatten)]
    pub matched: BankMatch,
}

/// Images that matched a bank, each with its nearest match, by id ([`find_matches`]).
pub(crate) type Found<Id> = Vec<(Id, BankMatch)>;

/// The images among `ids` (all of `pdq` when `None`) whose hash matches a bank of the records folder
/// `records`, each with its nearest match, by id; empty when there are no banks.
pub(crate) fn find_matches<Id: Copy + Ord + std::hash::Hash>(
    records: &Path,
    pdq: &HashMap<Id, Pdq>,
    ids: Option<&[Id]>,
) -> Result<(Found<Id>, Option<BankMatcher>)> {
    if !HashBanks::exist(records) {
        return Ok((Vec::new(), None));
    }
    let matcher = HashBanks::open(records)?.matcher()?;
    if matcher.is_empty() {
        return Ok((Vec::new(), None));
    }
    let check = |id: &Id| {
        let p = pdq.get(id)?;
        matcher.matches(p).into_iter().next().map(|m| (*id, m))
    };
    let mut found: Vec<(Id, BankMatch)> = match ids {
        Some(ids) => ids.iter().filter_map(check).collect(),
        None => pdq.keys().filter_map(check).collect(),
    };
    found.sort_by_key(|(id, _)| *id);
    Ok((found, Some(matcher)))
}

/// Blocks each image of `found` (from [`find_matches`]) that `set` holds and no block hides already: a
/// block of the image alone each, recorded in the records folder `records` with an audit-log line
/// (`"action": "hash_match"`; see the module docs); `by` says who runs it (`vsearch index`, `vsearch
/// hashes scan`). Returns the images blocked, by id. Hiding them is the backend's part: a local
/// collection computes it from the blocks, a Qdrant one flags the points
/// ([`crate::safety::on_qdrant`]).
pub(crate) fn block_found<S: ImageSet>(
    set: &S,
    records: &Path,
    matcher: &BankMatcher,
    found: Found<S::Id>,
    pdq: &HashMap<S::Id, Pdq>,
    by: &str,
) -> Result<Vec<(S::Id, BlockedMatch)>> {
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let visible: std::collections::HashSet<S::Id> = set.visible_ids()?.into_iter().collect();
    let ids: Vec<S::Id> = found.iter().map(|(id, _)| *id).collect();
    let metas = set.metas(&ids)?;
    let mut blocks = Vec::new();
    let mut matched = Vec::new();
    for (id, m) in found {
        let Some(meta) = metas.get(&id) else {
            continue;
        };
        if !visible.contains(&id) {
            continue;
        }
        let bank_reason = matcher
            .bank(&m.bank)
            .map(|b| b.reason.clone())
            .unwrap_or_default();
        blocks.push(crate::safety::blocks::MatchBlock {
            example: crate::safety::blocks::BlockExample {
                id: Some(id.into()),
                path: Some(meta.path.clone()),
                hash: set.content_hash_of(id)?,
            },
            vector: set.vector(id)?,
            reason: if bank_reason.is_empty() {
                format!("hash bank {} (PDQ distance {})", m.bank, m.distance)
            } else {
                format!(
                    "hash bank {}: {bank_reason} (PDQ distance {})",
                    m.bank, m.distance
                )
            },
            by: format!("hash bank {}", m.bank),
            record: serde_json::json!({
                "run_by": by,
                "bank": m.bank,
                "bank_hash": m.hash,
                "image_hash": pdq.get(&id).map(|p| p.hash.to_hex()),
                "distance": m.distance,
            }),
        });
        matched.push((id, meta.path.clone(), m));
    }
    let block_ids = crate::safety::blocks::record_match_blocks(records, blocks)?;
    Ok(matched
        .into_iter()
        .zip(block_ids)
        .map(|((id, path, matched), block)| {
            (
                id,
                BlockedMatch {
                    id: id.into(),
                    path,
                    block,
                    matched,
                },
            )
        })
        .collect())
}

/// Matches the images `ids` of the local collection in `coll` (all of them when `None`) against the
/// banks of `coll`, and blocks each matching image not hidden already (see the module docs); `by` says
/// who runs it (`vsearch index`, `vsearch hashes scan`). Returns the images blocked.
pub fn block_matches(
    coll: &Path,
    pdq: &HashMap<u64, Pdq>,
    ids: Option<&[u64]>,
    by: &str,
) -> Result<Vec<BlockedMatch>> {
    // Matching first: the collection is opened only when something matches.
    let (found, matcher) = find_matches(coll, pdq, ids)?;
    let Some(matcher) = matcher.filter(|_| !found.is_empty()) else {
        return Ok(Vec::new());
    };
    let collection = Collection::open_without_model(coll)?;
    Ok(block_found(&collection, coll, &matcher, found, pdq, by)?
        .into_iter()
        .map(|(_, m)| m)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
    const B: &str = "30a10efd71cc3d429013d48d0ffffc52e34e0e17ada952a9d29685211ea9e5af";

    #[test]
    fn reads_hex_lines_and_threatexchange_style_csv_and_tsv() {
        let p = Path::new("list");
        let hex = parse_hash_list(p, &format!("# partner list\n{A}\n\n{}\n", B.to_uppercase()))
            .expect("hex");
        assert_eq!(
            hex.iter().map(|h| h.hash.as_str()).collect::<Vec<_>>(),
            [A, B]
        );
        let csv = parse_hash_list(
            p,
            &format!("hash,quality,tags\n{A},90,\"csam,verified\"\n{B},,\n"),
        )
        .expect("csv");
        assert_eq!(csv[0].quality, Some(90));
        assert_eq!(csv[1].quality, None);
        let tsv =
            parse_hash_list(p, &format!("tags\tsignal_value\tquality\nx\t{A}\t77\n")).expect("tsv");
        assert_eq!(
            (tsv[0].hash.as_str(), tsv[0].quality, tsv[0].tags.as_str()),
            (A, Some(77), "x")
        );
        let headless = parse_hash_list(p, &format!("{A}\t55\tspam\n")).expect("headless tsv");
        assert_eq!(
            (headless[0].quality, headless[0].tags.as_str()),
            (Some(55), "spam")
        );
        let err = parse_hash_list(p, &format!("{A}\nnot-a-hash\n")).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        let err = parse_hash_list(p, &format!("{A},300\n")).unwrap_err();
        assert!(err.to_string().contains("quality"), "{err}");
        // What write_hash_list writes reads back.
        assert_eq!(
            parse_hash_list(p, &write_hash_list(&csv)).expect("round trip"),
            csv
        );
    }

    #[test]
    fn banks_import_list_match_and_remove() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut banks = HashBanks::open(dir.path()).expect("open");
        let listed = |hash: &str, quality| ListedHash {
            hash: hash.into(),
            quality,
            tags: String::new(),
        };
        let report = banks
            .import(
                "partner",
                Some("known bad"),
                None,
                &[listed(A, Some(90)), listed(B, Some(20))],
            )
            .expect("import");
        assert_eq!((report.added, report.total), (2, 2));
        let again = banks
            .import("partner", None, None, &[listed(A, None)])
            .expect("again");
        assert_eq!((again.added, again.already, again.total), (0, 1, 2));
        let list = banks.list().expect("list");
        assert_eq!(
            (
                list[0].name.as_str(),
                list[0].reason.as_str(),
                list[0].hashes
            ),
            ("partner", "known bad", 2)
        );
        assert_eq!(list[0].settings, MatchSettings::default());
        let matcher = banks.matcher().expect("matcher");
        let mut near = PdqHash::from_hex(A).expect("hash");
        for k in 0..31 {
            near.words[k / 64] ^= 1 << (k % 64);
        }
        let m = matcher.matches(&Pdq {
            hash: near,
            quality: 100,
        });
        assert_eq!((m.len(), m[0].distance, m[0].hash.as_str()), (1, 31, A));
        near.words[3] ^= 1;
        assert!(
            matcher
                .matches(&Pdq {
                    hash: near,
                    quality: 100
                })
                .is_empty(),
            "32 bits is no match"
        );
        let exact = PdqHash::from_hex(A).expect("hash");
        assert!(
            matcher
                .matches(&Pdq {
                    hash: exact,
                    quality: 49
                })
                .is_empty(),
            "a flat image is not matched"
        );
        let low = PdqHash::from_hex(B).expect("hash");
        assert!(
            matcher
                .matches(&Pdq {
                    hash: low,
                    quality: 100
                })
                .is_empty(),
            "a low-quality bank hash is not matched"
        );
        assert_eq!(banks.remove("partner").expect("remove"), 2);
        assert!(matches!(
            banks.remove("partner"),
            Err(EngineError::NoSuchBank { .. })
        ));
    }
}
