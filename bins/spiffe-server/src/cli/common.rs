//! What the admin verbs share, as SPIRE's `cliprinter` and `cmd/spire-server/util` provide it:
//! the `-output pretty|json` flag, JSON printing (protojson with proto field names and
//! unpopulated fields, nulls dropped, keys sorted, compact, one line), selector and SPIFFE ID
//! parsing with go-spiffe's error texts, Go's time and plural formatting.

use serde_json::{json, Value};
use spire_api_proto::types;

use super::client::Env;

pub use spire_api_proto::cli_text::json::{go_escape, id_json, int64};
pub use spire_config::flags::{output_flag, Output};

/// Prints `value` as SPIRE's `protojson.Print` does: nulls removed, keys sorted, compact,
/// HTML-escaped like Go's `json.Encoder`, then a newline.
pub fn print_json(env: &mut Env, value: Value) {
    env.println(&spire_api_proto::cli_text::json::json_line(value));
}

/// protojson's bytes: standard base64 with padding.
pub fn bytes(v: &[u8]) -> Value {
    use base64::Engine;
    Value::String(base64::engine::general_purpose::STANDARD.encode(v))
}

/// `types.Selector`.
pub fn selector_json(s: &types::Selector) -> Value {
    json!({"type": s.r#type, "value": s.value})
}

/// `types.Status`, or null.
pub fn status_json(s: Option<&types::Status>) -> Value {
    match s {
        Some(s) => json!({"code": s.code, "message": s.message}),
        None => Value::Null,
    }
}

/// `types.Entry`, or null.
pub fn entry_json(e: Option<&types::Entry>) -> Value {
    let Some(e) = e else { return Value::Null };
    json!({
        "id": e.id,
        "spiffe_id": id_json(e.spiffe_id.as_ref()),
        "parent_id": id_json(e.parent_id.as_ref()),
        "selectors": e.selectors.iter().map(selector_json).collect::<Vec<_>>(),
        "x509_svid_ttl": e.x509_svid_ttl,
        "federates_with": e.federates_with,
        "admin": e.admin,
        "downstream": e.downstream,
        "expires_at": int64(e.expires_at),
        "dns_names": e.dns_names,
        "revision_number": int64(e.revision_number),
        "store_svid": e.store_svid,
        "jwt_svid_ttl": e.jwt_svid_ttl,
        "hint": e.hint,
        "created_at": int64(e.created_at),
        "additional_attributes": e.additional_attributes.as_ref().map(|a| json!({
            "disable_x509_svid_prefetch": a.disable_x509_svid_prefetch,
            "jwt_svid_include_jti": a.jwt_svid_include_jti,
        })),
    })
}

/// `types.Agent`.
pub fn agent_json(a: &types::Agent) -> Value {
    json!({
        "id": id_json(a.id.as_ref()),
        "attestation_type": a.attestation_type,
        "x509svid_serial_number": a.x509svid_serial_number,
        "x509svid_expires_at": int64(a.x509svid_expires_at),
        "selectors": a.selectors.iter().map(selector_json).collect::<Vec<_>>(),
        "banned": a.banned,
        "can_reattest": a.can_reattest,
        "agent_version": a.agent_version,
    })
}

/// `types.Bundle`, or null.
pub fn bundle_json(b: Option<&types::Bundle>) -> Value {
    let Some(b) = b else { return Value::Null };
    json!({
        "trust_domain": b.trust_domain,
        "x509_authorities": b.x509_authorities.iter().map(|a| json!({
            "asn1": bytes(&a.asn1),
            "tainted": a.tainted,
        })).collect::<Vec<_>>(),
        "jwt_authorities": b.jwt_authorities.iter().map(|k| json!({
            "public_key": bytes(&k.public_key),
            "key_id": k.key_id,
            "expires_at": int64(k.expires_at),
            "tainted": k.tainted,
        })).collect::<Vec<_>>(),
        "refresh_hint": int64(b.refresh_hint),
        "sequence_number": b.sequence_number.to_string(),
        "wit_authorities": b.wit_authorities.iter().map(|k| json!({
            "public_key": bytes(&k.public_key),
            "key_id": k.key_id,
            "expires_at": int64(k.expires_at),
            "tainted": k.tainted,
        })).collect::<Vec<_>>(),
    })
}

pub use spire_api_proto::cli_text::{go_id_error, parse_id, parse_trust_domain};

/// `spiffe://td/path` from a `types.SPIFFEID` (empty for none), as SPIRE's CLI prints it.
pub fn id_string(id: Option<&types::Spiffeid>) -> String {
    match id {
        Some(id) => format!("spiffe://{}{}", id.trust_domain, id.path),
        None => String::new(),
    }
}

/// SPIRE's `util.ParseSelector`: `type:value`, split at the first colon.
pub fn parse_selector(text: &str) -> Result<types::Selector, String> {
    match text.split_once(':') {
        Some((t, v)) => Ok(types::Selector {
            r#type: t.to_owned(),
            value: v.to_owned(),
        }),
        None => Err(format!(
            "selector \"{text}\" must be formatted as type:value"
        )),
    }
}

/// SPIRE's `util.Pluralizer`: `msg` then the singular or the plural.
pub fn plural(msg: &str, singular: &str, plural: &str, n: i64) -> String {
    format!("{msg}{}", if n == 1 { singular } else { plural })
}

/// `SelectorMatch` and `FederatesWithMatch` behaviours (same numbering in both enums).
pub fn match_behavior(text: &str) -> Option<i32> {
    match text {
        "exact" => Some(0),
        "subset" => Some(1),
        "superset" => Some(2),
        "any" => Some(3),
        _ => None,
    }
}

/// Go's `time.Unix(secs, 0).UTC().String()`: `2006-01-02 15:04:05 +0000 UTC`.
pub fn go_time_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} +0000 UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Go's `%q` of a string (the common cases: quotes, backslashes, control characters).
pub fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `codes.Code(n).String()`.
pub fn code_name(code: i32) -> String {
    daemon_telemetry::grpc_code_name(code).map_or_else(|| format!("Code({code})"), str::to_owned)
}

/// Reads a file, or stdin for `-`.
pub fn read_input(path: &str) -> Result<Vec<u8>, String> {
    use std::io::Read;
    if path == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| e.to_string())?;
        return Ok(buf);
    }
    std::fs::read(path).map_err(|e| go_open_error(path, &e))
}

/// Go's `*PathError` text for a failed open: `open <path>: no such file or directory`.
pub fn go_open_error(path: &str, e: &std::io::Error) -> String {
    let reason = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ if e.raw_os_error() == Some(21) => "is a directory".to_owned(),
        _ => e.to_string(),
    };
    format!("open {path}: {reason}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn go_time_matches_go() {
        assert_eq!(go_time_utc(0), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(go_time_utc(1_552_410_266), "2019-03-12 17:04:26 +0000 UTC");
        assert_eq!(go_time_utc(951_782_400), "2000-02-29 00:00:00 +0000 UTC");
    }

    #[test]
    fn selectors_split_at_first_colon() {
        let s = parse_selector("unix:uid:0").unwrap();
        assert_eq!((s.r#type.as_str(), s.value.as_str()), ("unix", "uid:0"));
        assert_eq!(
            parse_selector("nocolon").unwrap_err(),
            "selector \"nocolon\" must be formatted as type:value"
        );
    }
}
