//! Evaluating a filter on one image's metadata, as Qdrant does.

use super::{Bound, Condition, FieldCondition, Filter, Match, Range, Value};
use crate::types::metadata::ImageMeta;

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

impl Filter {
    /// Whether `image` passes: every `must`, at least one `should` (when there are any), no
    /// `must_not`. Conditions on a key the image lacks are false (so `must_not` keeps it).
    /// Assumes a validated filter: a condition that does not validate is false.
    pub fn matches(&self, image: &ImageMeta) -> bool {
        self.must.iter().all(|c| c.matches(image))
            && (self.should.is_empty() || self.should.iter().any(|c| c.matches(image)))
            && !self.must_not.iter().any(|c| c.matches(image))
    }
}

impl Condition {
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
        "video" => FieldValue::Text(&image.video.as_ref()?.path),
        "flag" if !image.flags.is_empty() => FieldValue::Texts(&image.flags),
        "hidden" if !image.hidden.is_empty() => FieldValue::Texts(&image.hidden),
        _ => match key.strip_prefix(crate::types::label_policy::LABEL_KEY_PREFIX) {
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
