//! Duplicates and takedowns on a Qdrant collection: the same rules as a local collection's (written
//! once over the safety tools' view of either backend, `safety/image_set.rs`), with Qdrant answering the similarity questions and the records folder
//! ([`QdrantCollection::records_dir`]) holding what vsearch records.
//!
//! **Blocks.** The block list and the audit log are the same files as a local collection's
//! (`blocks.json`, `audit.jsonl`, the same lock), in the records folder. Hiding is a payload flag on
//! the hidden points ([`BLOCKED_KEY`], indexed, with the ids of the blocks behind it in
//! [`BLOCKED_BY_KEY`]) that every search, browse, facet and count filters on inside Qdrant, so `k`
//! results still come back and every server on the collection (every node of a cluster) sees a block
//! the moment it is written. A block's reach is found as a local one's: the example and the files with
//! its bytes (a payload match on `hash`), its copies (Qdrant's nearest neighbours of the example, then the
//! duplicate finder's verification on the pixels, images read through the indexed folder), or everything
//! within a cosine (Qdrant's exact search with a score threshold). An index run into Qdrant checks the
//! blocks again when it ends ([`check_arrivals`]): new points a block reaches are flagged and logged.
//!
//! **Duplicates.** Candidate pairs come from Qdrant's batch search (each image's nearest neighbours),
//! verification runs here, on the worker. The groups are stored in the records folder
//! ([`DUPLICATES_FILE`]) with a fingerprint of what they were computed from (the options and the ids
//! of the visible points, which change with any added, changed, removed or hidden image), so the page's
//! duplicates view loads them without recomputing until one of those changes.

use crate::qdrant::payload::{StoredImage, BLOCKED_BY_KEY, BLOCKED_KEY};
use crate::qdrant::{visible, Distance, QdrantCollection};
use crate::safety::blocks::{
    self, append_block, audit_arrival, audit_block, audit_unblock, reach_in, take_block, view_of,
    BlockExample, BlockList, BlockSource, BlockView, HiddenImage, NewBlock, Reach,
};
use crate::safety::dupes::{
    copies_in, duplicates_in, store_copy_groups, CopyView, DupesOptions, DuplicateGroup,
    Verification,
};
use crate::safety::hashbanks::{self, BlockedMatch};
use crate::safety::image_set::{ImageSet, Neighbours};
use crate::types::error::{EngineError, Result};
use crate::types::image_id::ImageId;
use crate::types::layout;
use crate::types::metadata::ImageMeta;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use vsearch_qdrant::point_uuid;
use vsearch_qdrant::proto::{self, QueryPointsBuilder, SearchParamsBuilder};

/// The stored duplicate groups of a Qdrant collection, in its records folder.
pub const DUPLICATES_FILE: &str = "duplicates.json";

/// Queries per batch call when gathering candidate pairs.
const BATCH: usize = 64;

impl ImageSet for QdrantCollection {
    type Id = uuid::Uuid;

    fn own_id(&self, id: ImageId) -> Option<uuid::Uuid> {
        match id {
            ImageId::Uuid(u) => Some(u),
            ImageId::Number(_) => None,
        }
    }
    fn contains(&self, id: uuid::Uuid) -> Result<bool> {
        Ok(self.store().existing(&[id])?.contains(&id))
    }
    fn visible_ids(&self) -> Result<Vec<uuid::Uuid>> {
        let mut ids = Vec::new();
        self.store()
            .scroll::<EngineError>(Some(visible(None)), &["hash"], None, |points| {
                ids.extend(
                    points
                        .iter()
                        .filter_map(|p| p.id.as_ref().and_then(point_uuid)),
                );
                Ok(())
            })?;
        ids.sort_unstable();
        Ok(ids)
    }
    fn content_hashes(&self) -> Result<HashMap<uuid::Uuid, String>> {
        let mut out = HashMap::new();
        self.store()
            .scroll::<EngineError>(None, &["hash"], None, |points| {
                for p in points {
                    let Some(id) = p.id.as_ref().and_then(point_uuid) else {
                        continue;
                    };
                    if let Some(h) = p.payload.get("hash").and_then(|v| v.as_str()) {
                        out.insert(id, h.to_string());
                    }
                }
                Ok(())
            })?;
        Ok(out)
    }
    fn pdq_hashes(&self) -> Result<HashMap<uuid::Uuid, crate::pdq::Pdq>> {
        let mut out = HashMap::new();
        self.store()
            .scroll::<EngineError>(None, &["pdq", "pdq_quality"], None, |points| {
                for p in points {
                    let Some(id) = p.id.as_ref().and_then(point_uuid) else {
                        continue;
                    };
                    let hash = p.payload.get("pdq").and_then(|v| v.as_str());
                    let quality = p.payload.get("pdq_quality").and_then(|v| v.as_integer());
                    if let Some(hash) = hash.and_then(|h| crate::pdq::PdqHash::from_hex(h).ok()) {
                        let quality = quality.and_then(|q| u8::try_from(q).ok()).unwrap_or(0);
                        out.insert(id, crate::pdq::Pdq { hash, quality });
                    }
                }
                Ok(())
            })?;
        Ok(out)
    }
    fn content_hash_of(&self, id: uuid::Uuid) -> Result<Option<String>> {
        let (image, _) = self.stored_any(id)?;
        Ok(Some(image.hash).filter(|h| !h.is_empty()))
    }
    fn with_hash(&self, hash: &str) -> Result<Vec<uuid::Uuid>> {
        let filter = proto::Filter::must([proto::Condition::matches("hash", hash.to_string())]);
        let mut ids = Vec::new();
        self.store()
            .scroll::<EngineError>(Some(filter), &["hash"], None, |points| {
                ids.extend(
                    points
                        .iter()
                        .filter_map(|p| p.id.as_ref().and_then(point_uuid)),
                );
                Ok(())
            })?;
        ids.sort_unstable();
        Ok(ids)
    }
    fn neighbours(
        &self,
        ids: &[uuid::Uuid],
        options: &DupesOptions,
    ) -> Result<Neighbours<uuid::Uuid>> {
        cosine_collection(self)?;
        let name = self.vector_spec().name.clone();
        let ef = (options.neighbours * 4).max(64) as u64;
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(BATCH) {
            let points = self.store().get(chunk, Some(&name))?;
            let vectors: HashMap<uuid::Uuid, Vec<f32>> = points
                .iter()
                .filter_map(|p| {
                    let id = p.id.as_ref().and_then(point_uuid)?;
                    Some((id, vsearch_qdrant::dense_vector(p, &name)?))
                })
                .collect();
            let mut requests = Vec::with_capacity(chunk.len());
            for id in chunk {
                let vector = vectors.get(id).cloned().ok_or(EngineError::UnknownImage {
                    id: ImageId::Uuid(*id),
                })?;
                requests.push(
                    QueryPointsBuilder::new(self.store().collection())
                        .query(vector)
                        .using(name.clone())
                        .limit(options.neighbours as u64 + 1)
                        .params(SearchParamsBuilder::default().hnsw_ef(ef))
                        .with_payload(false)
                        .build(),
                );
            }
            for (id, hits) in chunk.iter().zip(self.store().query_batch(requests)?) {
                out.push(
                    hits.into_iter()
                        .filter_map(|h| {
                            let other = h.id.as_ref().and_then(point_uuid)?;
                            (other != *id && h.score >= options.min_cosine)
                                .then_some((other, h.score))
                        })
                        .take(options.neighbours)
                        .collect(),
                );
            }
        }
        Ok(out)
    }
    fn within(&self, unit: &[f32], threshold: f32) -> Result<Vec<uuid::Uuid>> {
        cosine_collection(self)?;
        let limit = self.store().count(None)?.max(1);
        let request = QueryPointsBuilder::new(self.store().collection())
            .query(unit.to_vec())
            .using(self.vector_spec().name.clone())
            .limit(limit)
            .score_threshold(threshold)
            .params(SearchParamsBuilder::default().exact(true))
            .with_payload(false)
            .build();
        let mut ids: Vec<uuid::Uuid> = self
            .store()
            .query(request)?
            .into_iter()
            .filter_map(|p| p.id.as_ref().and_then(point_uuid))
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }
    fn image_bytes(&self, id: uuid::Uuid) -> Result<Vec<u8>> {
        let (image, _) = self.stored_any(id)?;
        let path = self
            .pixels("verifying copies on the pixels")?
            .join(&image.path);
        std::fs::read(&path).map_err(EngineError::io(&path))
    }
    fn metas(&self, ids: &[uuid::Uuid]) -> Result<HashMap<uuid::Uuid, ImageMeta>> {
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(1000) {
            for p in self.store().get(chunk, None)? {
                let Some(id) = p.id.as_ref().and_then(point_uuid) else {
                    continue;
                };
                let image = StoredImage::from_payload(&id.to_string(), &p.payload)?;
                out.insert(id, image.meta(id));
            }
        }
        Ok(out)
    }
    fn vector(&self, id: uuid::Uuid) -> Result<Vec<f32>> {
        self.stored_vector_any(id)
    }
}

/// Similarity thresholds are cosines: a collection of euclid vectors (a benchmark's) has none.
fn cosine_collection(collection: &QdrantCollection) -> Result<()> {
    match collection.vector_spec().distance {
        Distance::Cosine => Ok(()),
        Distance::Euclid => Err(EngineError::NotOnQdrant {
            what: "a similarity threshold on a collection of euclid vectors",
            instead: "index the folder with vsearch index --qdrant (cosine vectors)",
        }),
    }
}

/// The duplicate groups stored in the records folder, with what they were computed from.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredGroups {
    /// blake3 of the options and the ids of the visible points, hex.
    fingerprint: String,
    groups: Vec<DuplicateGroup>,
}

impl QdrantCollection {
    /// The indexed folder images are read from for `what`; an error saying how to give it when there is
    /// none.
    fn pixels(&self, what: &'static str) -> Result<&Path> {
        self.root().ok_or(EngineError::NotOnQdrant {
            what,
            instead: "give the indexed folder with --root DIR (the copies are verified on the images' pixels)",
        })
    }

    /// The records folder, created when absent; an error saying how to name one when there is none.
    pub(crate) fn records(&self) -> Result<PathBuf> {
        let dir = self.records_dir().ok_or(EngineError::NotOnQdrant {
            what: "keeping blocks, their audit log and duplicate groups without a records folder",
            instead: "give the indexed folder with --root DIR (records in ROOT/.vsearch/qdrant/COLLECTION) or a records folder with --state DIR",
        })?;
        std::fs::create_dir_all(dir).map_err(EngineError::io(dir))?;
        Ok(dir.to_path_buf())
    }

    /// Groups of copies among the images no block hides (see [`crate::safety::dupes`]): the groups
    /// stored in the records folder when they were computed from the same visible points and options,
    /// else computed now (candidates from Qdrant's batch search, verification here) and stored.
    pub fn duplicates(&self, options: &DupesOptions) -> Result<Vec<DuplicateGroup>> {
        options.validate()?;
        // Thumbnails, and PDQ then thumbnails for the pairs PDQ does not settle, read the pixels.
        if matches!(
            options.verification,
            Verification::Thumbnails | Verification::Both
        ) {
            self.pixels("verifying copies on the pixels")?;
        }
        let ids = self.visible_ids()?;
        let mut hasher = blake3::Hasher::new();
        hasher.update(format!("{options:?}\n").as_bytes());
        for id in &ids {
            hasher.update(id.as_bytes());
        }
        let fingerprint = hasher.finalize().to_hex().to_string();
        let stored_at = self.records_dir().map(|d| d.join(DUPLICATES_FILE));
        if let Some(path) = &stored_at {
            if let Ok(bytes) = std::fs::read(path) {
                match serde_json::from_slice::<StoredGroups>(&bytes) {
                    Ok(stored) if stored.fingerprint == fingerprint => {
                        if let Some(dir) = self.records_dir() {
                            if !dir.join(crate::ranking::COPY_GROUPS_FILE).exists() {
                                store_copy_groups(self, &stored.groups, options, dir);
                            }
                        }
                        return Ok(stored.groups);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(
                        "{}: cannot be read ({e}); the groups are computed again",
                        path.display()
                    ),
                }
            }
        }
        let groups = duplicates_in(self, options)?;
        if stored_at.is_some() {
            let path = self.records()?.join(DUPLICATES_FILE);
            let bytes = serde_json::to_vec(&StoredGroups {
                fingerprint,
                groups: groups.clone(),
            })
            .map_err(|e| EngineError::BadQuery {
                reason: format!("cannot write the duplicate groups: {e}"),
            })?;
            vsearch_core::durable::write_atomic(&path, &bytes).map_err(EngineError::io(&path))?;
            store_copy_groups(self, &groups, options, &self.records()?);
        }
        Ok(groups)
    }

    /// The points blocks hide now, with the ids of the blocks behind each and its path.
    fn hidden_points(&self) -> Result<BTreeMap<uuid::Uuid, (BTreeSet<u64>, String)>> {
        let filter = proto::Filter::must([proto::Condition::matches(BLOCKED_KEY, true)]);
        let mut out = BTreeMap::new();
        self.store().scroll::<EngineError>(
            Some(filter),
            &[BLOCKED_BY_KEY, "path"],
            None,
            |points| {
                for p in points {
                    let Some(id) = p.id.as_ref().and_then(point_uuid) else {
                        continue;
                    };
                    let json = serde_json::to_value(&p.payload).unwrap_or_default();
                    let by: BTreeSet<u64> = json[BLOCKED_BY_KEY]
                        .as_array()
                        .map(|a| a.iter().filter_map(|v| v.as_u64()).collect())
                        .unwrap_or_default();
                    let path = json["path"].as_str().unwrap_or_default().to_string();
                    out.insert(id, (by, path));
                }
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// The verified copies of the image `id` (the duplicate finder's verification at the default
    /// options, as a local collection's [`crate::safety::dupes::copies_with_cosine`]), with their
    /// embedding cosine to it, closest first: for the review queue.
    pub fn copies(&self, id: ImageId) -> Result<Vec<CopyView>> {
        let own = self.own_id(id).ok_or(EngineError::UnknownImage { id })?;
        let found = copies_in(self, own, &DupesOptions::default())?;
        let name = self.vector_spec().name.clone();
        let mut ids = found.clone();
        ids.push(own);
        let vectors: HashMap<uuid::Uuid, Vec<f32>> = self
            .store()
            .get(&ids, Some(&name))?
            .iter()
            .filter_map(|p| {
                let id = p.id.as_ref().and_then(point_uuid)?;
                Some((id, vsearch_qdrant::dense_vector(p, &name)?))
            })
            .collect();
        let own_vector = vectors.get(&own).ok_or(EngineError::UnknownImage { id })?;
        let metas = self.metas(&found)?;
        let mut out: Vec<CopyView> = found
            .into_iter()
            .map(|other| CopyView {
                id: ImageId::Uuid(other),
                path: metas
                    .get(&other)
                    .map(|m| m.path.clone())
                    .unwrap_or_default(),
                cosine: vectors
                    .get(&other)
                    .map(|v| vsearch_core::vector::dot(own_vector, v))
                    .unwrap_or(0.0),
            })
            .collect();
        out.sort_by(|a, b| b.cosine.total_cmp(&a.cosine));
        Ok(out)
    }

    /// Number of points blocks hide.
    pub fn hidden_count(&self) -> Result<usize> {
        let filter = proto::Filter::must([proto::Condition::matches(BLOCKED_KEY, true)]);
        Ok(self.store().count(Some(filter))? as usize)
    }

    /// Sets the takedown flags of `points` to the blocks given (none: shown again); points with the same
    /// blocks are written in one call.
    fn flag(&self, points: BTreeMap<uuid::Uuid, BTreeSet<u64>>) -> Result<()> {
        let mut by_blocks: BTreeMap<BTreeSet<u64>, Vec<uuid::Uuid>> = BTreeMap::new();
        for (id, blocks) in points {
            by_blocks.entry(blocks).or_default().push(id);
        }
        for (blocks, ids) in by_blocks {
            let mut payload = serde_json::Map::new();
            payload.insert(BLOCKED_KEY.into(), (!blocks.is_empty()).into());
            payload.insert(
                BLOCKED_BY_KEY.into(),
                blocks.into_iter().collect::<Vec<u64>>().into(),
            );
            for chunk in ids.chunks(1000) {
                self.store().set_payload(chunk, payload.clone())?;
            }
        }
        Ok(())
    }

    /// The blocks in force (from the records folder) and what each hides (from the payload flags).
    pub fn blocks(&self) -> Result<Vec<BlockView>> {
        let Some(dir) = self.records_dir() else {
            return Ok(Vec::new());
        };
        let list = BlockList::read(dir)?;
        if list.blocks.is_empty() {
            return Ok(Vec::new());
        }
        let hidden = self.hidden_points()?;
        Ok(list
            .blocks
            .iter()
            .map(|b| {
                view_of(
                    b,
                    hidden
                        .iter()
                        .filter(|(_, (by, _))| by.contains(&b.id))
                        .map(|(id, (_, path))| HiddenImage {
                            id: ImageId::Uuid(*id),
                            path: path.clone(),
                        })
                        .collect(),
                )
            })
            .collect())
    }

    /// The view of `block` hiding `ids`.
    fn view(&self, block: &blocks::Block, ids: &[uuid::Uuid]) -> Result<BlockView> {
        let metas = self.metas(ids)?;
        Ok(view_of(
            block,
            ids.iter()
                .map(|id| HiddenImage {
                    id: ImageId::Uuid(*id),
                    path: metas.get(id).map(|m| m.path.clone()).unwrap_or_default(),
                })
                .collect(),
        ))
    }

    /// Records a block (in the records folder's `blocks.json` and audit log) and flags what it reaches
    /// in Qdrant; hidden from every server at once. Returns the block with what it hides.
    pub fn add_block(&self, new: NewBlock) -> Result<BlockView> {
        new.checked()?;
        let (example, vector) = match &new.source {
            BlockSource::Id(id) => {
                let uuid = self
                    .own_id(*id)
                    .ok_or(EngineError::UnknownImage { id: *id })?;
                let (image, _) = self.stored_any(uuid)?;
                let vector = self.stored_vector_any(uuid)?;
                let example = BlockExample {
                    id: Some(*id),
                    path: Some(image.path),
                    hash: Some(image.hash).filter(|h| !h.is_empty()),
                };
                (example, vector)
            }
            BlockSource::Image { bytes, name } => {
                let hash = blake3::hash(bytes).to_hex().to_string();
                let vector = crate::search::query_vector::embed_image(
                    self.embedder("a block made from an image file")?,
                    bytes,
                    None,
                )?;
                let id = self.with_hash(&hash)?.first().copied().map(ImageId::Uuid);
                let example = BlockExample {
                    id,
                    path: name.clone(),
                    hash: Some(hash),
                };
                (example, vector)
            }
        };
        if new.reach == Reach::Copies {
            self.pixels("blocking an image's copies")?;
        }
        let dir = self.records()?;
        // Collections made before blocks existed lack the flag's index (a no-op when it is there).
        self.store().create_payload_index(BLOCKED_KEY, "bool")?;
        let _lock = layout::lock_blocks(&dir)?;
        let (block, _) = append_block(&dir, &new, example, vector)?;
        let ids = reach_in(self, &block)?;
        let hidden = self.hidden_points()?;
        let flags = ids
            .iter()
            .map(|id| {
                let mut by = hidden.get(id).map(|(b, _)| b.clone()).unwrap_or_default();
                by.insert(block.id);
                (*id, by)
            })
            .collect();
        self.flag(flags)?;
        let view = self.view(&block, &ids)?;
        audit_block(&dir, &view)?;
        tracing::info!(
            "block {}: {} ({}) hides {} images",
            block.id,
            block.reach,
            block.reason,
            ids.len()
        );
        Ok(view)
    }

    /// Lifts the block `block_id`: the points it hid that no other block hides are shown again. Returns
    /// it with what it hid.
    pub fn remove_block(&self, block_id: u64, by: &str, reason: Option<&str>) -> Result<BlockView> {
        let dir = self.records()?;
        let _lock = layout::lock_blocks(&dir)?;
        let (block, _) = take_block(&dir, block_id, by)?;
        let hidden = self.hidden_points()?;
        let mut ids = Vec::new();
        let mut flags = BTreeMap::new();
        for (id, (blocks, _)) in hidden {
            if blocks.contains(&block_id) {
                let mut rest = blocks;
                rest.remove(&block_id);
                flags.insert(id, rest);
                ids.push(id);
            }
        }
        self.flag(flags)?;
        let view = self.view(&block, &ids)?;
        audit_unblock(&dir, &view, by, reason)?;
        tracing::info!("block {block_id} lifted by {by}");
        Ok(view)
    }

    /// Brings the takedown flags in line with the blocks in force: each block's reach found again, points
    /// flagged or shown again where they differ. Returns, per block, the points it newly hides.
    fn reconcile(&self, dir: &Path) -> Result<Vec<(blocks::Block, Vec<uuid::Uuid>)>> {
        let list = BlockList::read(dir)?;
        let hidden = self.hidden_points()?;
        let mut wanted: BTreeMap<uuid::Uuid, BTreeSet<u64>> = BTreeMap::new();
        let mut added = Vec::new();
        for block in &list.blocks {
            let ids = reach_in(self, block)?;
            let new: Vec<uuid::Uuid> = ids
                .iter()
                .copied()
                .filter(|id| !hidden.get(id).is_some_and(|(b, _)| b.contains(&block.id)))
                .collect();
            for id in ids {
                wanted.entry(id).or_default().insert(block.id);
            }
            if !new.is_empty() {
                added.push((block.clone(), new));
            }
        }
        let mut changes: BTreeMap<uuid::Uuid, BTreeSet<u64>> = BTreeMap::new();
        for (id, (blocks, _)) in &hidden {
            if wanted.get(id) != Some(blocks) {
                changes.insert(*id, wanted.get(id).cloned().unwrap_or_default());
            }
        }
        for (id, blocks) in &wanted {
            if !hidden.contains_key(id) {
                changes.insert(*id, blocks.clone());
            }
        }
        self.flag(changes)?;
        Ok(added)
    }
}

impl QdrantCollection {
    /// Matches the points `ids` (all of them when `None`) against the hash banks of the records folder
    /// and blocks each matching point not hidden already, as a local collection's
    /// ([`crate::safety::hashbanks`]): a block of the point alone each, logged (`"action":
    /// "hash_match"`), and its points flagged; `by` says who runs it (`vsearch index`, `vsearch hashes
    /// scan`). Returns the images blocked.
    pub fn block_bank_matches(
        &self,
        ids: Option<&[uuid::Uuid]>,
        by: &str,
    ) -> Result<Vec<BlockedMatch>> {
        let Some(dir) = self.records_dir().map(Path::to_path_buf) else {
            return Ok(Vec::new());
        };
        if !hashbanks::HashBanks::exist(&dir) {
            return Ok(Vec::new());
        }
        let pdq = self.pdq_hashes()?;
        let (found, matcher) = hashbanks::find_matches(&dir, &pdq, ids)?;
        let Some(matcher) = matcher.filter(|_| !found.is_empty()) else {
            return Ok(Vec::new());
        };
        let blocked = hashbanks::block_found(self, &dir, &matcher, found, &pdq, by)?;
        if blocked.is_empty() {
            return Ok(Vec::new());
        }
        self.store().create_payload_index(BLOCKED_KEY, "bool")?;
        let _lock = layout::lock_blocks(&dir)?;
        let made: BTreeSet<u64> = blocked.iter().map(|(_, m)| m.block).collect();
        let list = BlockList::read(&dir)?;
        let mut hidden: BTreeMap<uuid::Uuid, BTreeSet<u64>> = self
            .hidden_points()?
            .into_iter()
            .map(|(id, (by, _))| (id, by))
            .collect();
        let mut flags = BTreeMap::new();
        for block in list.blocks.iter().filter(|b| made.contains(&b.id)) {
            for id in reach_in(self, block)? {
                let by = hidden.entry(id).or_default();
                by.insert(block.id);
                flags.insert(id, by.clone());
            }
        }
        self.flag(flags)?;
        Ok(blocked.into_iter().map(|(_, m)| m).collect())
    }

    /// The PDQ hashes of the points the blocks hide (the collection's takedowns, to share without the
    /// images), tagged `vsearch-takedown` (see [`hashbanks::own_takedowns`]).
    pub fn takedown_hashes(&self) -> Result<Vec<hashbanks::ListedHash>> {
        let hidden: Vec<uuid::Uuid> = self.hidden_points()?.into_keys().collect();
        Ok(hashbanks::takedown_list(&hidden, &self.pdq_hashes()?))
    }
}

/// After an index run into Qdrant: the blocks of the records folder `dir` are applied again (new and
/// rewritten points carry no flag until then), and the points they newly hide are logged to the audit
/// log (`"action": "blocked_on_arrival"`, one line per block). Returns how many there are.
pub fn check_arrivals(collection: &QdrantCollection, dir: &Path) -> Result<usize> {
    if BlockList::read(dir)?.blocks.is_empty() {
        return Ok(0);
    }
    collection
        .store()
        .create_payload_index(BLOCKED_KEY, "bool")?;
    let _lock = layout::lock_blocks(dir)?;
    let at = blocks::now();
    let mut count = BTreeSet::new();
    for (block, new) in collection.reconcile(dir)? {
        let view = collection.view(&block, &new)?;
        audit_arrival(dir, &view, &at)?;
        tracing::info!(
            "block {} hides {} new images as they arrive",
            block.id,
            new.len()
        );
        count.extend(new);
    }
    Ok(count.len())
}
