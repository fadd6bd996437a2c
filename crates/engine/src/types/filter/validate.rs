//! Validating a filter: known keys, values of the key's type, ranges on numbers and dates only, no
//! empty condition; each error says what is wrong and what is accepted.

use super::fields::{field, type_name, FieldType};
use super::{bad, Bound, Condition, FieldCondition, Filter, Match, Value};
use crate::types::error::Result;

/// Parses an RFC 3339 date and time (`2024-06-01T00:00:00Z`, `2024-06-01T00:00:00+02:00`).
pub(super) fn parse_datetime(key: &str, text: &str) -> Result<jiff::Timestamp> {
    text.parse::<jiff::Timestamp>().map_err(|e| {
        bad(format!(
            "'{key}' takes RFC 3339 dates and times such as \"2024-06-01T00:00:00Z\" or \
             \"2024-06-01T00:00:00+02:00\"; \"{text}\" is not one ({e})"
        ))
    })
}

impl Filter {
    /// Checks every condition against [`super::FIELDS`]: known keys, values of the key's type, ranges on
    /// numbers and dates only (dates in RFC 3339), `prefix` on text only, no empty condition. The
    /// error says what is wrong and what is accepted.
    pub fn validate(&self) -> Result<()> {
        for c in self.must.iter().chain(&self.should).chain(&self.must_not) {
            c.validate()?;
        }
        Ok(())
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
