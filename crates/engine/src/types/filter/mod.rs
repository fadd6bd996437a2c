//! Filters in Qdrant's grammar, over the metadata keys of [`crate::types::metadata::ImageMeta`].
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

mod fields;
mod matching;
mod validate;

pub use fields::{field, Field, FieldType, DYNAMIC_FIELDS, FIELDS};

use crate::types::error::{EngineError, Result};
#[cfg(test)]
use crate::types::metadata::ImageMeta;
use serde::{Deserialize, Serialize};

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
    pub has_id: Vec<crate::types::image_id::ImageId>,
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

/// A filter error: what is wrong and what is accepted.
fn bad(reason: String) -> EngineError {
    EngineError::Filter { reason }
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

    fn is_empty(&self) -> bool {
        self.must.is_empty() && self.should.is_empty() && self.must_not.is_empty()
    }
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
            video: None,
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
