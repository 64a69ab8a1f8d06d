//! Log lines as SPIRE's logger (logrus) writes them.
//!
//! Text (logrus `TextFormatter`, not on a terminal):
//! `time="2024-05-06T07:08:09.123456789Z" level=info msg="Starting server" subsystem_name=ca`,
//! the time, level and message first, then the fields sorted by name; a value is quoted (Go
//! `%q`) unless it is made only of `A-Z a-z 0-9 - . _ / @ ^ +`.
//!
//! JSON (logrus `JSONFormatter`): one object per line with every key sorted, `level`, `msg`,
//! `time` among them; fields named like those three become `fields.level` and so on.
//!
//! Times are RFC 3339 with nanoseconds, trailing zeros dropped, in UTC.

use crate::gofmt;
use spire_config::goquote;
use std::time::{SystemTime, UNIX_EPOCH};

/// A field's value as recorded from a `tracing` event or span.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FieldValue {
    Str(String),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

impl FieldValue {
    fn text(&self) -> String {
        match self {
            FieldValue::Str(s) => s.clone(),
            FieldValue::I64(i) => i.to_string(),
            FieldValue::U64(u) => u.to_string(),
            FieldValue::F64(f) => gofmt::float(*f),
            FieldValue::Bool(b) => b.to_string(),
        }
    }

    fn json(&self, out: &mut String) {
        match self {
            FieldValue::Str(s) => gofmt::json_string(s, out),
            FieldValue::I64(i) => out.push_str(&i.to_string()),
            FieldValue::U64(u) => out.push_str(&u.to_string()),
            FieldValue::F64(f) => out.push_str(&gofmt::json_float(*f)),
            FieldValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        }
    }
}

/// One event, ready to format.
pub(crate) struct Record<'a> {
    pub(crate) time: SystemTime,
    /// logrus's level name: `error`, `warning`, `info`, `debug`, `trace`.
    pub(crate) level: &'static str,
    pub(crate) message: Option<&'a str>,
    /// Span fields (outermost first) then event fields; a later field replaces an earlier one
    /// of the same name, as logrus's `WithField` does.
    pub(crate) fields: &'a [(String, FieldValue)],
}

fn dedup_sorted(fields: &[(String, FieldValue)]) -> Vec<(&str, &FieldValue)> {
    let mut out: Vec<(&str, &FieldValue)> = Vec::with_capacity(fields.len());
    for (name, value) in fields {
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => out.push((name, value)),
        }
    }
    out.sort_by(|a, b| a.0.cmp(b.0));
    out
}

fn needs_quoting(s: &str) -> bool {
    !s.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '/' | '@' | '^' | '+'))
}

fn text_value(s: &str, out: &mut String) {
    if needs_quoting(s) {
        out.push_str(&goquote::quote(s));
    } else {
        out.push_str(s);
    }
}

/// A logrus text line, with its newline.
pub(crate) fn text_line(record: &Record<'_>) -> String {
    let mut out = String::with_capacity(128);
    out.push_str("time=");
    text_value(&rfc3339_nano(record.time), &mut out);
    out.push_str(" level=");
    out.push_str(record.level);
    if let Some(message) = record.message.filter(|m| !m.is_empty()) {
        out.push_str(" msg=");
        text_value(message, &mut out);
    }
    for (name, value) in dedup_sorted(record.fields) {
        out.push(' ');
        out.push_str(name);
        out.push('=');
        text_value(&value.text(), &mut out);
    }
    out.push('\n');
    out
}

/// A logrus JSON line, with its newline.
pub(crate) fn json_line(record: &Record<'_>) -> String {
    let time = FieldValue::Str(rfc3339_nano(record.time));
    let level = FieldValue::Str(record.level.to_owned());
    let message = record.message.map(|m| FieldValue::Str(m.to_owned()));
    let mut entries: Vec<(String, &FieldValue)> = dedup_sorted(record.fields)
        .into_iter()
        .map(|(name, value)| {
            let clash = matches!(name, "time" | "level" | "msg");
            (
                if clash {
                    format!("fields.{name}")
                } else {
                    name.to_owned()
                },
                value,
            )
        })
        .collect();
    entries.push(("time".to_owned(), &time));
    entries.push(("level".to_owned(), &level));
    if let Some(m) = &message {
        entries.push(("msg".to_owned(), m));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::with_capacity(128);
    out.push('{');
    for (i, (name, value)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        gofmt::json_string(name, &mut out);
        out.push(':');
        value.json(&mut out);
    }
    out.push_str("}\n");
    out
}

/// `time.RFC3339Nano` in UTC: `2006-01-02T15:04:05.999999999Z`.
pub(crate) fn rfc3339_nano(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let nanos = since.subsec_nanos();
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let mut out = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    #[test]
    fn rfc3339_nano_in_utc() {
        assert_eq!(rfc3339_nano(at(0, 0)), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339_nano(at(1_700_000_000, 123_400_000)),
            "2023-11-14T22:13:20.1234Z"
        );
        assert_eq!(
            rfc3339_nano(at(951_782_400, 1)),
            "2000-02-29T00:00:00.000000001Z"
        );
        assert_eq!(
            rfc3339_nano(at(4_102_444_799, 999_999_999)),
            "2099-12-31T23:59:59.999999999Z"
        );
    }

    #[test]
    fn text_lines_as_logrus() {
        let fields = vec![
            ("subsystem_name".to_owned(), FieldValue::Str("ca".into())),
            ("count".to_owned(), FieldValue::I64(3)),
            ("path".to_owned(), FieldValue::Str("/tmp/a b".into())),
            ("count".to_owned(), FieldValue::I64(4)),
            ("ratio".to_owned(), FieldValue::F64(1e6)),
            ("ok".to_owned(), FieldValue::Bool(true)),
        ];
        let record = Record {
            time: at(0, 5),
            level: "info",
            message: Some("Starting server"),
            fields: &fields,
        };
        assert_eq!(
            text_line(&record),
            "time=\"1970-01-01T00:00:00.000000005Z\" level=info msg=\"Starting server\" count=4 ok=true path=\"/tmp/a b\" ratio=1e+06 subsystem_name=ca\n"
        );
        let record = Record {
            time: at(0, 0),
            level: "warning",
            message: None,
            fields: &[],
        };
        assert_eq!(
            text_line(&record),
            "time=\"1970-01-01T00:00:00Z\" level=warning\n"
        );
    }

    #[test]
    fn json_lines_as_logrus() {
        let fields = vec![
            ("subsystem_name".to_owned(), FieldValue::Str("ca<1>".into())),
            ("msg".to_owned(), FieldValue::Str("clash".into())),
            ("n".to_owned(), FieldValue::U64(7)),
        ];
        let record = Record {
            time: at(1, 0),
            level: "error",
            message: Some("a \"b\"\n"),
            fields: &fields,
        };
        assert_eq!(
            json_line(&record),
            "{\"fields.msg\":\"clash\",\"level\":\"error\",\"msg\":\"a \\\"b\\\"\\n\",\"n\":7,\"subsystem_name\":\"ca\\u003c1\\u003e\",\"time\":\"1970-01-01T00:00:01Z\"}\n"
        );
    }
}
