//! JSON to `serde_json::Value`, noticing duplicate member names.
//!
//! serde_json keeps the last of two equal member names without a word. RFC 8259 §4 leaves
//! duplicates to the parser, RFC 7517 §4 lets a JWK parser reject them, and BUNDLE-15 requires
//! a Bundle Map consumer to reject duplicate trust domains when it can detect them; this reader
//! detects them anywhere and reports where the first one is.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// One step from the root of a document to a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PathSegment {
    /// A member of an object.
    Member(String),
    /// An element of an array.
    Index(usize),
}

/// A parsed document and, if any, the path of the first duplicate member name (the path ends
/// with the repeated name).
#[derive(Debug)]
pub(crate) struct CheckedValue {
    pub(crate) value: Value,
    pub(crate) duplicate: Option<Vec<PathSegment>>,
}

/// Parses `json`; duplicates are reported in the result, syntax errors as `Err`.
pub(crate) fn parse(json: &[u8]) -> Result<CheckedValue, serde_json::Error> {
    serde_json::from_slice(json)
}

// === impl CheckedValue ===

impl CheckedValue {
    fn plain(value: Value) -> Self {
        Self {
            value,
            duplicate: None,
        }
    }
}

impl<'de> Deserialize<'de> for CheckedValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = CheckedValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<CheckedValue, E> {
        Ok(CheckedValue::plain(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<CheckedValue, E> {
        Ok(CheckedValue::plain(Value::Number(v.into())))
    }

    fn visit_u64<E>(self, v: u64) -> Result<CheckedValue, E> {
        Ok(CheckedValue::plain(Value::Number(v.into())))
    }

    fn visit_f64<E>(self, v: f64) -> Result<CheckedValue, E> {
        Ok(CheckedValue::plain(
            Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }

    fn visit_str<E>(self, v: &str) -> Result<CheckedValue, E> {
        Ok(CheckedValue::plain(Value::String(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<CheckedValue, E> {
        Ok(CheckedValue::plain(Value::String(v)))
    }

    fn visit_unit<E>(self) -> Result<CheckedValue, E> {
        Ok(CheckedValue::plain(Value::Null))
    }

    fn visit_none<E>(self) -> Result<CheckedValue, E> {
        Ok(CheckedValue::plain(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CheckedValue, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        let mut duplicate = None;
        while let Some(item) = seq.next_element::<CheckedValue>()? {
            if duplicate.is_none() {
                duplicate = item
                    .duplicate
                    .map(|path| prefixed(PathSegment::Index(items.len()), path));
            }
            items.push(item.value);
        }
        Ok(CheckedValue {
            value: Value::Array(items),
            duplicate,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<CheckedValue, A::Error> {
        let mut map = Map::new();
        let mut duplicate = None;
        while let Some(name) = access.next_key::<String>()? {
            let item = access.next_value::<CheckedValue>()?;
            if map.contains_key(&name) {
                duplicate.get_or_insert_with(|| vec![PathSegment::Member(name)]);
                continue;
            }
            if duplicate.is_none() {
                duplicate = item
                    .duplicate
                    .map(|path| prefixed(PathSegment::Member(name.clone()), path));
            }
            map.insert(name, item.value);
        }
        Ok(CheckedValue {
            value: Value::Object(map),
            duplicate,
        })
    }
}

fn prefixed(first: PathSegment, mut rest: Vec<PathSegment>) -> Vec<PathSegment> {
    rest.insert(0, first);
    rest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dup(json: &str) -> Option<Vec<PathSegment>> {
        parse(json.as_bytes())
            .expect("test JSON is well-formed")
            .duplicate
    }

    #[test]
    fn finds_duplicates_at_any_depth() {
        assert_eq!(dup(r#"{"a":1,"b":[{"c":1}]}"#), None);
        assert_eq!(
            dup(r#"{"a":1,"a":2}"#),
            Some(vec![PathSegment::Member("a".into())])
        );
        assert_eq!(
            dup(r#"{"keys":[{}, {"x":1,"x":1}]}"#),
            Some(vec![
                PathSegment::Member("keys".into()),
                PathSegment::Index(1),
                PathSegment::Member("x".into())
            ])
        );
    }

    #[test]
    fn keeps_numbers_exact() {
        let v = parse(br#"{"s":18446744073709551615,"n":-1,"f":1.5}"#)
            .expect("well-formed")
            .value;
        assert_eq!(v["s"].as_u64(), Some(u64::MAX));
        assert_eq!(v["n"].as_i64(), Some(-1));
        assert_eq!(v["f"].as_f64(), Some(1.5));
    }
}
