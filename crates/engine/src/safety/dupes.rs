//! Duplicate groups: exact copies (the same content hash) and near copies (the same picture edited:
//! re-encoded, resized, cropped, flipped, captioned), grouped so a user can keep one of each.
//!
//! Near copies are found in two steps. **Candidates** come from the collection's index: each image's
//! nearest neighbours ([`DupesOptions::neighbours`]) whose embedding cosine is at least
//! [`DupesOptions::min_cosine`]. The global embedding alone cannot tell a copy from another photo of the
//! same object (with EfficientNet-Lite0 on ukbench-14, planted copies of one photo score as low as 0.73
//! against each other while different photos of one object score up to 0.91), so each candidate pair is
//! **verified** on the pixels: both images become small grayscale thumbnails, and the pair's score is the
//! best normalised cross-correlation between one image's whole thumbnail (and its mirror) and windows of
//! the other's (the whole image, and 90%, 80% and 70% windows at nine positions each), both ways round
//! ([`Signature`]). Pairs scoring at least [`DupesOptions::threshold`] are copies; groups are the
//! connected components of copies (union-find), each ordered best copy first (most pixels, then the
//! oldest file, then the path, the same whichever backend holds the collection). The defaults were chosen by measurement (see the README:
//! `vsearch eval dupes`).

use crate::ranking::copies::{StoredCopies, StoredCopy};
use crate::safety::image_set::ImageSet;
use crate::safety::signature::Signature;
use crate::search::collection::Collection;
use crate::types::error::{EngineError, Result};
use crate::types::image_id::ImageId;
use crate::types::metadata::ImageMeta;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use vsearch_embed::image_io;

/// Default verification threshold (the thumbnail correlation a pair needs to be a copy), chosen on the
/// planted test set with `vsearch eval dupes` (README, "Duplicates").
pub const DEFAULT_THRESHOLD: f32 = 0.86;
/// Default embedding cosine a neighbour needs to be a candidate. Planted copies scored 0.73 or more with
/// EfficientNet-Lite0; 0.6 leaves a margin and still drops most unrelated images before decoding them.
pub const DEFAULT_MIN_COSINE: f32 = 0.6;
/// Default nearest neighbours of each image considered as candidates.
pub const DEFAULT_NEIGHBOURS: usize = 10;

/// How candidate pairs are verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verification {
    /// Flip- and crop-aware correlation of grayscale thumbnails.
    Thumbnails,
    /// No verification: the pair's score is its embedding cosine (the baseline the measurement compares
    /// against; it groups photos of the same object).
    Cosine,
    /// The images' PDQ hashes, stored at index time (nothing is decoded): the score is
    /// `1 - distance / 256`, so [`PDQ_THRESHOLD`] is PDQ's match distance of 31 bits. Pairs where an
    /// image has no hash or one of quality under [`crate::pdq::MIN_QUALITY`] score nothing. PDQ does not
    /// see flips or crops of a fifth of the picture as copies.
    Pdq,
    /// PDQ first: a pair within PDQ's match distance (both hashes of good quality) is a copy (score 1)
    /// without decoding; the other pairs are verified by thumbnails (the default: on the planted set, the
    /// same precision and recall as thumbnails alone, 1.0 and 1.0, for less than half the verification
    /// time, as PDQ confirms half the copies from the hashes stored at index time; README, "Duplicates").
    #[default]
    Both,
}

/// The [`Verification::Pdq`] score of PDQ's match distance ([`crate::pdq::MATCH_DISTANCE`] bits).
pub const PDQ_THRESHOLD: f32 = 1.0 - crate::pdq::MATCH_DISTANCE as f32 / 256.0;

/// The [`Verification::Pdq`] score of two hashes, `None` when either is of low quality.
fn pdq_score(x: &crate::pdq::Pdq, y: &crate::pdq::Pdq) -> Option<f32> {
    (x.quality >= crate::pdq::MIN_QUALITY && y.quality >= crate::pdq::MIN_QUALITY)
        .then(|| 1.0 - x.hash.distance(&y.hash) as f32 / 256.0)
}

/// Options of [`Collection::duplicates`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DupesOptions {
    /// Score a verified pair needs to be a copy ([`DEFAULT_THRESHOLD`] for thumbnails).
    pub threshold: f32,
    /// Embedding cosine a neighbour needs to be a candidate.
    pub min_cosine: f32,
    /// Nearest neighbours of each image considered.
    pub neighbours: usize,
    /// How candidates are verified.
    pub verification: Verification,
}

impl Default for DupesOptions {
    /// [`DEFAULT_THRESHOLD`], [`DEFAULT_MIN_COSINE`], [`DEFAULT_NEIGHBOURS`], PDQ then thumbnails.
    fn default() -> Self {
        Self {
            threshold: DEFAULT_THRESHOLD,
            min_cosine: DEFAULT_MIN_COSINE,
            neighbours: DEFAULT_NEIGHBOURS,
            verification: Verification::Both,
        }
    }
}

impl DupesOptions {
    /// Checks the options are usable.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: String| Err(EngineError::BadQuery { reason });
        if !self.threshold.is_finite() || !(-1.0..=1.0).contains(&self.threshold) {
            return bad(format!(
                "the duplicate threshold must lie between -1 and 1, not {}",
                self.threshold
            ));
        }
        if !self.min_cosine.is_finite() || !(-1.0..=1.0).contains(&self.min_cosine) {
            return bad(format!(
                "the candidate cosine must lie between -1 and 1, not {}",
                self.min_cosine
            ));
        }
        if self.neighbours == 0 || self.neighbours > 1000 {
            return bad(format!(
                "the neighbours per image must be 1 to 1000, not {}",
                self.neighbours
            ));
        }
        Ok(())
    }
}

/// A candidate pair and its scores (`Id`: how the collection names images; a local id by default).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoredPair<Id = u64> {
    /// The smaller id.
    pub a: Id,
    /// The larger id.
    pub b: Id,
    /// Embedding cosine.
    pub cosine: f32,
    /// Verification score (1 for exact copies; the cosine under [`Verification::Cosine`]).
    pub score: f32,
    /// Whether both files have the same content hash.
    pub exact: bool,
}

/// One image of a [`DuplicateGroup`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DuplicateImage {
    /// Image id (a number in a local collection, a UUID in a Qdrant collection).
    pub id: ImageId,
    /// Path relative to the indexed folder.
    pub path: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// File size in bytes.
    pub bytes: u64,
    /// Modification time, RFC 3339.
    pub mtime: String,
    /// Whether this is the copy to keep (the first of its group).
    pub keep: bool,
    /// Score of the image against the kept one (1 for the kept one and exact copies of it; `None` when
    /// the two were grouped through other copies rather than compared directly).
    pub score: Option<f32>,
}

/// A group of copies of one picture, best copy first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DuplicateGroup {
    /// Whether every image of the group has the same content (byte-identical files).
    pub exact: bool,
    /// The images: most pixels first, then the oldest file, then the path.
    pub images: Vec<DuplicateImage>,
}

impl Collection {
    /// Groups of copies among the served images (see the [module](self)); groups ordered by their kept
    /// image's path.
    pub fn duplicates(&self, options: &DupesOptions) -> Result<Vec<DuplicateGroup>> {
        let groups = duplicates_in(self, options)?;
        store_copy_groups(self, &groups, options, self.dir());
        Ok(groups)
    }

    /// Every candidate pair with its scores (exact copies included, whatever their cosine), before the
    /// threshold: what [`Collection::duplicates`] cuts, and what an evaluation sweeps.
    pub fn duplicate_pairs(&self, options: &DupesOptions) -> Result<Vec<ScoredPair>> {
        duplicate_pairs_in(self, options)
    }
}

/// Groups of copies among the images of `set` no block hides (see the [module](self)), ordered by
/// their kept image's path.
pub(crate) fn duplicates_in<S: ImageSet>(
    set: &S,
    options: &DupesOptions,
) -> Result<Vec<DuplicateGroup>> {
    let pairs = duplicate_pairs_in(set, options)?;
    let copies: Vec<ScoredPair<S::Id>> = pairs
        .into_iter()
        .filter(|p| p.exact || p.score >= options.threshold)
        .collect();
    group(set, &copies)
}

/// Stores `groups` in `dir` for the ranking stage's collapse ([`crate::ranking::copies`]), each member
/// with its content hash, when they were found at the default options (other options are the user's
/// experiment, not what a copy is). A failure to write is logged: the groups were found all the same.
pub(crate) fn store_copy_groups<S: ImageSet>(
    set: &S,
    groups: &[DuplicateGroup],
    options: &DupesOptions,
    dir: &std::path::Path,
) {
    if *options != DupesOptions::default() {
        return;
    }
    let stored = set.content_hashes().map(|hashes| StoredCopies {
        groups: groups
            .iter()
            .map(|g| {
                g.images
                    .iter()
                    .filter_map(|image| {
                        let hash = hashes.get(&set.own_id(image.id)?)?;
                        Some(StoredCopy {
                            id: image.id,
                            hash: hash.clone(),
                        })
                    })
                    .collect()
            })
            .collect(),
    });
    if let Err(e) = stored.and_then(|s| s.write(dir)) {
        tracing::warn!(
            "duplicates: the groups cannot be stored for collapsing search results ({e}); \
             results are collapsed by content and PDQ hashes only"
        );
    }
}

/// Every candidate pair of `set` with its scores (see [`Collection::duplicate_pairs`]).
pub(crate) fn duplicate_pairs_in<S: ImageSet>(
    set: &S,
    options: &DupesOptions,
) -> Result<Vec<ScoredPair<S::Id>>> {
    options.validate()?;
    let hashes = set.content_hashes()?;
    // Images a takedown hides are not listed.
    let ids = set.visible_ids()?;
    let mut candidates: BTreeMap<(S::Id, S::Id), f32> = BTreeMap::new();
    // Exact copies by hash.
    let mut by_hash: HashMap<&str, Vec<S::Id>> = HashMap::new();
    for id in &ids {
        if let Some(h) = hashes.get(id).filter(|h| !h.is_empty()) {
            by_hash.entry(h.as_str()).or_default().push(*id);
        }
    }
    for group in by_hash.values() {
        for (i, &a) in group.iter().enumerate() {
            for &b in &group[i + 1..] {
                candidates.insert((a.min(b), a.max(b)), 1.0);
            }
        }
    }
    // Near copies: neighbours in the index.
    let neighbours = set.neighbours(&ids, options)?;
    for (&id, list) in ids.iter().zip(&neighbours) {
        for &(other, cosine) in list {
            candidates
                .entry((id.min(other), id.max(other)))
                .or_insert(cosine);
        }
    }
    let same = |a: S::Id, b: S::Id| match (hashes.get(&a), hashes.get(&b)) {
        (Some(x), Some(y)) => !x.is_empty() && x == y,
        _ => false,
    };
    let pdq = match options.verification {
        Verification::Pdq | Verification::Both => set.pdq_hashes()?,
        Verification::Cosine | Verification::Thumbnails => HashMap::new(),
    };
    let pdq_of = |a: S::Id, b: S::Id| pdq_score(pdq.get(&a)?, pdq.get(&b)?);
    let signatures = match options.verification {
        Verification::Cosine | Verification::Pdq => HashMap::new(),
        Verification::Thumbnails | Verification::Both => {
            let mut wanted: Vec<S::Id> = candidates
                .keys()
                .filter(|(a, b)| !same(*a, *b))
                .filter(|(a, b)| {
                    options.verification != Verification::Both
                        || pdq_of(*a, *b).is_none_or(|s| s < PDQ_THRESHOLD)
                })
                .flat_map(|&(a, b)| [a, b])
                .collect();
            wanted.sort_unstable();
            wanted.dedup();
            signatures(set, &wanted)
        }
    };
    let thumbnails = |a: S::Id, b: S::Id| match (signatures.get(&a), signatures.get(&b)) {
        (Some(x), Some(y)) => x.similarity(y),
        // An image that cannot be read now is not called a copy.
        _ => f32::NEG_INFINITY,
    };
    let mut out = Vec::with_capacity(candidates.len());
    for ((a, b), cosine) in candidates {
        let exact = same(a, b);
        let score = if exact {
            1.0
        } else {
            match options.verification {
                Verification::Cosine => cosine,
                Verification::Thumbnails => thumbnails(a, b),
                Verification::Pdq => pdq_of(a, b).unwrap_or(f32::NEG_INFINITY),
                Verification::Both => match pdq_of(a, b) {
                    Some(s) if s >= PDQ_THRESHOLD => 1.0,
                    _ => thumbnails(a, b),
                },
            }
        };
        out.push(ScoredPair {
            a,
            b,
            cosine,
            score,
            exact,
        });
    }
    Ok(out)
}

/// Thumbnail signatures of `ids`, computed in parallel; unreadable images are left out (logged).
fn signatures<S: ImageSet>(set: &S, ids: &[S::Id]) -> HashMap<S::Id, Signature> {
    ids.par_iter()
        .filter_map(|&id| {
            let made = set
                .image_bytes(id)
                .and_then(|bytes| {
                    Ok(image_io::decode_sized(
                        &bytes,
                        image_io::DEFAULT_MAX_PIXELS,
                        crate::safety::signature::DECODE_SIZE,
                    )?)
                })
                .map(|decoded| Signature::new(&decoded.image));
            match made {
                Ok(s) => Some((id, s)),
                Err(e) => {
                    tracing::warn!("duplicates: image {} cannot be read: {e}", id.into());
                    None
                }
            }
        })
        .collect()
}

/// Union-find over `copies`; each group ordered best first.
fn group<S: ImageSet>(set: &S, copies: &[ScoredPair<S::Id>]) -> Result<Vec<DuplicateGroup>> {
    let mut parent: HashMap<S::Id, S::Id> = HashMap::new();
    fn find<K: Copy + Eq + std::hash::Hash>(parent: &mut HashMap<K, K>, x: K) -> K {
        let mut root = x;
        while let Some(&p) = parent.get(&root) {
            if p == root {
                break;
            }
            root = p;
        }
        // Path compression.
        let mut at = x;
        while at != root {
            let next = parent.get(&at).copied().unwrap_or(root);
            parent.insert(at, root);
            at = next;
        }
        root
    }
    for p in copies {
        parent.entry(p.a).or_insert(p.a);
        parent.entry(p.b).or_insert(p.b);
        let (ra, rb) = (find(&mut parent, p.a), find(&mut parent, p.b));
        if ra != rb {
            parent.insert(ra.max(rb), ra.min(rb));
        }
    }
    let mut members: BTreeMap<S::Id, Vec<S::Id>> = BTreeMap::new();
    let keys: Vec<S::Id> = parent.keys().copied().collect();
    for id in &keys {
        let root = find(&mut parent, *id);
        members.entry(root).or_default().push(*id);
    }
    let metas = set.metas(&keys)?;
    type Pair<Id> = (Id, Id);
    let scores: HashMap<Pair<S::Id>, &ScoredPair<S::Id>> =
        copies.iter().map(|p| ((p.a, p.b), p)).collect();
    let mut groups: Vec<DuplicateGroup> = members
        .into_values()
        .filter_map(|ids| {
            let mut members: Vec<(S::Id, &ImageMeta)> = ids
                .iter()
                .filter_map(|&id| Some((id, metas.get(&id)?)))
                .collect();
            if members.len() < 2 {
                return None;
            }
            members.sort_by(|x, y| best_first(x.1, y.1).then(x.0.cmp(&y.0)));
            let keep = members[0].0;
            let pair = |id: S::Id| scores.get(&(keep.min(id), keep.max(id))).copied();
            let exact = members[1..]
                .iter()
                .all(|(id, _)| pair(*id).is_some_and(|p| p.exact));
            let images = members
                .iter()
                .map(|&(id, m)| DuplicateImage {
                    id: id.into(),
                    path: m.path.clone(),
                    width: m.width,
                    height: m.height,
                    bytes: m.bytes,
                    mtime: m.mtime.clone(),
                    keep: id == keep,
                    score: if id == keep {
                        Some(1.0)
                    } else {
                        pair(id).map(|p| p.score)
                    },
                })
                .collect();
            Some(DuplicateGroup { exact, images })
        })
        .collect();
    groups.sort_by(|x, y| x.images[0].path.cmp(&y.images[0].path));
    Ok(groups)
}

/// The order of a group: most pixels first, then the oldest modification time, then the path (then
/// the caller's id).
fn best_first(x: &ImageMeta, y: &ImageMeta) -> std::cmp::Ordering {
    let pixels = |m: &ImageMeta| u64::from(m.width) * u64::from(m.height);
    let mtime = |m: &ImageMeta| m.mtime.parse::<jiff::Timestamp>().ok();
    pixels(y)
        .cmp(&pixels(x))
        .then_with(|| match (mtime(x), mtime(y)) {
            (Some(a), Some(b)) => a.cmp(&b),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        })
        .then_with(|| x.path.cmp(&y.path))
}

/// A verified copy of an indexed image, for a reviewer: its path and its embedding cosine to the image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CopyView {
    pub id: crate::types::image_id::ImageId,
    /// Path relative to the indexed folder.
    pub path: String,
    /// Embedding cosine to the image.
    pub cosine: f32,
}

/// The verified copies of the indexed image `id` ([`copies_of`]: the same content, or re-encoded,
/// resized, cropped, flipped versions), closest first.
pub fn copies_with_cosine(collection: &Collection, id: u64) -> Result<Vec<CopyView>> {
    let own = collection.stored_vector(id)?;
    let mut out = Vec::new();
    for other in copies_of(collection, id)? {
        let vector = collection.stored_vector(other)?;
        out.push(CopyView {
            id: other.into(),
            path: collection
                .images()
                .get(other)
                .map(|m| m.path.clone())
                .unwrap_or_default(),
            cosine: vsearch_core::vector::dot(&own, &vector),
        });
    }
    out.sort_by(|a, b| b.cosine.total_cmp(&a.cosine));
    Ok(out)
}

/// The verified copies of one indexed image: the images with the same content, and its candidate
/// neighbours that pass verification at the default options ([`DupesOptions::default`]); ids ascending.
/// Copies of copies are not followed (see [`Collection::duplicates`] for groups).
pub fn copies_of(collection: &Collection, id: u64) -> Result<Vec<u64>> {
    copies_of_with(collection, id, &DupesOptions::default())
}

/// [`copies_of`] with other options.
pub fn copies_of_with(
    collection: &Collection,
    id: u64,
    options: &DupesOptions,
) -> Result<Vec<u64>> {
    copies_in(collection, id, options)
}

/// The verified copies of the image `id` of `set` (see [`copies_of`]).
pub(crate) fn copies_in<S: ImageSet>(
    set: &S,
    id: S::Id,
    options: &DupesOptions,
) -> Result<Vec<S::Id>> {
    options.validate()?;
    if !set.contains(id)? {
        return Err(EngineError::UnknownImage { id: id.into() });
    }
    let mut out: Vec<S::Id> = match set.content_hash_of(id)? {
        Some(h) => set
            .with_hash(&h)?
            .into_iter()
            .filter(|&other| other != id)
            .collect(),
        None => Vec::new(),
    };
    let neighbours: Vec<(S::Id, f32)> = set
        .neighbours(&[id], options)?
        .into_iter()
        .flatten()
        .filter(|(other, _)| !out.contains(other))
        .collect();
    match options.verification {
        Verification::Cosine => out.extend(
            neighbours
                .iter()
                .filter(|(_, c)| *c >= options.threshold)
                .map(|(o, _)| *o),
        ),
        Verification::Pdq | Verification::Both if !neighbours.is_empty() => {
            let pdq = set.pdq_hashes()?;
            let score = |o: S::Id| pdq_score(pdq.get(&id)?, pdq.get(&o)?);
            let cut = if options.verification == Verification::Pdq {
                options.threshold
            } else {
                PDQ_THRESHOLD
            };
            let confirmed = |o: S::Id| score(o).is_some_and(|s| s >= cut);
            let rest: Vec<(S::Id, f32)> = neighbours
                .iter()
                .copied()
                .filter(|(o, _)| !confirmed(*o))
                .collect();
            out.extend(neighbours.iter().map(|(o, _)| *o).filter(|&o| confirmed(o)));
            if options.verification == Verification::Both && !rest.is_empty() {
                out.extend(thumbnail_copies(set, id, &rest, options.threshold));
            }
        }
        Verification::Thumbnails if !neighbours.is_empty() => {
            out.extend(thumbnail_copies(set, id, &neighbours, options.threshold));
        }
        Verification::Thumbnails | Verification::Pdq | Verification::Both => {}
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The `neighbours` of `id` whose thumbnail similarity to it reaches `threshold`.
fn thumbnail_copies<S: ImageSet>(
    set: &S,
    id: S::Id,
    neighbours: &[(S::Id, f32)],
    threshold: f32,
) -> Vec<S::Id> {
    let mut wanted: Vec<S::Id> = neighbours.iter().map(|(o, _)| *o).collect();
    wanted.push(id);
    let signatures = signatures(set, &wanted);
    let Some(own) = signatures.get(&id) else {
        return Vec::new();
    };
    neighbours
        .iter()
        .filter(|(o, _)| {
            signatures
                .get(o)
                .is_some_and(|s| own.similarity(s) >= threshold)
        })
        .map(|(o, _)| *o)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked() {
        assert!(DupesOptions::default().validate().is_ok());
        for bad in [
            DupesOptions {
                threshold: f32::NAN,
                ..DupesOptions::default()
            },
            DupesOptions {
                neighbours: 0,
                ..DupesOptions::default()
            },
        ] {
            assert!(bad.validate().is_err());
        }
    }
}
