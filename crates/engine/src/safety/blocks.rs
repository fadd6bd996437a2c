//! Takedowns by similarity: blocks that hide an example image and what its reach covers.
//!
//! A block names an example (an indexed id, or an image file given at block time: its content hash and
//! vector), keeps the example's vector, and has a reach ([`Reach`]): the example alone (and any file
//! with the same bytes), the example and its copies (re-encoded, resized, cropped, flipped versions), or
//! everything within a cosine threshold of the example's vector.
//!
//! The block list, its storage and audit log, and the rule of reach (`reach_in`, over the safety tools'
//! view of either backend, `safety/image_set.rs`) are shared with Qdrant collections, which keep them in their
//! records folder and hide with a payload flag ([`crate::safety::on_qdrant`]); the hiding described below
//! is a local collection's.
//!
//! **Storage.** The blocks live in the collection folder, in `blocks.json` ([`BLOCKS_FILE`]), written
//! atomically (temporary file, fsync, rename, fsync of the folder) under an OS lock (`blocks.lock`), so
//! the CLI and a server can change blocks at once. It is a file of its own rather than a table of the
//! catalog: it needs no index run's lock, a `vsearch index --rebuild` (which starts the catalog over)
//! does not lift takedowns, and a server notices a change by reading one small file. Every change is
//! appended to `audit.jsonl` ([`AUDIT_FILE`]), one JSON line per event, each line fsynced; the log is
//! never rewritten.
//!
//! **Hiding.** Blocks hide at query time, without rebuilding indexes: the set of hidden ids is computed
//! when a collection is opened or reloaded and whenever blocks change ([`Collection::add_block`],
//! [`Collection::remove_block`]), and searches apply it inside the index search as a filter (so `k`
//! results still come back), browsing, facets and counts leave hidden images out, and a query by a
//! hidden id, or a request for its file, is refused with [`EngineError::Blocked`]. New files a later
//! `vsearch index` adds are hidden as they arrive (the hidden set is recomputed from the blocks'
//! vectors); the run counts them and logs them to the audit log ([`record_arrivals`]).

use crate::safety::dupes::{copies_in, DupesOptions};
use crate::safety::image_set::ImageSet;
use crate::search::collection::Collection;
use crate::types::error::{EngineError, Result};
use crate::types::image_id::ImageId;
use crate::types::layout::{self, AUDIT_FILE, BLOCKS_FILE};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashSet};
use std::io::Write;
use std::path::Path;
use vsearch_core::vector;
use vsearch_index::IdFilter;

/// Cosine similarity at or above which the interim copy lookup takes an image for a copy.
pub const COPY_THRESHOLD: f32 = 0.95;

/// The blocks of a collection, as stored in [`BLOCKS_FILE`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BlockList {
    /// Raised by every change (a server compares it, with the blocks, to notice changes).
    pub version: u64,
    /// The id the next block gets (block ids are never reused).
    pub next_id: u64,
    /// The blocks in force, oldest first.
    pub blocks: Vec<Block>,
}

/// One block in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Block {
    /// The block's id (for `vsearch unblock` and `DELETE /api/blocks/{id}`).
    pub id: u64,
    /// Who made it.
    pub by: String,
    /// When, RFC 3339 (UTC).
    pub at: String,
    /// Why.
    pub reason: String,
    /// The example it was made from.
    pub example: BlockExample,
    /// What it hides besides the example.
    pub reach: Reach,
    /// The example's vector (as the collection's model embeds it).
    pub vector: Vec<f32>,
}

/// The example of a block: an indexed image, or an image file given at block time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BlockExample {
    /// The indexed id (absent for a file the collection did not hold): a number in a local collection,
    /// a UUID in a Qdrant collection.
    pub id: Option<ImageId>,
    /// Its path relative to the indexed folder, or the name of the file given.
    pub path: Option<String>,
    /// blake3 of its bytes, hex (as the catalog's `hash`).
    pub hash: Option<String>,
}

/// How far a block reaches from its example.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reach {
    /// The example alone (and files with the very same bytes).
    Example,
    /// The example and its copies: re-encoded, resized, cropped or flipped versions.
    Copies,
    /// Everything whose cosine similarity to the example's vector is at least `threshold`.
    Within {
        /// Cosine similarity, in (0, 1].
        threshold: f32,
    },
}

impl std::fmt::Display for Reach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reach::Example => write!(f, "the example alone"),
            Reach::Copies => write!(f, "the example and its copies"),
            Reach::Within { threshold } => write!(f, "everything within cosine {threshold}"),
        }
    }
}

/// What a new block is made from.
#[derive(Debug, Clone)]
pub enum BlockSource {
    /// An indexed image, by id.
    Id(ImageId),
    /// An image file's bytes (needs the collection's model), and the name to record for it.
    Image {
        /// Encoded image bytes.
        bytes: Vec<u8>,
        /// The file's name, for the record.
        name: Option<String>,
    },
}

/// A block to make ([`Collection::add_block`]).
#[derive(Debug, Clone)]
pub struct NewBlock {
    /// The example.
    pub source: BlockSource,
    /// Its reach.
    pub reach: Reach,
    /// Why (required).
    pub reason: String,
    /// Who (required).
    pub by: String,
}

/// An image a block hides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HiddenImage {
    /// Its id.
    pub id: ImageId,
    /// Its path relative to the indexed folder.
    pub path: String,
}

/// A block and what it hides now (its vector left out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockView {
    /// The block's id.
    pub id: u64,
    /// Who made it.
    pub by: String,
    /// When, RFC 3339.
    pub at: String,
    /// Why.
    pub reason: String,
    /// The example.
    pub example: BlockExample,
    /// Its reach.
    pub reach: Reach,
    /// The images of the collection it hides, by id.
    pub hides: Vec<HiddenImage>,
}

/// The blocks of a served state and the ids they hide.
#[derive(Debug, Clone, Default)]
pub(crate) struct BlockState {
    pub(crate) list: BlockList,
    /// Per block (same order as `list.blocks`), the ids it hides, ascending.
    pub(crate) hides: Vec<Vec<u64>>,
    /// Every hidden id.
    pub(crate) hidden: HashSet<u64>,
    /// The ids a search may return when blocks hide some (`None` when nothing is hidden), computed once
    /// per state rather than per query.
    pub(crate) visible: Option<IdFilter>,
}

impl BlockState {
    /// The hidden set of `list` over `collection`.
    pub(crate) fn compute(collection: &Collection, list: BlockList) -> Result<Self> {
        let mut hides = Vec::with_capacity(list.blocks.len());
        let mut hidden = HashSet::new();
        for block in &list.blocks {
            let ids = reach_of(collection, block)?;
            hidden.extend(ids.iter().copied());
            hides.push(ids);
        }
        let visible = (!hidden.is_empty()).then(|| {
            IdFilter::from_ids(
                collection
                    .images()
                    .iter()
                    .map(|m| m.id)
                    .filter(|id| !hidden.contains(id)),
            )
        });
        Ok(Self {
            list,
            hides,
            hidden,
            visible,
        })
    }
}

impl BlockList {
    /// The blocks of the collection folder `dir` (none when it has no blocks file).
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(BLOCKS_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => return Err(EngineError::Io { path, source }),
        };
        let list: Self = serde_json::from_slice(&bytes).map_err(|e| EngineError::Blocks {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if let Some(b) = list.blocks.iter().find(|b| {
            b.vector.iter().any(|x| !x.is_finite())
                || matches!(b.reach, Reach::Within { threshold } if !valid_threshold(threshold))
        }) {
            return Err(EngineError::Blocks {
                path,
                reason: format!("block {} has a bad vector or threshold", b.id),
            });
        }
        Ok(list)
    }

    pub(crate) fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(BLOCKS_FILE);
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| EngineError::Blocks {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        vsearch_core::durable::write_atomic(&path, &bytes).map_err(EngineError::io(&path))
    }
}

fn valid_threshold(t: f32) -> bool {
    t.is_finite() && t > 0.0 && t <= 1.0
}

/// Appends one event to the audit log and fsyncs it (the folder too when the log is new). The caller
/// holds the blocks lock.
fn audit(dir: &Path, event: &serde_json::Value) -> Result<()> {
    let path = dir.join(AUDIT_FILE);
    let created = !path.exists();
    let mut line = serde_json::to_vec(event).map_err(|e| EngineError::Blocks {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    line.push(b'\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(EngineError::io(&path))?;
    file.write_all(&line).map_err(EngineError::io(&path))?;
    file.sync_all().map_err(EngineError::io(&path))?;
    if created {
        vsearch_core::durable::sync_dir(dir).map_err(EngineError::io(dir))?;
    }
    Ok(())
}

/// Appends one event to the audit log of the records folder `dir` (under the blocks lock, so it does
/// not interleave with a block change), fsynced.
pub fn append_audit(dir: &Path, event: &serde_json::Value) -> Result<()> {
    let _lock = layout::lock_blocks(dir)?;
    audit(dir, event)
}

/// The events of the audit log of the collection folder `dir`, oldest first (lines that do not parse are
/// skipped with a warning).
pub fn read_audit(dir: &Path) -> Result<Vec<serde_json::Value>> {
    let path = dir.join(AUDIT_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(EngineError::Io { path, source }),
    };
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| match serde_json::from_str(l) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::warn!(
                    "{}: skipping a line that does not parse: {e}",
                    path.display()
                );
                None
            }
        })
        .collect())
}

/// Now, RFC 3339 (UTC).
pub(crate) fn now() -> String {
    jiff::Timestamp::now().to_string()
}

/// The images `block` hides in `set`, ascending: the example (and files with its bytes), and what its
/// reach adds. The one rule of reach, whichever backend holds the collection.
pub(crate) fn reach_in<S: ImageSet>(set: &S, block: &Block) -> Result<Vec<S::Id>> {
    let mut ids = BTreeSet::new();
    let example = match block.example.id.and_then(|id| set.own_id(id)) {
        Some(id) if set.contains(id)? => Some(id),
        _ => None,
    };
    ids.extend(example);
    if let Some(hash) = block.example.hash.as_deref().filter(|h| !h.is_empty()) {
        ids.extend(set.with_hash(hash)?);
    }
    let mut unit = block.vector.clone();
    vector::normalize(&mut unit);
    match block.reach {
        Reach::Example => {}
        // The copies of an indexed example, as the duplicate finder verifies them.
        Reach::Copies => match example {
            Some(id) => ids.extend(copies_in(set, id, &DupesOptions::default())?),
            // An example that is not an indexed image (an image file given at block time, or an
            // example since deleted): the verified finder needs an indexed image, so cosine at least
            // [`COPY_THRESHOLD`] (and the same content hash, above).
            None => ids.extend(set.within(&unit, COPY_THRESHOLD)?),
        },
        Reach::Within { threshold } => ids.extend(set.within(&unit, threshold)?),
    }
    Ok(ids.into_iter().collect())
}

/// The ids `block` hides in `collection`, ascending.
fn reach_of(collection: &Collection, block: &Block) -> Result<Vec<u64>> {
    reach_in(collection, block)
}

impl NewBlock {
    /// The block's reason and actor, trimmed, once its text and reach are checked.
    pub(crate) fn checked(&self) -> Result<(String, String)> {
        let reason = self.reason.trim().to_string();
        let by = self.by.trim().to_string();
        if reason.is_empty() {
            return Err(EngineError::BadQuery {
                reason: "a block needs a reason".into(),
            });
        }
        if by.is_empty() {
            return Err(EngineError::BadQuery {
                reason: "a block needs to say who makes it".into(),
            });
        }
        if let Reach::Within { threshold } = self.reach {
            if !valid_threshold(threshold) {
                return Err(EngineError::BadQuery {
                    reason: format!(
                        "the near threshold must be a cosine similarity above 0 and at most 1, not {threshold}"
                    ),
                });
            }
        }
        Ok((reason, by))
    }
}

/// Adds a block (made from `example`, with the vector `vector`, normalised here) to the blocks of the
/// records folder `dir`, written at once; the caller holds the blocks lock. Returns the block and the
/// list with it.
pub(crate) fn append_block(
    dir: &Path,
    new: &NewBlock,
    example: BlockExample,
    mut vector: Vec<f32>,
) -> Result<(Block, BlockList)> {
    let (reason, by) = new.checked()?;
    vector::normalize(&mut vector);
    let mut list = BlockList::read(dir)?;
    let block = Block {
        id: list.next_id,
        by,
        at: now(),
        reason,
        example,
        reach: new.reach,
        vector,
    };
    list.next_id += 1;
    list.version += 1;
    list.blocks.push(block.clone());
    list.write(dir)?;
    Ok((block, list))
}

/// Removes the block `block_id` from the blocks of the records folder `dir`, written at once; the caller
/// holds the blocks lock. Returns the block and the list without it.
pub(crate) fn take_block(dir: &Path, block_id: u64, by: &str) -> Result<(Block, BlockList)> {
    if by.trim().is_empty() {
        return Err(EngineError::BadQuery {
            reason: "an unblock needs to say who makes it".into(),
        });
    }
    let mut list = BlockList::read(dir)?;
    let at = list
        .blocks
        .iter()
        .position(|b| b.id == block_id)
        .ok_or(EngineError::NoSuchBlock { id: block_id })?;
    let block = list.blocks.remove(at);
    list.version += 1;
    list.write(dir)?;
    Ok((block, list))
}

/// The audit log's record of a new block (`"action": "block"`, with what it hid).
pub(crate) fn audit_block(dir: &Path, view: &BlockView) -> Result<()> {
    audit(
        dir,
        &serde_json::json!({
            "at": view.at,
            "by": view.by,
            "action": "block",
            "block": view_without_hides(view),
            "hid": view.hides,
        }),
    )
}

/// The audit log's record of a lifted block (`"action": "unblock"`, with what it showed again).
pub(crate) fn audit_unblock(
    dir: &Path,
    view: &BlockView,
    by: &str,
    reason: Option<&str>,
) -> Result<()> {
    audit(
        dir,
        &serde_json::json!({
            "at": now(),
            "by": by.trim(),
            "action": "unblock",
            "reason": reason.map(str::trim).filter(|r| !r.is_empty()),
            "block": view_without_hides(view),
            "restored": view.hides,
        }),
    )
}

/// The audit log's record of new images a block hides as an index run adds them
/// (`"action": "blocked_on_arrival"`; `view.hides` holds the new ones only).
pub(crate) fn audit_arrival(dir: &Path, view: &BlockView, at: &str) -> Result<()> {
    audit(
        dir,
        &serde_json::json!({
            "at": at,
            "by": "vsearch index",
            "action": "blocked_on_arrival",
            "block": view_without_hides(view),
            "hid": view.hides,
        }),
    )
}

/// A block's view, given what it hides.
pub(crate) fn view_of(block: &Block, hides: Vec<HiddenImage>) -> BlockView {
    BlockView {
        id: block.id,
        by: block.by.clone(),
        at: block.at.clone(),
        reason: block.reason.clone(),
        example: block.example.clone(),
        reach: block.reach,
        hides,
    }
}

impl Collection {
    /// The blocks in force and what each hides in this state of the collection.
    pub fn blocks(&self) -> Vec<BlockView> {
        let state = self.block_state();
        state
            .list
            .blocks
            .iter()
            .zip(&state.hides)
            .map(|(b, ids)| self.view(b, ids))
            .collect()
    }

    /// Whether a block hides the image `id`.
    pub fn is_hidden(&self, id: u64) -> bool {
        self.block_state().hidden.contains(&id)
    }

    /// Number of images blocks hide.
    pub fn hidden_count(&self) -> usize {
        self.block_state().hidden.len()
    }

    fn view(&self, block: &Block, ids: &[u64]) -> BlockView {
        view_of(
            block,
            ids.iter()
                .map(|&id| HiddenImage {
                    id: ImageId::Number(id),
                    path: self
                        .images()
                        .get(id)
                        .map(|m| m.path.clone())
                        .unwrap_or_default(),
                })
                .collect(),
        )
    }

    /// Records a block (in `blocks.json` and the audit log) and returns it with the state of the
    /// collection that applies it (this one is unchanged: serve the returned one). Blocks other
    /// processes made meanwhile are in the returned state too.
    pub fn add_block(&self, new: NewBlock) -> Result<(BlockView, Collection)> {
        new.checked()?;
        let (example, vector) = match &new.source {
            BlockSource::Id(id) => {
                let id = self.local_id(*id)?;
                let meta = self.known(id)?;
                let vector = self
                    .matrix()
                    .row(id)
                    .ok_or_else(|| self.matrix().missing_vector(id))?;
                let example = BlockExample {
                    id: Some(ImageId::Number(id)),
                    path: Some(meta.path.clone()),
                    hash: self
                        .content_hash(id)
                        .filter(|h| !h.is_empty())
                        .map(str::to_string),
                };
                (example, vector)
            }
            BlockSource::Image { bytes, name } => {
                let hash = blake3::hash(bytes).to_hex().to_string();
                let vector = self.embed_image(bytes, None)?;
                // The file may be an indexed image: then it is that id.
                let id = self.with_hash(&hash)?.first().copied().map(ImageId::Number);
                let example = BlockExample {
                    id,
                    path: name.clone(),
                    hash: Some(hash),
                };
                (example, vector)
            }
        };
        let dir = self.dir().to_path_buf();
        let _lock = layout::lock_blocks(&dir)?;
        let (block, list) = append_block(&dir, &new, example, vector)?;
        let state = BlockState::compute(self, list)?;
        let ids = state.hides.last().cloned().unwrap_or_default();
        let view = self.view(&block, &ids);
        audit_block(&dir, &view)?;
        tracing::info!(
            "block {}: {} ({}) hides {} images",
            block.id,
            block.reach,
            block.reason,
            ids.len()
        );
        Ok((view, self.with_blocks(state)))
    }

    /// Lifts the block `block_id` (recorded in the audit log, with who, when and why) and returns it, with
    /// what it hid, and the state of the collection without it.
    pub fn remove_block(
        &self,
        block_id: u64,
        by: &str,
        reason: Option<&str>,
    ) -> Result<(BlockView, Collection)> {
        let dir = self.dir().to_path_buf();
        let _lock = layout::lock_blocks(&dir)?;
        let (block, list) = take_block(&dir, block_id, by)?;
        let view = self.view(&block, &reach_of(self, &block)?);
        let state = BlockState::compute(self, list)?;
        audit_unblock(&dir, &view, by, reason)?;
        tracing::info!("block {block_id} lifted by {by}");
        Ok((view, self.with_blocks(state)))
    }
}

/// A block's record for the audit log (what it hides goes beside it).
fn view_without_hides(view: &BlockView) -> serde_json::Value {
    serde_json::json!({
        "id": view.id,
        "by": view.by,
        "at": view.at,
        "reason": view.reason,
        "example": view.example,
        "reach": view.reach,
    })
}

/// After an index run: the images among `arrived` (new or re-embedded ids) that a block hides are logged
/// to the audit log (one line per block, `"action": "blocked_on_arrival"`); returns how many there are.
/// They are hidden whether or not this runs (hiding is computed from the blocks' vectors).
pub fn record_arrivals(coll: &Path, arrived: &[u64]) -> Result<usize> {
    if arrived.is_empty() || BlockList::read(coll)?.blocks.is_empty() {
        return Ok(0);
    }
    let collection = Collection::open_without_model(coll)?;
    let arrived: HashSet<u64> = arrived.iter().copied().collect();
    let state = collection.block_state();
    let _lock = layout::lock_blocks(coll)?;
    let at = now();
    let mut blocked = HashSet::new();
    for (block, ids) in state.list.blocks.iter().zip(&state.hides) {
        let new: Vec<u64> = ids
            .iter()
            .copied()
            .filter(|id| arrived.contains(id))
            .collect();
        if new.is_empty() {
            continue;
        }
        let view = collection.view(block, &new);
        audit_arrival(coll, &view, &at)?;
        tracing::info!(
            "block {} hides {} new images as they arrive",
            block.id,
            new.len()
        );
        blocked.extend(new);
    }
    Ok(blocked.len())
}

/// A block vsearch makes itself for an image that matched a hash bank
/// ([`crate::safety::hashbanks::block_matches`]): the image alone ([`Reach::Example`]).
pub(crate) struct MatchBlock {
    /// The image.
    pub example: BlockExample,
    /// Its vector.
    pub vector: Vec<f32>,
    /// Why (names the bank, its reason and the distance).
    pub reason: String,
    /// Who (`hash bank NAME`).
    pub by: String,
    /// What the audit log records of the match (bank, hashes, distance, the command that ran).
    pub record: serde_json::Value,
}

/// Records `blocks` (in `blocks.json`, under the blocks lock) and one audit-log line for each
/// (`"action": "hash_match"`, with the match); returns their block ids, in order.
pub(crate) fn record_match_blocks(dir: &Path, blocks: Vec<MatchBlock>) -> Result<Vec<u64>> {
    if blocks.is_empty() {
        return Ok(Vec::new());
    }
    let _lock = layout::lock_blocks(dir)?;
    let mut list = BlockList::read(dir)?;
    let at = now();
    let mut made = Vec::with_capacity(blocks.len());
    let mut records = Vec::with_capacity(blocks.len());
    for b in blocks {
        records.push(b.record);
        let mut vector = b.vector;
        vector::normalize(&mut vector);
        let block = Block {
            id: list.next_id,
            by: b.by,
            at: at.clone(),
            reason: b.reason,
            example: b.example,
            reach: Reach::Example,
            vector,
        };
        list.next_id += 1;
        made.push(block);
    }
    list.version += 1;
    list.blocks.extend(made.iter().cloned());
    list.write(dir)?;
    for (block, record) in made.iter().zip(records) {
        let hid: Vec<HiddenImage> = block
            .example
            .id
            .zip(block.example.path.clone())
            .map(|(id, path)| HiddenImage { id, path })
            .into_iter()
            .collect();
        tracing::info!("block {}: {}", block.id, block.reason);
        audit(
            dir,
            &serde_json::json!({
                "at": block.at,
                "by": block.by,
                "action": "hash_match",
                "block": {
                    "id": block.id,
                    "by": block.by,
                    "at": block.at,
                    "reason": block.reason,
                    "example": block.example,
                    "reach": block.reach,
                },
                "match": record,
                "hid": hid,
            }),
        )?;
    }
    Ok(made.iter().map(|b| b.id).collect())
}
