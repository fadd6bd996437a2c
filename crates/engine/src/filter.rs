//! Filters in Qdrant's grammar, over the metadata keys of [`crate::metadata::ImageMeta`].
//!
//! ```json
//! {"must": [{"key": "folder", "match": {"value": "trips/2024"}},
//!           {"key": "taken_at", "range": {"gte": "2024-06-01T00:00:00Z"}}],
//!  "must_not": [{"key": "format", "match": {"any": ["gif", "bmp"]}}]}
//! ```
//!
//! A filter is `{"must": [...], "should": [...], "must_not": [...]}` (each optional; `should` needs one of
//! its conditions to hold when it is not empty); a condition is a field condition, `{"has_id": [...]}`, or a
//! nested filter. Field conditions: `{"key": K, "match": {"value": V}}`, `{"match": {"any": [...]}}`,
//! `{"match": {"except": [...]}}`, `{"match": {"prefix": "..."}}` (strings), `{"range": {"gt"|"gte"|"lt"|"lte":
//! ...}}` (numbers, or RFC 3339 dates for date keys), `{"is_empty": {"key": K}}` for keys that may be absent.
//! The keys are [`FIELDS`].

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

/// The keys a filter may name: the fields of [`crate::metadata::ImageMeta`].
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
        description: "jpeg, png, webp, gif, bmp or tiff",
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
];

/// A filter: all of `must`, at least one of `should` (when not empty), none of `must_not`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub must: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub should: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub must_not: Vec<Condition>,
}

/// One condition of a [`Filter`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Condition {
    /// A condition on one key.
    Field(FieldCondition),
    /// `{"has_id": [ids]}`.
    HasId(HasIdCondition),
    /// `{"is_empty": {"key": K}}`: the key is absent.
    IsEmpty(IsEmptyCondition),
    /// A nested filter.
    Filter(Filter),
}

/// `{"key": K, "match": ...}` or `{"key": K, "range": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldCondition {
    pub key: String,
    #[serde(rename = "match", default, skip_serializing_if = "Option::is_none")]
    pub match_: Option<Match>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<Range>,
}

/// The `match` of a field condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Match {
    /// `{"value": V}`: equal to V.
    Value { value: Value },
    /// `{"any": [...]}`: equal to one of them.
    Any { any: Vec<Value> },
    /// `{"except": [...]}`: equal to none of them.
    Except { except: Vec<Value> },
    /// `{"prefix": "..."}`: a text starting with it.
    Prefix { prefix: String },
}

/// A value in a `match`: text, whole number or boolean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Integer(i64),
    Keyword(String),
    Bool(bool),
}

/// A `range`: numbers, or RFC 3339 strings for date keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gt: Option<Bound>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gte: Option<Bound>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lt: Option<Bound>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lte: Option<Bound>,
}

/// One end of a [`Range`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Bound {
    Number(f64),
    /// An RFC 3339 date and time.
    Datetime(String),
}

/// `{"has_id": [ids]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HasIdCondition {
    pub has_id: Vec<u64>,
}

/// `{"is_empty": {"key": K}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IsEmptyCondition {
    pub is_empty: KeyRef,
}

/// `{"key": K}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRef {
    pub key: String,
}
