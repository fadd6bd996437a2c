//! A [`Filter`] in Qdrant's own types: the grammar is Qdrant's, so each condition maps to one of its
//! conditions, evaluated by Qdrant inside the search (with the payload indexes the collection is
//! created with).

use crate::types::error::{EngineError, Result};
use crate::types::filter::{self, Bound, Condition, FieldType, Filter, Match, Value};
use crate::types::image_id::ImageId;
use vsearch_qdrant::proto::{self, r#match::MatchValue};
use vsearch_qdrant::Timestamp;

/// What an error from Qdrant about a filter means: a keyword `prefix` match needs a newer Qdrant than
/// the server (one whose gRPC API has it); path prefixes ending in `/` work on any version.
pub(crate) fn explain(err: vsearch_qdrant::StoreError) -> EngineError {
    match &err {
        vsearch_qdrant::StoreError::Failed { message, .. } if message.contains("Malformed Match") => bad(format!(
            "this Qdrant server does not take keyword prefix matches ({message}); match a folder's subtree with a path prefix ending in '/', e.g. {{\"key\": \"path\", \"match\": {{\"prefix\": \"trips/2024/\"}}}}, or upgrade Qdrant"
        )),
        _ => err.into(),
    }
}

/// `filter` (validated first) as Qdrant's filter.
pub fn to_qdrant(filter: &Filter) -> Result<proto::Filter> {
    filter.validate()?;
    convert(filter)
}

fn convert(filter: &Filter) -> Result<proto::Filter> {
    let list = |conditions: &[Condition]| -> Result<Vec<proto::Condition>> {
        conditions.iter().map(condition).collect()
    };
    Ok(proto::Filter {
        must: list(&filter.must)?,
        should: list(&filter.should)?,
        must_not: list(&filter.must_not)?,
        ..Default::default()
    })
}

fn bad(reason: String) -> EngineError {
    EngineError::Filter { reason }
}

fn condition(c: &Condition) -> Result<proto::Condition> {
    match c {
        Condition::Filter(f) => Ok(convert(f)?.into()),
        Condition::IsEmpty(c) => Ok(proto::Condition::is_empty(c.is_empty.key.clone())),
        Condition::HasId(c) => {
            let ids = c
                .has_id
                .iter()
                .map(|id| match id {
                    ImageId::Uuid(u) => Ok(proto::PointId::from(u.to_string())),
                    ImageId::Number(n) => Err(bad(format!(
                        "has_id {n}: the images of a Qdrant collection have UUIDs, not numbers"
                    ))),
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(proto::Condition::has_id(ids))
        }
        Condition::Field(f) => {
            let field = filter::field(&f.key)?;
            if f.key == "id" {
                return Err(bad(
                    "the key 'id' holds a local collection's numbers; in a Qdrant collection name images with {\"has_id\": [uuids]}".into(),
                ));
            }
            let key = f.key.clone();
            if let Some(m) = &f.match_ {
                if let (Match::Prefix { prefix }, "path") = (m, f.key.as_str()) {
                    if prefix.ends_with('/') {
                        // A folder's subtree: the folders a path is under hold it.
                        return Ok(proto::Condition::matches(
                            super::payload::DIRS_KEY,
                            MatchValue::Keyword(prefix.clone()),
                        ));
                    }
                }
                return Ok(proto::Condition::matches(key, match_value(m)));
            }
            let range = f.range.clone().unwrap_or_default();
            if field.kind == FieldType::Datetime {
                let at = |b: &Option<Bound>| -> Result<Option<Timestamp>> {
                    b.as_ref().map(|b| timestamp(&f.key, b)).transpose()
                };
                Ok(proto::Condition::datetime_range(
                    key,
                    proto::DatetimeRange {
                        lt: at(&range.lt)?,
                        gt: at(&range.gt)?,
                        gte: at(&range.gte)?,
                        lte: at(&range.lte)?,
                    },
                ))
            } else {
                let num = |b: &Option<Bound>| match b {
                    Some(Bound::Number(x)) => Some(*x),
                    _ => None,
                };
                Ok(proto::Condition::range(
                    key,
                    proto::Range {
                        lt: num(&range.lt),
                        gt: num(&range.gt),
                        gte: num(&range.gte),
                        lte: num(&range.lte),
                    },
                ))
            }
        }
    }
}

fn match_value(m: &Match) -> MatchValue {
    let ints = |values: &[Value]| -> Option<Vec<i64>> {
        values
            .iter()
            .map(|v| match v {
                Value::Integer(i) => Some(*i),
                _ => None,
            })
            .collect()
    };
    let texts = |values: &[Value]| -> Vec<String> {
        values
            .iter()
            .map(|v| match v {
                Value::Keyword(s) => s.clone(),
                Value::Integer(i) => i.to_string(),
                Value::Bool(b) => b.to_string(),
            })
            .collect()
    };
    match m {
        Match::Value { value } => match value {
            Value::Integer(i) => MatchValue::Integer(*i),
            Value::Keyword(s) => MatchValue::Keyword(s.clone()),
            Value::Bool(b) => MatchValue::Boolean(*b),
        },
        Match::Any { any } => match ints(any) {
            Some(integers) if !any.is_empty() => {
                MatchValue::Integers(proto::RepeatedIntegers { integers })
            }
            _ => MatchValue::Keywords(proto::RepeatedStrings {
                strings: texts(any),
            }),
        },
        Match::Except { except } => match ints(except) {
            Some(integers) if !except.is_empty() => {
                MatchValue::ExceptIntegers(proto::RepeatedIntegers { integers })
            }
            _ => MatchValue::ExceptKeywords(proto::RepeatedStrings {
                strings: texts(except),
            }),
        },
        Match::Prefix { prefix } => MatchValue::Prefix(prefix.clone()),
    }
}

fn timestamp(key: &str, bound: &Bound) -> Result<Timestamp> {
    let text = match bound {
        Bound::Datetime(t) => t,
        Bound::Number(x) => {
            return Err(bad(format!(
                "'{key}' takes RFC 3339 dates, not the number {x}"
            )))
        }
    };
    let at: jiff::Timestamp = text
        .parse()
        .map_err(|e| bad(format!("'{key}': \"{text}\" is not an RFC 3339 date ({e})")))?;
    Ok(Timestamp {
        seconds: at.as_second(),
        nanos: at.subsec_nanosecond(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_condition_kind_maps_to_qdrant() {
        let f = Filter::from_json(&json!({
            "must": [
                {"key": "folder", "match": {"value": "a/b"}},
                {"key": "width", "range": {"gte": 100}},
                {"key": "taken_at", "range": {"gte": "2024-06-01T00:00:00+02:00"}},
                {"key": "path", "match": {"prefix": "a/"}},
                {"key": "name", "match": {"prefix": "IMG_"}},
                {"should": [{"key": "format", "match": {"any": ["png", "gif"]}}]}
            ],
            "must_not": [{"is_empty": {"key": "camera_make"}}, {"key": "height", "match": {"except": [1, 2]}}]
        }))
        .unwrap();
        let q = to_qdrant(&f).unwrap();
        assert_eq!(q.must.len(), 6);
        assert_eq!(q.must_not.len(), 2);
        let text = format!("{q:?}");
        // A folder's subtree matches the folders a path is under; other prefixes are Qdrant's.
        assert!(
            text.contains(
                "key: \"dirs\", r#match: Some(Match { match_value: Some(Keyword(\"a/\"))"
            ),
            "{text}"
        );
        assert!(text.contains("Prefix(\"IMG_\")"), "{text}");
        assert!(text.contains("seconds: 1717192800"), "{text}");
        assert!(text.contains("ExceptIntegers"), "{text}");
        let by_number = Filter::from_json(&json!({"must": [{"has_id": [3]}]})).unwrap();
        assert!(to_qdrant(&by_number).is_err());
        let by_id_key =
            Filter::from_json(&json!({"must": [{"key": "id", "match": {"value": 3}}]})).unwrap();
        assert!(to_qdrant(&by_id_key).is_err());
    }
}
