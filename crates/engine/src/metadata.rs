//! What the catalog knows of each image besides its vector: file facts (folder, name, format, bytes,
//! mtime), its size in pixels, and from EXIF the date taken, the camera and the GPS position.
//!
//! These are the keys filters use ([`crate::filter`]) and what browsing lists.

use serde::{Deserialize, Serialize};

/// One indexed image and its metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageMeta {
    pub id: u64,
    /// Path relative to the indexed folder, `/`-separated.
    pub path: String,
    /// Folder of `path` (`""` at the top, else without a trailing `/`).
    pub folder: String,
    /// File name (last component of `path`).
    pub name: String,
    /// Image format from the content (`jpeg`, `png`, `webp`, `gif`, `bmp`, `tiff`).
    pub format: String,
    /// File size in bytes.
    pub bytes: u64,
    pub width: u32,
    pub height: u32,
    /// Modification time, RFC 3339 (UTC).
    pub mtime: String,
    /// EXIF date taken (`DateTimeOriginal`), RFC 3339; with no time zone in the EXIF, read as UTC.
    pub taken_at: Option<String>,
    pub camera_make: Option<String>,
    pub camera_model: Option<String>,
    /// EXIF GPS latitude, decimal degrees (north positive).
    pub gps_lat: Option<f64>,
    /// EXIF GPS longitude, decimal degrees (east positive).
    pub gps_lon: Option<f64>,
}

impl ImageMeta {
    /// The metadata of a catalog row.
    pub fn from_entry(e: &crate::catalog::Entry) -> Self {
        let (folder, name) = match e.path.rsplit_once('/') {
            Some((folder, name)) => (folder.to_string(), name.to_string()),
            None => (String::new(), e.path.clone()),
        };
        let format = name
            .rsplit_once('.')
            .map(|(_, ext)| ext.to_ascii_lowercase())
            .map(|ext| {
                if ext == "jpg" {
                    "jpeg".to_string()
                } else {
                    ext
                }
            })
            .unwrap_or_default();
        Self {
            id: e.id,
            path: e.path.clone(),
            folder,
            name,
            format,
            bytes: e.size,
            width: e.width,
            height: e.height,
            mtime: rfc3339_from_ns(e.mtime_ns),
            taken_at: None,
            camera_make: None,
            camera_model: None,
            gps_lat: None,
            gps_lon: None,
        }
    }
}

/// Nanoseconds since the Unix epoch as RFC 3339 (UTC, whole seconds).
pub fn rfc3339_from_ns(ns: i64) -> String {
    jiff::Timestamp::from_second(ns.div_euclid(1_000_000_000))
        .map(|t| t.to_string())
        .unwrap_or_default()
}
