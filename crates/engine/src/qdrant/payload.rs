//! What a Qdrant point holds for an image: its id (from the file's content hash and path) and its
//! payload (the catalog's metadata, the content hash, the file's size and mtime for incremental runs).

use crate::types::error::{EngineError, Result};
use crate::types::metadata::ImageMeta;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use vsearch_qdrant::proto;

/// The namespace of vsearch's point ids (UUID v5).
const POINT_NAMESPACE: uuid::Uuid = uuid::uuid!("5d0e6c1a-3f1e-4b59-9a35-6c8f2b7e4d10");

/// The point id of a file: a UUID (v5) from its content hash and its path relative to the indexed
/// folder. Stable: the same file gets the same id from any worker on any machine, so a write repeated
/// after a crash replaces the point instead of doubling it; a changed file gets a new one.
pub fn point_id(hash: &str, path: &str) -> uuid::Uuid {
    uuid::Uuid::new_v5(&POINT_NAMESPACE, format!("{hash}\n{path}").as_bytes())
}

/// The payload of a point: the filter keys of [`crate::types::filter::FIELDS`] (but `id`, which is the point
/// id, and the label keys, which local collections compute), and what an incremental run compares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredImage {
    pub path: String,
    pub folder: String,
    pub name: String,
    pub format: String,
    pub bytes: u64,
    pub width: u32,
    pub height: u32,
    pub mtime: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera_make: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera_model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gps_lat: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gps_lon: Option<f64>,
    /// blake3 of the content, hex.
    pub hash: String,
    /// Modification time in nanoseconds since the Unix epoch (to tell a changed file).
    pub mtime_ns: i64,
    /// The date browsing orders by: `taken_at`, else `mtime`.
    pub time: String,
    /// The folders the path is under, each ending in `/` (`a/b/c.jpg`: `a/`, `a/b/`): a path prefix at
    /// a folder boundary is a match on this key, on any Qdrant version.
    #[serde(default)]
    pub dirs: Vec<String>,
    /// Where the image is served from (`--base-url` at index time joined with `path`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The image's PDQ hash, 64 hex digits (see [`crate::pdq`]; absent for an image too small to hash and
    /// on points written before vsearch stored it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdq: Option<String>,
    /// The PDQ hash's quality, 0-100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdq_quality: Option<u8>,
    /// Label scores by name (`vsearch labels apply --qdrant`; an index run does not write them).
    #[serde(default, skip_serializing)]
    pub label: std::collections::BTreeMap<String, f32>,
    /// The labels the image is flagged by (as `label`).
    #[serde(default, skip_serializing)]
    pub flag: Vec<String>,
    /// The labels the image is hidden by (as `label`).
    #[serde(default, skip_serializing)]
    pub hidden: Vec<String>,
}

/// Payload keys an incremental run reads.
pub const DIFF_KEYS: &[&str] = &["path", "hash", "bytes", "mtime_ns"];

/// Payload key browsing orders by.
pub const TIME_KEY: &str = "time";

/// Payload key of the folders a path is under (see [`StoredImage::dirs`]).
pub const DIRS_KEY: &str = "dirs";

/// Payload key of the takedown flag: `true` on a point a block hides (indexed; every search, browse,
/// facet and count of a [`crate::qdrant::QdrantCollection`] leaves such points out inside Qdrant).
pub const BLOCKED_KEY: &str = "blocked";

/// Payload key of the ids of the blocks that hide a point (beside [`BLOCKED_KEY`]; lifting a block
/// shows again the points no other block hides).
pub const BLOCKED_BY_KEY: &str = "blocked_by";

/// Whether a point's payload says a block hides it.
pub fn is_blocked(payload: &HashMap<String, proto::Value>) -> bool {
    payload
        .get(BLOCKED_KEY)
        .and_then(|v| match v.kind {
            Some(proto::value::Kind::BoolValue(b)) => Some(b),
            _ => None,
        })
        .unwrap_or(false)
}

impl StoredImage {
    /// The payload of `meta` (a file with content `hash` and mtime `mtime_ns`).
    pub fn new(meta: &ImageMeta, hash: &str, mtime_ns: i64, base_url: Option<&str>) -> Self {
        Self {
            path: meta.path.clone(),
            folder: meta.folder.clone(),
            name: meta.name.clone(),
            format: meta.format.clone(),
            bytes: meta.bytes,
            width: meta.width,
            height: meta.height,
            mtime: meta.mtime.clone(),
            taken_at: meta.taken_at.clone(),
            camera_make: meta.camera_make.clone(),
            camera_model: meta.camera_model.clone(),
            gps_lat: meta.gps_lat,
            gps_lon: meta.gps_lon,
            hash: hash.to_string(),
            mtime_ns,
            time: meta.taken_at.clone().unwrap_or_else(|| meta.mtime.clone()),
            dirs: meta
                .path
                .match_indices('/')
                .map(|(i, _)| meta.path[..=i].to_string())
                .collect(),
            url: base_url.map(|base| format!("{}/{}", base.trim_end_matches('/'), meta.path)),
            pdq: None,
            pdq_quality: None,
            label: Default::default(),
            flag: Vec::new(),
            hidden: Vec::new(),
        }
    }

    /// The payload with the image's PDQ hash and quality.
    pub fn with_pdq(mut self, pdq: Option<crate::pdq::Pdq>) -> Self {
        self.pdq = pdq.map(|p| p.hash.to_hex());
        self.pdq_quality = pdq.map(|p| p.quality);
        self
    }

    /// The image's PDQ hash and quality, when the payload has them.
    pub fn pdq(&self) -> Option<crate::pdq::Pdq> {
        Some(crate::pdq::Pdq {
            hash: crate::pdq::PdqHash::from_hex(self.pdq.as_deref()?).ok()?,
            quality: self.pdq_quality.unwrap_or(0),
        })
    }

    /// As a JSON object.
    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        }
    }

    /// Reads a point's payload.
    pub fn from_payload(id: &str, payload: &HashMap<String, proto::Value>) -> Result<Self> {
        read_payload(id, payload)
    }

    /// The image's metadata, named by its point id.
    pub fn meta(&self, point: uuid::Uuid) -> ImageMeta {
        ImageMeta {
            id: 0,
            point: Some(point),
            path: self.path.clone(),
            folder: self.folder.clone(),
            name: self.name.clone(),
            format: self.format.clone(),
            bytes: self.bytes,
            width: self.width,
            height: self.height,
            mtime: self.mtime.clone(),
            taken_at: self.taken_at.clone(),
            camera_make: self.camera_make.clone(),
            camera_model: self.camera_model.clone(),
            gps_lat: self.gps_lat,
            gps_lon: self.gps_lon,
            labels: self.label.clone(),
            flags: self.flag.clone(),
            hidden: self.hidden.clone(),
            video: None,
        }
    }
}

/// What an incremental run needs of a point: the payload keys of [`DIFF_KEYS`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StoredFile {
    pub path: String,
    pub hash: String,
    pub bytes: u64,
    pub mtime_ns: i64,
}

impl StoredFile {
    /// Reads a point's payload (with at least [`DIFF_KEYS`]).
    pub fn from_payload(id: &str, payload: &HashMap<String, proto::Value>) -> Result<Self> {
        read_payload(id, payload)
    }
}

/// A point's payload as `T`, through JSON (Qdrant's values serialise as JSON).
fn read_payload<T: serde::de::DeserializeOwned>(
    id: &str,
    payload: &HashMap<String, proto::Value>,
) -> Result<T> {
    let json = serde_json::to_value(payload).map_err(|e| bad_point(id, e))?;
    serde_json::from_value(json).map_err(|e| bad_point(id, e))
}

fn bad_point(id: &str, e: impl std::fmt::Display) -> EngineError {
    vsearch_qdrant::StoreError::BadPoint {
        what: id.to_string(),
        reason: format!(
            "its payload is not a vsearch image's ({e}); is the collection another program's?"
        ),
    }
    .into()
}

/// One share of a folder's files for one of several workers: `--part i/n` (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// 1 to `count`.
    pub index: u32,
    pub count: u32,
}

impl Part {
    /// Whether the file at `path` (relative) is this part's: stable by a hash of the path, so every
    /// worker, on any machine, splits the files the same way.
    pub fn owns(&self, path: &str) -> bool {
        let hash = blake3::hash(path.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&hash.as_bytes()[..8]);
        (u64::from_le_bytes(first) % self.count as u64) as u32 + 1 == self.index
    }
}

impl std::str::FromStr for Part {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let parsed = s.split_once('/').and_then(|(i, n)| {
            Some((i.trim().parse::<u32>().ok()?, n.trim().parse::<u32>().ok()?))
        });
        match parsed {
            Some((index, count)) if count >= 1 && (1..=count).contains(&index) => {
                Ok(Part { index, count })
            }
            _ => Err(format!(
                "`{s}` is not a part: give i/n with 1 <= i <= n, e.g. --part 1/4 on the first of four workers"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_ids_are_stable_and_parts_split_every_file_once() {
        assert_eq!(point_id("ab", "x/y.jpg"), point_id("ab", "x/y.jpg"));
        assert_ne!(point_id("ab", "x/y.jpg"), point_id("ac", "x/y.jpg"));
        assert_ne!(point_id("ab", "x/y.jpg"), point_id("ab", "x/z.jpg"));
        let parts: Vec<Part> = (1..=3).map(|i| Part { index: i, count: 3 }).collect();
        let mut sizes = [0usize; 3];
        for n in 0..3000 {
            let path = format!("folder/{n}.jpg");
            let owners: Vec<usize> = (0..3).filter(|&i| parts[i].owns(&path)).collect();
            assert_eq!(owners.len(), 1, "{path}");
            sizes[owners[0]] += 1;
        }
        assert!(sizes.iter().all(|&s| s > 900), "{sizes:?}");
        assert_eq!("2/4".parse::<Part>(), Ok(Part { index: 2, count: 4 }));
        for bad in ["0/4", "5/4", "1", "a/b", "1/0"] {
            assert!(bad.parse::<Part>().is_err(), "{bad}");
        }
    }
}
