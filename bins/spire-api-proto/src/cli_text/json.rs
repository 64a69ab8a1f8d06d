//! SPIRE's `cliprinter` JSON (`-output json`): protojson with proto field names, nulls dropped,
//! keys sorted, compact, HTML-escaped as Go's `json.Encoder` does, on one line.

use serde_json::{json, Map, Value};

use crate::types;

/// `value` as SPIRE's `protojson.Print` prints it (without the newline).
pub fn json_line(value: Value) -> String {
    let value = drop_nulls(value);
    go_escape(&serde_json::to_string(&value).unwrap_or_default())
}

/// Go's `encoding/json` escapes `<`, `>`, `&`, U+2028 and U+2029 (only ever inside strings).
pub fn go_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// `value` without its null members and elements, at every depth.
pub fn drop_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, drop_nulls(v)))
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .filter(|v| !v.is_null())
                .map(drop_nulls)
                .collect(),
        ),
        other => other,
    }
}

/// protojson's int64/uint64: a decimal string.
pub fn int64(v: i64) -> Value {
    Value::String(v.to_string())
}

/// `types.SPIFFEID`, or null.
pub fn id_json(id: Option<&types::Spiffeid>) -> Value {
    match id {
        Some(id) => json!({"trust_domain": id.trust_domain, "path": id.path}),
        None => Value::Null,
    }
}

/// protojson's enum value: its name, or the number when the value is unknown.
pub fn enum_json(name: Option<&str>, value: i32) -> Value {
    match name {
        Some(name) => json!(name),
        None => json!(value),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn nulls_are_dropped_keys_sorted_and_html_escaped() {
        let v = json!({"z": 1, "a": null, "b": [null, {"c": null, "d": "<&>"}]});
        assert_eq!(json_line(v), r#"{"b":[{"d":"\u003c\u0026\u003e"}],"z":1}"#);
    }
}
