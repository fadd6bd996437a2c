//! Which candidates are copies of one picture, known at query time without decoding an image.
//!
//! Three sources, joined (union-find over the candidates):
//! - **stored groups** ([`StoredCopies`], [`COPY_GROUPS_FILE`] in the records folder): the duplicate
//!   finder's groups (PDQ, then flip- and crop-aware verification on the pixels), written whenever
//!   `vsearch dupes` or the page's duplicates view computes them at the default options. Each member is
//!   kept with its content hash, so an image whose file changed since falls out of its group, while the
//!   groups of the unchanged images stay usable after any later index run;
//! - **exact copies**: the same content hash;
//! - **PDQ matches**: hashes stored at index time within [`crate::pdq::MATCH_DISTANCE`] bits, both of
//!   good quality (covers images indexed after the groups were stored; blind to flips and crops).

use crate::ranking::features::Candidate;
use crate::types::error::{EngineError, Result};
use crate::types::image_id::ImageId;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// The stored copy groups, in the records folder.
pub const COPY_GROUPS_FILE: &str = "copy_groups.json";

/// Duplicate groups as stored for the ranking stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredCopies {
    pub groups: Vec<Vec<StoredCopy>>,
}

/// One member of a stored group: its id and its content hash when the group was found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredCopy {
    pub id: ImageId,
    pub hash: String,
}

impl StoredCopies {
    /// The groups stored in `dir`; `None` when none are (or the file is damaged: logged, and the
    /// stage groups by content and PDQ hashes alone until `vsearch dupes` writes it again).
    pub fn read(dir: &Path) -> Option<Self> {
        let path = dir.join(COPY_GROUPS_FILE);
        let bytes = std::fs::read(&path).ok()?;
        match serde_json::from_slice(&bytes) {
            Ok(stored) => Some(stored),
            Err(e) => {
                tracing::warn!(
                    "{}: cannot be read ({e}); copies are grouped by content and PDQ hashes until \
                     `vsearch dupes` stores the groups again",
                    path.display()
                );
                None
            }
        }
    }

    /// Stores the groups in `dir` (atomically).
    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(COPY_GROUPS_FILE);
        let bytes = serde_json::to_vec(self).map_err(|e| EngineError::BadQuery {
            reason: format!("cannot write the copy groups: {e}"),
        })?;
        vsearch_core::durable::write_atomic(&path, &bytes).map_err(EngineError::io(&path))
    }

    /// Each stored image's group and hash.
    fn index(&self) -> HashMap<ImageId, (usize, &str)> {
        self.groups
            .iter()
            .enumerate()
            .flat_map(|(g, members)| members.iter().map(move |m| (m.id, (g, m.hash.as_str()))))
            .collect()
    }
}

/// For each candidate, the index of the first candidate of its copy group (itself when it has no copy
/// among `candidates`, or leads its group).
pub fn group(candidates: &[Candidate], stored: Option<&StoredCopies>) -> Vec<usize> {
    let n = candidates.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    let union = |parent: &mut Vec<usize>, a: usize, b: usize| {
        let (ra, rb) = (find(parent, a), find(parent, b));
        if ra != rb {
            parent[ra.max(rb)] = ra.min(rb);
        }
    };
    // A video's frame is no candidate's copy (see `CandidateFacts::video_frame`).
    let groupable = |c: &Candidate| !c.facts.video_frame;
    // Stored groups, where the member's content is what it was.
    if let Some(stored) = stored {
        let index = stored.index();
        let mut first_of: HashMap<usize, usize> = HashMap::new();
        for (i, c) in candidates.iter().enumerate().filter(|(_, c)| groupable(c)) {
            let Some(&(g, hash)) = index.get(&c.id) else {
                continue;
            };
            if c.facts.hash.as_deref().is_some_and(|h| h != hash) {
                continue;
            }
            match first_of.get(&g) {
                Some(&j) => union(&mut parent, j, i),
                None => {
                    first_of.insert(g, i);
                }
            }
        }
    }
    // Exact copies.
    let mut by_hash: HashMap<&str, usize> = HashMap::new();
    for (i, c) in candidates.iter().enumerate().filter(|(_, c)| groupable(c)) {
        if let Some(h) = c.facts.hash.as_deref().filter(|h| !h.is_empty()) {
            match by_hash.get(h) {
                Some(&j) => union(&mut parent, j, i),
                None => {
                    by_hash.insert(h, i);
                }
            }
        }
    }
    // PDQ matches.
    let pdq: Vec<(usize, &crate::pdq::Pdq)> = candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| groupable(c))
        .filter_map(|(i, c)| Some((i, c.facts.pdq.as_ref()?)))
        .filter(|(_, p)| p.quality >= crate::pdq::MIN_QUALITY)
        .collect();
    for (x, &(i, a)) in pdq.iter().enumerate() {
        for &(j, b) in &pdq[x + 1..] {
            if a.hash.distance(&b.hash) <= crate::pdq::MATCH_DISTANCE {
                union(&mut parent, i, j);
            }
        }
    }
    (0..n).map(|i| find(&mut parent, i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ranking::features::CandidateFacts;

    fn candidate(id: u64, hash: &str) -> Candidate {
        Candidate {
            id: ImageId::Number(id),
            path: format!("{id}.jpg"),
            score: 1.0 - id as f32 / 100.0,
            rank: id as usize,
            facts: CandidateFacts {
                hash: Some(hash.into()),
                ..CandidateFacts::default()
            },
        }
    }

    #[test]
    fn stored_groups_hashes_and_changed_files() {
        let c = vec![
            candidate(1, "a"),
            candidate(2, "b"),
            candidate(3, "a"),
            candidate(4, "d"),
            candidate(5, "e"),
        ];
        let stored = StoredCopies {
            groups: vec![vec![
                StoredCopy {
                    id: ImageId::Number(2),
                    hash: "b".into(),
                },
                StoredCopy {
                    id: ImageId::Number(4),
                    hash: "d".into(),
                },
                // Changed since: out of the group.
                StoredCopy {
                    id: ImageId::Number(5),
                    hash: "old".into(),
                },
            ]],
        };
        assert_eq!(group(&c, Some(&stored)), vec![0, 1, 0, 1, 4]);
        assert_eq!(group(&c, None), vec![0, 1, 0, 3, 4]);
    }
}
