//! Image metadata from a catalog row.

use super::Entry;
use crate::types::metadata::{format_from_extension, rfc3339_from_ns, ContentMeta, ImageMeta};
use std::collections::BTreeMap;

// Reading metadata from a catalog row is the catalog's business: `ImageMeta` (in `types`) knows nothing
// of the catalog's rows.
impl ImageMeta {
    /// The metadata of a catalog row. A row whose content metadata was never read (a catalog from
    /// before the metadata columns) takes its format from the file extension.
    pub fn from_entry(e: &Entry) -> Self {
        let (folder, name) = match e.path.rsplit_once('/') {
            Some((folder, name)) => (folder.to_string(), name.to_string()),
            None => (String::new(), e.path.clone()),
        };
        let content = e.meta.clone().unwrap_or_else(|| ContentMeta {
            format: format_from_extension(&name),
            ..ContentMeta::default()
        });
        Self {
            id: e.id,
            point: None,
            path: e.path.clone(),
            folder,
            name,
            format: content.format,
            bytes: e.size,
            width: e.width,
            height: e.height,
            mtime: rfc3339_from_ns(e.mtime_ns),
            taken_at: content.taken_at,
            camera_make: content.camera_make,
            camera_model: content.camera_model,
            gps_lat: content.gps_lat,
            gps_lon: content.gps_lon,
            labels: BTreeMap::new(),
            flags: Vec::new(),
            hidden: Vec::new(),
            video: e.frame.clone(),
        }
    }
}
