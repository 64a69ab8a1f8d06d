//! [`JsonObject`]: a JSON object (JWT claims, JWK members, members a bundle document carries
//! along) in this crate's own type, so that no JSON library's types are part of the API.

use std::fmt;

use serde_json::{Map, Value};
use thiserror::Error;

/// A JSON object (RFC 8259 §4): the claims of a JWT-SVID, the members of a JWK, the members of
/// a bundle document that are carried along without being interpreted.
///
/// Members are read with typed getters (`get_str`, `get_u64`, …) or, for any member, as JSON
/// text ([`get_json`](Self::get_json)) to hand to a JSON library of the caller's choice. Member
/// order is not preserved; names are unique. With the `serde` feature it serializes as the
/// object it is.
///
/// ```
/// use spiffe_core::json::JsonObject;
///
/// let mut claims = JsonObject::from_json(br#"{"tenant": "blue", "level": 3}"#)?;
/// assert_eq!(claims.get_str("tenant"), Some("blue"));
/// assert_eq!(claims.get_u64("level"), Some(3));
/// claims.insert_strs("groups", ["admin", "ops"]);
/// assert_eq!(claims.get_strs("groups"), Some(vec!["admin", "ops"]));
/// assert_eq!(claims.get_json("groups").as_deref(), Some(r#"["admin","ops"]"#));
/// # Ok::<(), spiffe_core::json::JsonError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct JsonObject(Map<String, Value>);

/// Why JSON text could not be read as a [`JsonObject`] or a member value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum JsonError {
    /// The text is not JSON (RFC 8259).
    #[error("malformed JSON at line {line}, column {column}")]
    Syntax {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
    },
    /// The text is JSON but not an object.
    #[error("JSON value is not an object")]
    NotAnObject,
}

// === impl JsonObject ===

impl JsonObject {
    /// An empty object.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses JSON text that must be an object.
    pub fn from_json(json: &[u8]) -> Result<Self, JsonError> {
        match serde_json::from_slice(json).map_err(syntax)? {
            Value::Object(map) => Ok(Self(map)),
            _ => Err(JsonError::NotAnObject),
        }
    }

    /// The object as compact JSON text.
    pub fn to_json(&self) -> String {
        // Serializing a map of `Value`s cannot fail: every key is a string.
        serde_json::to_string(&self.0).unwrap_or_default()
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a member `name` is present (whatever its value, `null` included).
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The member names.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.keys().map(String::as_str)
    }

    /// Member `name` as JSON text, whatever its type.
    pub fn get_json(&self, name: &str) -> Option<String> {
        self.0.get(name).map(Value::to_string)
    }

    /// Member `name` if it is a string.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.0.get(name)?.as_str()
    }

    /// Member `name` if it is an integer from 0 to 2^64 - 1.
    pub fn get_u64(&self, name: &str) -> Option<u64> {
        self.0.get(name)?.as_u64()
    }

    /// Member `name` if it is an integer from -2^63 to 2^63 - 1.
    pub fn get_i64(&self, name: &str) -> Option<i64> {
        self.0.get(name)?.as_i64()
    }

    /// Member `name` if it is a number, as the closest `f64`.
    pub fn get_f64(&self, name: &str) -> Option<f64> {
        self.0.get(name)?.as_f64()
    }

    /// Member `name` if it is `true` or `false`.
    pub fn get_bool(&self, name: &str) -> Option<bool> {
        self.0.get(name)?.as_bool()
    }

    /// Member `name` if it is an array of strings.
    pub fn get_strs(&self, name: &str) -> Option<Vec<&str>> {
        self.0
            .get(name)?
            .as_array()?
            .iter()
            .map(Value::as_str)
            .collect()
    }

    /// Member `name` if it is an object (a copy).
    pub fn get_object(&self, name: &str) -> Option<JsonObject> {
        self.0.get(name)?.as_object().cloned().map(Self)
    }

    /// Sets member `name` to a string.
    pub fn insert_str(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(name.into(), Value::String(value.into()));
    }

    /// Sets member `name` to an unsigned integer.
    pub fn insert_u64(&mut self, name: impl Into<String>, value: u64) {
        self.0.insert(name.into(), value.into());
    }

    /// Sets member `name` to a signed integer.
    pub fn insert_i64(&mut self, name: impl Into<String>, value: i64) {
        self.0.insert(name.into(), value.into());
    }

    /// Sets member `name` to `true` or `false`.
    pub fn insert_bool(&mut self, name: impl Into<String>, value: bool) {
        self.0.insert(name.into(), value.into());
    }

    /// Sets member `name` to an array of strings.
    pub fn insert_strs<I, S>(&mut self, name: impl Into<String>, values: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let array = values
            .into_iter()
            .map(|v| Value::String(v.into()))
            .collect();
        self.0.insert(name.into(), Value::Array(array));
    }

    /// Sets member `name` to an object.
    pub fn insert_object(&mut self, name: impl Into<String>, value: JsonObject) {
        self.0.insert(name.into(), Value::Object(value.0));
    }

    /// Sets member `name` to the value written as JSON text `json` (any type).
    pub fn insert_json(&mut self, name: impl Into<String>, json: &str) -> Result<(), JsonError> {
        let value: Value = serde_json::from_str(json).map_err(syntax)?;
        self.0.insert(name.into(), value);
        Ok(())
    }

    /// Removes member `name`; returns whether it was present.
    pub fn remove(&mut self, name: &str) -> bool {
        self.0.remove(name).is_some()
    }

    /// An object of these members, for this crate's readers.
    pub(crate) fn from_map(map: Map<String, Value>) -> Self {
        Self(map)
    }

    /// The members, for this crate's readers and writers.
    pub(crate) fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    pub(crate) fn into_map(self) -> Map<String, Value> {
        self.0
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for JsonObject {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for JsonObject {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Map::deserialize(deserializer).map(Self)
    }
}

impl fmt::Debug for JsonObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}

fn syntax(error: serde_json::Error) -> JsonError {
    JsonError::Syntax {
        line: error.line(),
        column: error.column(),
    }
}
