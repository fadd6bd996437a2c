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
//! The keys are [`FIELDS`], and the label keys of [`DYNAMIC_FIELDS`]: `label.<name>` (a label's score,
//! see [`crate::labels`]).
//!
//! `flag` and `hidden` hold several values (the names of the labels an image is flagged or hidden by):
//! as in Qdrant's arrays, `match` `value`/`any` holds when one of them matches, `except` when none is in
//! the list, `prefix` when one starts with it; an image with none lacks the key (`is_empty`).
//!
//! Semantics follow Qdrant: `must` all, `should` at least one (when not empty), `must_not` none;
//! `folder` equality is the exact folder, `path` with `prefix` selects a subtree; ranges on dates
//! compare instants (`2024-06-01T00:00:00+02:00` is `2024-05-31T22:00:00Z`); a condition on a key an
//! image lacks is false for it. [`Filter::validate`] rejects what cannot be evaluated;
//! [`Filter::matches`] evaluates one image.

use crate::error::{EngineError, Result};
use crate::metadata::ImageMeta;
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
];

/// Families of keys named by a prefix and a name: `label.<name>` is the score of the label `<name>`
/// (absent for an image without a score for it). Their `key` is the prefix.
pub const DYNAMIC_FIELDS: &[Field] = &[Field {
    key: crate::labels::LABEL_KEY_PREFIX,
    kind: FieldType::Float,
    optional: true,
    description:
        "score of a label, in [0, 1] (`label.<name>`, the names of the collection's policy)",
}];

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
    pub has_id: Vec<crate::ImageId>,
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

/// A filter key's value in one image: absent for optional keys the image lacks.
enum FieldValue<'a> {
    Int(i64),
    Float(f64),
    Text(&'a str),
    /// A label score, stored as `f32`: compared with bounds rounded to `f32`, so that a bound written as the
    /// score prints (`0.4`) compares equal to it.
    Score(f32),
    /// Several texts (`flag`, `hidden`); never empty.
    Texts(&'a [String]),
    /// A date and time: its text and its instant (`None` when the text does not parse).
    Time(&'a str, Option<jiff::Timestamp>),
}

/// The [`Field`] of `key` (for `label.<name>`, the [`DYNAMIC_FIELDS`] entry), or the error that lists
/// the known keys.
pub fn field(key: &str) -> Result<&'static Field> {
    if let Some(f) = FIELDS.iter().find(|f| f.key == key) {
        return Ok(f);
    }
    for f in DYNAMIC_FIELDS {
        if let Some(name) = key.strip_prefix(f.key) {
            if crate::labels::valid_label_name(name) {
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

fn bad(reason: String) -> EngineError {
    EngineError::Filter { reason }
}

fn type_name(kind: FieldType) -> &'static str {
    match kind {
        FieldType::Keyword => "a keyword (text)",
        FieldType::Integer => "an integer",
        FieldType::Float => "a decimal number",
        FieldType::Datetime => "an RFC 3339 date and time",
    }
}

/// Parses an RFC 3339 date and time (`2024-06-01T00:00:00Z`, `2024-06-01T00:00:00+02:00`).
fn parse_datetime(key: &str, text: &str) -> Result<jiff::Timestamp> {
    text.parse::<jiff::Timestamp>().map_err(|e| {
        bad(format!(
            "'{key}' takes RFC 3339 dates and times such as \"2024-06-01T00:00:00Z\" or \
             \"2024-06-01T00:00:00+02:00\"; \"{text}\" is not one ({e})"
        ))
    })
}

impl Filter {
    /// Parses a filter from JSON and validates it ([`Filter::validate`]).
    pub fn from_json(value: &serde_json::Value) -> Result<Filter> {
        let filter: Filter = serde_json::from_value(value.clone()).map_err(|e| {
            bad(format!(
                "{e}; a filter is {{\"must\": [...], \"should\": [...], \"must_not\": [...]}} of \
                 conditions {{\"key\": K, \"match\": {{\"value\" | \"any\" | \"except\" | \"prefix\": ...}}}}, \
                 {{\"key\": K, \"range\": {{\"gt\" | \"gte\" | \"lt\" | \"lte\": ...}}}}, \
                 {{\"has_id\": [ids]}}, {{\"is_empty\": {{\"key\": K}}}} or a nested filter"
            ))
        })?;
        filter.validate()?;
        Ok(filter)
    }

    /// Checks every condition against [`FIELDS`]: known keys, values of the key's type, ranges on
    /// numbers and dates only (dates in RFC 3339), `prefix` on text only, no empty condition. The
    /// error says what is wrong and what is accepted.
    pub fn validate(&self) -> Result<()> {
        for c in self.must.iter().chain(&self.should).chain(&self.must_not) {
            c.validate()?;
        }
        Ok(())
    }

    /// Whether `image` passes: every `must`, at least one `should` (when there are any), no
    /// `must_not`. Conditions on a key the image lacks are false (so `must_not` keeps it).
    /// Assumes a validated filter: a condition that does not validate is false.
    pub fn matches(&self, image: &ImageMeta) -> bool {
        self.must.iter().all(|c| c.matches(image))
            && (self.should.is_empty() || self.should.iter().any(|c| c.matches(image)))
            && !self.must_not.iter().any(|c| c.matches(image))
    }

    fn is_empty(&self) -> bool {
        self.must.is_empty() && self.should.is_empty() && self.must_not.is_empty()
    }
}

impl Condition {
    fn validate(&self) -> Result<()> {
        match self {
            Condition::Field(f) => f.validate(),
            Condition::HasId(_) => Ok(()),
            Condition::IsEmpty(c) => field(&c.is_empty.key).map(|_| ()),
            Condition::Filter(f) if f.is_empty() => Err(bad(
                "an empty condition ({}): a condition needs \"must\", \"should\" or \"must_not\" \
                 conditions, a \"key\" with \"match\" or \"range\", \"has_id\" or \"is_empty\""
                    .into(),
            )),
            Condition::Filter(f) => f.validate(),
        }
    }

    /// Whether `image` passes this condition.
    pub fn matches(&self, image: &ImageMeta) -> bool {
        match self {
            Condition::Field(f) => f.matches(image),
            Condition::HasId(c) => c.has_id.iter().any(|i| *i == image.image_id()),
            Condition::IsEmpty(c) => value_of(image, &c.is_empty.key).is_none(),
            Condition::Filter(f) => f.matches(image),
        }
    }
}

impl FieldCondition {
    fn validate(&self) -> Result<()> {
        let field = field(&self.key)?;
        let key = self.key.as_str();
        let kind = field.kind;
        match (&self.match_, &self.range) {
            (None, None) => Err(bad(format!(
                "the condition on '{key}' is empty: give \"match\" (value, any, except{}) or \"range\" \
                 (gt, gte, lt, lte{})",
                if kind == FieldType::Keyword || kind == FieldType::Datetime { ", prefix" } else { "" },
                if kind == FieldType::Keyword { "; not on this keyword" } else { "" }
            ))),
            (Some(_), Some(_)) => Err(bad(format!(
                "the condition on '{key}' has both \"match\" and \"range\": give one per condition"
            ))),
            (Some(m), None) => validate_match(key, field.kind, m),
            (None, Some(r)) => {
                if kind == FieldType::Keyword {
                    return Err(bad(format!(
                        "'{key}' is a keyword: it takes \"match\" (value, any, except, prefix), not \
                         \"range\"; ranges are for integer, decimal and date keys"
                    )));
                }
                let bounds = [&r.gt, &r.gte, &r.lt, &r.lte];
                if bounds.iter().all(|b| b.is_none()) {
                    return Err(bad(format!(
                        "the range on '{key}' is empty: give gt, gte, lt or lte"
                    )));
                }
                for b in bounds.into_iter().flatten() {
                    match (kind, b) {
                        (FieldType::Datetime, Bound::Datetime(t)) => {
                            parse_datetime(key, t)?;
                        }
                        (FieldType::Datetime, Bound::Number(n)) => {
                            return Err(bad(format!(
                                "'{key}' is a date: its range takes RFC 3339 dates and times such as \
                                 \"2024-06-01T00:00:00Z\", not the number {n}"
                            )))
                        }
                        (_, Bound::Number(n)) if n.is_finite() => {}
                        (_, b) => {
                            return Err(bad(format!(
                                "'{key}' is {}: its range takes numbers, not {}",
                                type_name(kind),
                                bound_text(b)
                            )))
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// Whether `image` passes this condition (false when the image lacks the key).
    pub fn matches(&self, image: &ImageMeta) -> bool {
        let Some(value) = value_of(image, &self.key) else {
            return false;
        };
        match (&self.match_, &self.range) {
            (Some(m), None) => match_value(m, &value),
            (None, Some(r)) => in_range(r, &value),
            _ => false,
        }
    }
}

fn bound_text(b: &Bound) -> String {
    match b {
        Bound::Number(n) => n.to_string(),
        Bound::Datetime(t) => format!("\"{t}\""),
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Integer(n) => n.to_string(),
        Value::Keyword(s) => format!("\"{s}\""),
        Value::Bool(b) => b.to_string(),
    }
}

fn validate_match(key: &str, kind: FieldType, m: &Match) -> Result<()> {
    let values: &[Value] = match m {
        Match::Value { value } => std::slice::from_ref(value),
        Match::Any { any } => any,
        Match::Except { except } => except,
        Match::Prefix { .. } => {
            return match kind {
                FieldType::Keyword | FieldType::Datetime => Ok(()),
                _ => Err(bad(format!(
                    "'{key}' is {}: \"prefix\" is for text keys; use \"range\" (gt, gte, lt, lte) \
                     or \"match\" value/any/except",
                    type_name(kind)
                ))),
            };
        }
    };
    if kind == FieldType::Float {
        return Err(bad(format!(
            "'{key}' is a decimal number: it takes \"range\" (gt, gte, lt, lte), not \"match\""
        )));
    }
    for v in values {
        match (kind, v) {
            (FieldType::Keyword, Value::Keyword(_)) | (FieldType::Integer, Value::Integer(_)) => {}
            (FieldType::Datetime, Value::Keyword(t)) => {
                parse_datetime(key, t)?;
            }
            (_, v) => {
                return Err(bad(format!(
                    "'{key}' is {}: {} is not one",
                    type_name(kind),
                    value_text(v)
                )))
            }
        }
    }
    Ok(())
}

/// The value of `key` in `image`; `None` for an absent optional key or an unknown key.
fn value_of<'a>(image: &'a ImageMeta, key: &str) -> Option<FieldValue<'a>> {
    let time = |t: &'a str| FieldValue::Time(t, t.parse().ok());
    Some(match key {
        "id" => FieldValue::Int(i64::try_from(image.id).ok()?),
        "path" => FieldValue::Text(&image.path),
        "folder" => FieldValue::Text(&image.folder),
        "name" => FieldValue::Text(&image.name),
        "format" => FieldValue::Text(&image.format),
        "bytes" => FieldValue::Int(i64::try_from(image.bytes).ok()?),
        "width" => FieldValue::Int(i64::from(image.width)),
        "height" => FieldValue::Int(i64::from(image.height)),
        "mtime" => time(&image.mtime),
        "taken_at" => time(image.taken_at.as_deref()?),
        "camera_make" => FieldValue::Text(image.camera_make.as_deref()?),
        "camera_model" => FieldValue::Text(image.camera_model.as_deref()?),
        "gps_lat" => FieldValue::Float(image.gps_lat?),
        "gps_lon" => FieldValue::Float(image.gps_lon?),
        "flag" if !image.flags.is_empty() => FieldValue::Texts(&image.flags),
        "hidden" if !image.hidden.is_empty() => FieldValue::Texts(&image.hidden),
        _ => match key.strip_prefix(crate::labels::LABEL_KEY_PREFIX) {
            Some(name) => FieldValue::Score(*image.labels.get(name)?),
            None => return None,
        },
    })
}

/// Whether a `match` value equals the image's value (dates compare as instants).
fn equals(value: &FieldValue<'_>, wanted: &Value) -> bool {
    match (value, wanted) {
        (FieldValue::Int(a), Value::Integer(b)) => a == b,
        (FieldValue::Text(a), Value::Keyword(b)) => a == b,
        (FieldValue::Time(_, Some(a)), Value::Keyword(b)) => {
            b.parse::<jiff::Timestamp>().is_ok_and(|b| *a == b)
        }
        _ => false,
    }
}

fn match_value(m: &Match, value: &FieldValue<'_>) -> bool {
    if let FieldValue::Texts(texts) = value {
        // Several values: one matching is enough; `except` holds when none is excluded.
        return match m {
            Match::Except { except } => !texts
                .iter()
                .any(|t| except.iter().any(|w| equals(&FieldValue::Text(t), w))),
            _ => texts.iter().any(|t| match_value(m, &FieldValue::Text(t))),
        };
    }
    match m {
        Match::Value { value: wanted } => equals(value, wanted),
        Match::Any { any } => any.iter().any(|w| equals(value, w)),
        Match::Except { except } => !except.iter().any(|w| equals(value, w)),
        Match::Prefix { prefix } => match value {
            FieldValue::Text(t) | FieldValue::Time(t, _) => t.starts_with(prefix.as_str()),
            _ => false,
        },
    }
}

fn in_range(r: &Range, value: &FieldValue<'_>) -> bool {
    use std::cmp::Ordering;
    // The image's value compared with a bound; `None` when they cannot be compared.
    let cmp = |b: &Bound| -> Option<Ordering> {
        match (value, b) {
            (FieldValue::Int(v), Bound::Number(n)) => (*v as f64).partial_cmp(n),
            (FieldValue::Float(v), Bound::Number(n)) => v.partial_cmp(n),
            (FieldValue::Score(v), Bound::Number(n)) => v.partial_cmp(&(*n as f32)),
            (FieldValue::Time(_, Some(v)), Bound::Datetime(t)) => {
                Some(v.cmp(&t.parse::<jiff::Timestamp>().ok()?))
            }
            _ => None,
        }
    };
    let check = |b: &Option<Bound>, ok: fn(Ordering) -> bool| {
        b.as_ref().is_none_or(|b| cmp(b).is_some_and(ok))
    };
    check(&r.gt, |o| o == Ordering::Greater)
        && check(&r.gte, |o| o != Ordering::Less)
        && check(&r.lt, |o| o == Ordering::Less)
        && check(&r.lte, |o| o != Ordering::Greater)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn image(id: u64, path: &str) -> ImageMeta {
        let (folder, name) = path.rsplit_once('/').unwrap_or(("", path));
        ImageMeta {
            id,
            point: None,
            path: path.into(),
            folder: folder.into(),
            name: name.into(),
            format: "jpeg".into(),
            bytes: 1000 * id,
            width: 100 + id as u32,
            height: 50,
            mtime: "2024-01-01T00:00:00Z".into(),
            taken_at: None,
            camera_make: None,
            camera_model: None,
            gps_lat: None,
            gps_lon: None,
            labels: Default::default(),
            flags: Vec::new(),
            hidden: Vec::new(),
        }
    }

    fn images() -> Vec<ImageMeta> {
        let mut a = image(0, "a.jpg");
        a.taken_at = Some("2024-06-01T10:00:00+02:00".into()); // 08:00 UTC
        a.camera_make = Some("Canon".into());
        a.gps_lat = Some(48.85);
        let mut b = image(1, "trips/2024/b.png");
        b.format = "png".into();
        b.taken_at = Some("2024-06-01T09:00:00Z".into());
        b.camera_make = Some("Nikon".into());
        let c = image(2, "trips/2024/deep/c.jpg");
        a.labels = [("screenshot".to_string(), 0.9), ("people".to_string(), 0.2)].into();
        a.flags = vec!["screenshot".into()];
        let mut d = image(3, "trips/2023/d.gif");
        d.labels = [("screenshot".to_string(), 0.4)].into();
        d.flags = vec!["people".into()];
        d.hidden = vec!["nsfw-ish".into(), "gore".into()];
        d.format = "gif".into();
        d.mtime = "2023-05-01T00:00:00Z".into();
        vec![a, b, c, d]
    }

    /// The ids `filter` (JSON) keeps among [`images`].
    fn ids(filter: serde_json::Value) -> Vec<u64> {
        let filter = Filter::from_json(&filter).expect("valid filter");
        images()
            .iter()
            .filter(|m| filter.matches(m))
            .map(|m| m.id)
            .collect()
    }

    fn reason(filter: serde_json::Value) -> String {
        match Filter::from_json(&filter) {
            Err(EngineError::Filter { reason }) => reason,
            other => panic!("expected a filter error, got {other:?}"),
        }
    }

    #[test]
    fn match_value_any_except_and_prefix() {
        assert_eq!(
            ids(json!({"must": [{"key": "format", "match": {"value": "jpeg"}}]})),
            [0, 2]
        );
        assert_eq!(
            ids(json!({"must": [{"key": "folder", "match": {"value": "trips/2024"}}]})),
            [1]
        );
        assert_eq!(
            ids(json!({"must": [{"key": "format", "match": {"any": ["png", "gif"]}}]})),
            [1, 3]
        );
        assert_eq!(
            ids(json!({"must": [{"key": "format", "match": {"except": ["png", "gif"]}}]})),
            [0, 2]
        );
        assert_eq!(
            ids(json!({"must": [{"key": "path", "match": {"prefix": "trips/2024/"}}]})),
            [1, 2]
        );
        assert_eq!(
            ids(json!({"must": [{"key": "width", "match": {"any": [101, 103]}}]})),
            [1, 3]
        );
        assert_eq!(
            ids(json!({"must": [{"key": "camera_make", "match": {"value": "Canon"}}]})),
            [0]
        );
        // A date matches as an instant.
        assert_eq!(
            ids(json!({"must": [{"key": "taken_at", "match": {"value": "2024-06-01T08:00:00Z"}}]})),
            [0]
        );
        // Absent keys do not match, even `except`.
        assert_eq!(
            ids(json!({"must": [{"key": "camera_make", "match": {"except": ["Canon"]}}]})),
            [1]
        );
    }

    #[test]
    fn ranges_on_numbers_and_dates_as_instants() {
        assert_eq!(
            ids(json!({"must": [{"key": "bytes", "range": {"gte": 1000, "lt": 3000}}]})),
            [1, 2]
        );
        assert_eq!(
            ids(json!({"must": [{"key": "width", "range": {"gt": 101}}]})),
            [2, 3]
        );
        assert_eq!(
            ids(json!({"must": [{"key": "gps_lat", "range": {"gt": 40.0, "lte": 50}}]})),
            [0]
        );
        // 08:00Z (a, written with +02:00) is before 08:30Z; 09:00Z (b) is not.
        assert_eq!(
            ids(
                json!({"must": [{"key": "taken_at", "range": {"lt": "2024-06-01T10:30:00+02:00"}}]})
            ),
            [0]
        );
        assert_eq!(
            ids(json!({"must": [{"key": "taken_at", "range": {"gte": "2024-06-01T08:00:00Z"}}]})),
            [0, 1]
        );
        assert_eq!(
            ids(json!({"must": [{"key": "mtime", "range": {"lt": "2024-01-01T00:00:00Z"}}]})),
            [3]
        );
    }

    #[test]
    fn has_id_is_empty_and_nesting() {
        assert_eq!(ids(json!({"must": [{"has_id": [3, 1, 99]}]})), [1, 3]);
        assert_eq!(
            ids(json!({"must": [{"is_empty": {"key": "taken_at"}}]})),
            [2, 3]
        );
        assert_eq!(
            ids(json!({"must_not": [{"is_empty": {"key": "gps_lat"}}]})),
            [0]
        );
        assert_eq!(ids(json!({})), [0, 1, 2, 3]);
        assert_eq!(
            ids(json!({"should": [{"has_id": [0]}, {"key": "format", "match": {"value": "gif"}}]})),
            [0, 3]
        );
        assert_eq!(
            ids(json!({
                "must": [{"key": "path", "match": {"prefix": "trips/"}}],
                "must_not": [{"should": [{"has_id": [1]}, {"key": "format", "match": {"value": "gif"}}]}]
            })),
            [2]
        );
        assert_eq!(
            ids(
                json!({"must": [{"must_not": [{"key": "folder", "match": {"value": ""}}]}], "should": []})
            ),
            [1, 2, 3]
        );
    }

    #[test]
    fn label_scores_flags_and_hidden_are_keys() {
        assert_eq!(
            ids(json!({"must": [{"key": "label.screenshot", "range": {"gte": 0.4}}]})),
            [0, 3]
        );
        assert_eq!(
            ids(json!({"must": [{"key": "label.screenshot", "range": {"gt": 0.4}}]})),
            [0]
        );
        // An image without the score lacks the key.
        assert_eq!(
            ids(json!({"must": [{"is_empty": {"key": "label.people"}}]})),
            [1, 2, 3]
        );
        assert_eq!(
            ids(json!({"must": [{"key": "label.other", "range": {"gte": 0}}]})),
            Vec::<u64>::new()
        );
        assert_eq!(
            ids(json!({"must": [{"key": "flag", "match": {"value": "screenshot"}}]})),
            [0]
        );
        assert_eq!(
            ids(json!({"must": [{"key": "hidden", "match": {"value": "gore"}}]})),
            [3]
        );
        assert_eq!(
            ids(json!({"must": [{"key": "hidden", "match": {"except": ["gore"]}}]})),
            Vec::<u64>::new()
        );
        assert_eq!(
            ids(json!({"must": [{"key": "flag", "match": {"any": ["people", "x"]}}]})),
            [3]
        );
        assert_eq!(
            ids(json!({"must": [{"is_empty": {"key": "hidden"}}]})),
            [0, 1, 2]
        );
        assert_eq!(
            ids(json!({"must_not": [{"key": "flag", "match": {"prefix": "scr"}}]})),
            [1, 2, 3]
        );
        let r = reason(json!({"must": [{"key": "label.screenshot", "match": {"value": 1}}]}));
        assert!(
            r.contains("'label.screenshot'") && r.contains("range"),
            "{r}"
        );
        let r = reason(json!({"must": [{"key": "label.", "range": {"gt": 0}}]}));
        assert!(r.contains("label name"), "{r}");
        let r = reason(json!({"must": [{"key": "colour", "range": {"gt": 0}}]}));
        assert!(r.contains("label.<name>") && r.contains("hidden"), "{r}");
    }

    #[test]
    fn validation_says_what_is_wrong_and_what_is_accepted() {
        let r = reason(json!({"must": [{"key": "colour", "match": {"value": "red"}}]}));
        assert!(
            r.contains("unknown key 'colour'") && r.contains("taken_at") && r.contains("gps_lon"),
            "{r}"
        );
        let r = reason(json!({"must": [{"key": "format", "range": {"gt": 1}}]}));
        assert!(r.contains("keyword") && r.contains("not \"range\""), "{r}");
        let r = reason(json!({"must": [{"key": "taken_at", "range": {"gt": "June 2024"}}]}));
        assert!(r.contains("RFC 3339") && r.contains("June 2024"), "{r}");
        let r = reason(json!({"must": [{"key": "taken_at", "range": {"gt": 5}}]}));
        assert!(r.contains("RFC 3339"), "{r}");
        let r = reason(json!({"must": [{"key": "bytes", "match": {"prefix": "1"}}]}));
        assert!(r.contains("prefix") && r.contains("range"), "{r}");
        let r = reason(json!({"must": [{"key": "bytes"}]}));
        assert!(r.contains("empty"), "{r}");
        let r = reason(json!({"must": [{}]}));
        assert!(r.contains("empty condition"), "{r}");
        let r = reason(json!({"must": [{"key": "bytes", "range": {}}]}));
        assert!(r.contains("empty"), "{r}");
        let r = reason(json!({"must": [{"key": "width", "match": {"value": "wide"}}]}));
        assert!(r.contains("integer"), "{r}");
        let r = reason(json!({"must": [{"key": "gps_lat", "match": {"value": 1}}]}));
        assert!(r.contains("range"), "{r}");
        let r = reason(json!({"must": [{"is_empty": {"key": "nope"}}]}));
        assert!(r.contains("unknown key"), "{r}");
        let r = reason(json!({"must": "format"}));
        assert!(r.contains("a filter is"), "{r}");
    }
}
