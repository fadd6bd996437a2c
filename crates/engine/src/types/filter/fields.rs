//! The keys a filter may name, and their types.

use super::bad;
use crate::types::error::Result;
use serde::{Deserialize, Serialize};

/// The type of a filter key's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// Text: `match` (value, any, except, prefix).
    Keyword,
    /// Whole number: `match` (value, any, except) and `range`.
    Integer,
    /// Decimal number: `range`.
    Float,
    /// RFC 3339 date and time: `range` (and `match` on the exact string).
    Datetime,
}

/// One filter key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Field {
    pub key: &'static str,
    pub kind: FieldType,
    /// Whether images may lack it (EXIF fields).
    pub optional: bool,
    pub description: &'static str,
}

/// The keys a filter may name: the fields of [`crate::types::metadata::ImageMeta`].
pub const FIELDS: &[Field] = &[
    Field {
        key: "id",
        kind: FieldType::Integer,
        optional: false,
        description: "image id",
    },
    Field {
        key: "path",
        kind: FieldType::Keyword,
        optional: false,
        description: "path relative to the indexed folder, `/`-separated",
    },
    Field {
        key: "folder",
        kind: FieldType::Keyword,
        optional: false,
        description: "folder of the path (`\"\"` at the top)",
    },
    Field {
        key: "name",
        kind: FieldType::Keyword,
        optional: false,
        description: "file name",
    },
    Field {
        key: "format",
        kind: FieldType::Keyword,
        optional: false,
        description: "jpeg, png, webp, gif, bmp, tiff, heic or avif; a video frame's: mp4, mov, mkv or webm",
    },
    Field {
        key: "bytes",
        kind: FieldType::Integer,
        optional: false,
        description: "file size in bytes",
    },
    Field {
        key: "width",
        kind: FieldType::Integer,
        optional: false,
        description: "width in pixels",
    },
    Field {
        key: "height",
        kind: FieldType::Integer,
        optional: false,
        description: "height in pixels",
    },
    Field {
        key: "mtime",
        kind: FieldType::Datetime,
        optional: false,
        description: "file modification time",
    },
    Field {
        key: "taken_at",
        kind: FieldType::Datetime,
        optional: true,
        description: "EXIF date taken",
    },
    Field {
        key: "camera_make",
        kind: FieldType::Keyword,
        optional: true,
        description: "EXIF camera make",
    },
    Field {
        key: "camera_model",
        kind: FieldType::Keyword,
        optional: true,
        description: "EXIF camera model",
    },
    Field {
        key: "gps_lat",
        kind: FieldType::Float,
        optional: true,
        description: "EXIF GPS latitude, degrees",
    },
    Field {
        key: "gps_lon",
        kind: FieldType::Float,
        optional: true,
        description: "EXIF GPS longitude, degrees",
    },
    Field {
        key: "flag",
        kind: FieldType::Keyword,
        optional: true,
        description: "names of the labels with action `flag` the image reaches the threshold of (several values)",
    },
    Field {
        key: "hidden",
        kind: FieldType::Keyword,
        optional: true,
        description: "names of the labels with action `hide` the image reaches the threshold of (several values)",
    },
    Field {
        key: "video",
        kind: FieldType::Keyword,
        optional: true,
        description: "a video frame's video, its path (absent for images: `is_empty` keeps images only)",
    },
];

/// Families of keys named by a prefix and a name: `label.<name>` is the score of the label `<name>`
/// (absent for an image without a score for it). Their `key` is the prefix.
pub const DYNAMIC_FIELDS: &[Field] = &[Field {
    key: crate::types::label_policy::LABEL_KEY_PREFIX,
    kind: FieldType::Float,
    optional: true,
    description:
        "score of a label, in [0, 1] (`label.<name>`, the names of the collection's policy)",
}];

/// The [`Field`] of `key` (for `label.<name>`, the [`DYNAMIC_FIELDS`] entry), or the error that lists
/// the known keys.
pub fn field(key: &str) -> Result<&'static Field> {
    if let Some(f) = FIELDS.iter().find(|f| f.key == key) {
        return Ok(f);
    }
    for f in DYNAMIC_FIELDS {
        if let Some(name) = key.strip_prefix(f.key) {
            if crate::types::label_policy::valid_label_name(name) {
                return Ok(f);
            }
            return Err(bad(format!(
                "'{key}': a label key is '{}' and a label name (letters, digits, '_' and '-')",
                f.key
            )));
        }
    }
    let known: Vec<&str> = FIELDS.iter().map(|f| f.key).collect();
    let dynamic: Vec<String> = DYNAMIC_FIELDS
        .iter()
        .map(|f| format!("{}<name>", f.key))
        .collect();
    Err(bad(format!(
        "unknown key '{key}'; the keys are: {}, {}",
        known.join(", "),
        dynamic.join(", ")
    )))
}

/// How a type is named in errors.
pub(super) fn type_name(kind: FieldType) -> &'static str {
    match kind {
        FieldType::Keyword => "a keyword (text)",
        FieldType::Integer => "an integer",
        FieldType::Float => "a decimal number",
        FieldType::Datetime => "an RFC 3339 date and time",
    }
}
