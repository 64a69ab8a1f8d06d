//! The `-data` file of `entry create` / `entry update`: SPIRE's `common.RegistrationEntries`
//! as Go's `encoding/json` reads it (`{"entries": [...]}` with the proto field names of
//! `spire.common.RegistrationEntry`, keys matched case-insensitively, unknown keys and nulls
//! ignored), then converted as SPIRE's `api.RegistrationEntryToProto` does (IDs parsed,
//! federated trust domains normalized to their names).
//!
//! ```
//! let entries = spire_api_proto::cli_text::parse_entries_json(br#"{"entries": [{
//!     "selectors": [{"type": "unix", "value": "uid:0"}],
//!     "spiffe_id": "spiffe://td/w", "parent_id": "spiffe://td/agent",
//!     "x509_svid_ttl": 200, "federates_with": ["spiffe://other"], "entryExpiry": 5
//! }]}"#).unwrap();
//! assert_eq!(entries[0].x509_svid_ttl, 200);
//! assert_eq!(entries[0].federates_with, ["other"]);
//! assert_eq!(entries[0].expires_at, 5);
//! ```

use crate::types;
use serde_json::Value;

use super::{parse_id, parse_trust_domain};

const STRUCT: &str = "RegistrationEntry";

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn mismatch(v: &Value, path: &str, go_type: &str) -> String {
    let what = match v {
        Value::Number(n) => format!("number {n}"),
        other => json_kind(other).to_owned(),
    };
    format!("json: cannot unmarshal {what} into Go struct field {STRUCT}.{path} of type {go_type}")
}

fn as_string(v: &Value, path: &str) -> Result<Option<String>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        other => Err(mismatch(other, path, "string")),
    }
}

fn as_bool(v: &Value, path: &str) -> Result<Option<bool>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        other => Err(mismatch(other, path, "bool")),
    }
}

fn as_int(v: &Value, path: &str, go_type: &str, min: i64, max: i64) -> Result<Option<i64>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => match n.as_i64() {
            Some(i) if (min..=max).contains(&i) => Ok(Some(i)),
            _ => Err(mismatch(v, path, go_type)),
        },
        other => Err(mismatch(other, path, go_type)),
    }
}

fn as_strings(v: &Value, path: &str) -> Result<Option<Vec<String>>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Array(items) => items
            .iter()
            .map(|i| as_string(i, path).map(Option::unwrap_or_default))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        other => Err(mismatch(other, path, "[]string")),
    }
}

/// The fields of `obj`, each under the name of `names` it matches (Go: exact first, then
/// case-insensitively); keys matching none are ignored.
fn fields<'a>(
    obj: &'a serde_json::Map<String, Value>,
    names: &[&'static str],
) -> Vec<(&'static str, &'a Value)> {
    obj.iter()
        .filter_map(|(k, v)| {
            names
                .iter()
                .find(|n| **n == k)
                .or_else(|| names.iter().find(|n| n.eq_ignore_ascii_case(k)))
                .map(|n| (*n, v))
        })
        .collect()
}

/// One `RegistrationEntry` as Go decodes it (IDs still strings).
#[derive(Default)]
struct Raw {
    entry: types::Entry,
    spiffe_id: String,
    parent_id: String,
}

fn selector(v: &Value) -> Result<Option<types::Selector>, String> {
    let path = "entries.selectors";
    match v {
        Value::Null => Ok(None),
        Value::Object(obj) => {
            let mut s = types::Selector::default();
            for (name, v) in fields(obj, &["type", "value"]) {
                let text = as_string(v, &format!("{path}.{name}"))?.unwrap_or_default();
                match name {
                    "type" => s.r#type = text,
                    _ => s.value = text,
                }
            }
            Ok(Some(s))
        }
        other => Err(format!(
            "json: cannot unmarshal {} into Go struct field {STRUCT}.{path} of type common.Selector",
            json_kind(other)
        )),
    }
}

fn raw_entry(obj: &serde_json::Map<String, Value>) -> Result<Raw, String> {
    const NAMES: &[&str] = &[
        "selectors",
        "parent_id",
        "spiffe_id",
        "x509_svid_ttl",
        "federates_with",
        "entry_id",
        "admin",
        "downstream",
        "entryExpiry",
        "dns_names",
        "revision_number",
        "store_svid",
        "jwt_svid_ttl",
        "hint",
        "created_at",
        "additional_attributes",
    ];
    let mut raw = Raw::default();
    let e = &mut raw.entry;
    for (name, v) in fields(obj, NAMES) {
        let path = format!("entries.{name}");
        match name {
            "selectors" => match v {
                Value::Null => {}
                Value::Array(items) => {
                    // Go keeps a null element as a nil *Selector, which SPIRE's conversion
                    // then dereferences; refused here instead.
                    e.selectors = items
                        .iter()
                        .map(|i| selector(i)?.ok_or_else(|| "missing selector".to_owned()))
                        .collect::<Result<_, _>>()?;
                }
                other => return Err(mismatch(other, &path, "[]*common.Selector")),
            },
            "parent_id" => raw.parent_id = as_string(v, &path)?.unwrap_or_default(),
            "spiffe_id" => raw.spiffe_id = as_string(v, &path)?.unwrap_or_default(),
            "x509_svid_ttl" | "jwt_svid_ttl" => {
                if let Some(ttl) = as_int(v, &path, "int32", i32::MIN.into(), i32::MAX.into())? {
                    let ttl = i32::try_from(ttl).unwrap_or_default();
                    if name == "x509_svid_ttl" {
                        e.x509_svid_ttl = ttl;
                    } else {
                        e.jwt_svid_ttl = ttl;
                    }
                }
            }
            "federates_with" => e.federates_with = as_strings(v, &path)?.unwrap_or_default(),
            "dns_names" => e.dns_names = as_strings(v, &path)?.unwrap_or_default(),
            "entry_id" => e.id = as_string(v, &path)?.unwrap_or_default(),
            "hint" => e.hint = as_string(v, &path)?.unwrap_or_default(),
            "admin" => e.admin = as_bool(v, &path)?.unwrap_or_default(),
            "downstream" => e.downstream = as_bool(v, &path)?.unwrap_or_default(),
            "store_svid" => e.store_svid = as_bool(v, &path)?.unwrap_or_default(),
            "entryExpiry" | "revision_number" | "created_at" => {
                if let Some(n) = as_int(v, &path, "int64", i64::MIN, i64::MAX)? {
                    match name {
                        "entryExpiry" => e.expires_at = n,
                        "revision_number" => e.revision_number = n,
                        _ => e.created_at = n,
                    }
                }
            }
            _ => match v {
                Value::Null => {}
                Value::Object(attrs) => {
                    let mut a = types::entry::AdditionalAttributes::default();
                    for (name, v) in fields(
                        attrs,
                        &["disable_x509_svid_prefetch", "jwt_svid_include_jti"],
                    ) {
                        let b = as_bool(v, &format!("{path}.{name}"))?.unwrap_or_default();
                        if name == "disable_x509_svid_prefetch" {
                            a.disable_x509_svid_prefetch = b;
                        } else {
                            a.jwt_svid_include_jti = b;
                        }
                    }
                    e.additional_attributes = Some(a);
                }
                other => {
                    return Err(mismatch(
                        other,
                        &path,
                        "common.RegistrationEntry_AdditionalAttributes",
                    ))
                }
            },
        }
    }
    Ok(raw)
}

/// Parses a `-data` file into the entries to send, or SPIRE's error text.
pub fn parse_entries_json(data: &[u8]) -> Result<Vec<types::Entry>, String> {
    let doc: Value = serde_json::from_slice(data).map_err(|e| e.to_string())?;
    let obj = match &doc {
        Value::Object(obj) => obj,
        // Go leaves the struct empty on `null`.
        Value::Null => return Ok(Vec::new()),
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type common.RegistrationEntries",
                json_kind(other)
            ))
        }
    };
    let mut out = Vec::new();
    for (_, v) in fields(obj, &["entries"]) {
        let items = match v {
            Value::Null => continue,
            Value::Array(items) => items,
            other => {
                return Err(format!(
                    "json: cannot unmarshal {} into Go struct field RegistrationEntries.entries of type []*common.RegistrationEntry",
                    json_kind(other)
                ))
            }
        };
        out.clear();
        for item in items {
            let raw = match item {
                Value::Object(o) => raw_entry(o)?,
                Value::Null => return Err("missing registration entry".into()),
                other => {
                    return Err(format!(
                        "json: cannot unmarshal {} into Go struct field RegistrationEntries.entries of type common.RegistrationEntry",
                        json_kind(other)
                    ))
                }
            };
            out.push(raw);
        }
    }
    out.into_iter().map(to_proto).collect()
}

/// SPIRE's `api.RegistrationEntryToProto`.
fn to_proto(raw: Raw) -> Result<types::Entry, String> {
    let mut e = raw.entry;
    e.spiffe_id = Some(parse_id(&raw.spiffe_id).map_err(|m| format!("invalid SPIFFE ID: {m}"))?);
    e.parent_id = Some(parse_id(&raw.parent_id).map_err(|m| format!("invalid parent ID: {m}"))?);
    e.federates_with = e
        .federates_with
        .iter()
        .map(|td| {
            parse_trust_domain(td).map_err(|m| format!("invalid federated trust domain: {m}"))
        })
        .collect::<Result<_, _>>()?;
    Ok(e)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_spire_example_file() {
        let entries = parse_entries_json(
            br#"{"entries":[{"selectors":[{"type":"unix","value":"uid:1111"}],"spiffe_id":"spiffe://example.org/Blog","parent_id":"spiffe://example.org/spire/agent/join_token/TokenBlog","x509_svid_ttl":200,"jwt_svid_ttl":30,"admin":true,"hint":"h","ENTRY_ID":"e1","unknown":1},
            {"selectors":[{"type":"unix","value":"uid:1111"}],"spiffe_id":"spiffe://example.org/Database","parent_id":"spiffe://example.org/spire/agent/join_token/TokenDatabase","dns_names":["db"],"store_svid":true}]}"#,
        )
        .unwrap();
        assert_eq!(entries.len(), 2);
        let e = &entries[0];
        assert_eq!(e.id, "e1");
        assert_eq!(e.spiffe_id.as_ref().unwrap().path, "/Blog");
        assert_eq!(e.parent_id.as_ref().unwrap().trust_domain, "example.org");
        assert_eq!((e.x509_svid_ttl, e.jwt_svid_ttl, e.admin), (200, 30, true));
        assert_eq!(e.selectors[0].value, "uid:1111");
        assert!(entries[1].store_svid);
        assert_eq!(entries[1].dns_names, ["db"]);
    }

    #[test]
    fn refuses_what_go_refuses() {
        let err = parse_entries_json(br#"{"entries":[{"x509_svid_ttl":"1"}]}"#).unwrap_err();
        assert_eq!(err, "json: cannot unmarshal string into Go struct field RegistrationEntry.entries.x509_svid_ttl of type int32");
        let err = parse_entries_json(br#"{"entries":[{"x509_svid_ttl":4294967296}]}"#).unwrap_err();
        assert!(err.contains("number 4294967296"), "{err}");
        let err =
            parse_entries_json(br#"{"entries":[{"spiffe_id":"spiffe://td/a"}]}"#).unwrap_err();
        assert_eq!(err, "invalid parent ID: cannot be empty");
        let err = parse_entries_json(br#"{"entries":[{"spiffe_id":"http://td/a"}]}"#).unwrap_err();
        assert_eq!(err, "invalid SPIFFE ID: scheme is missing or invalid");
        assert!(parse_entries_json(b"{").is_err());
        assert_eq!(parse_entries_json(b"{}").unwrap().len(), 0);
    }
}
