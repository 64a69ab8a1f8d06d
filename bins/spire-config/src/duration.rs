//! Go's duration syntax (`time.ParseDuration` and `Duration.String`), which SPIRE uses for
//! every TTL and interval in its config (`ca_ttl = "24h"`) and flags (`-timeout 5s`).
//!
//! A duration is a sequence of decimal numbers, each with an optional fraction and a unit:
//! `ns`, `us` (or `µs`, `μs`), `ms`, `s`, `m`, `h`, as in `"1h30m"`, `"1.5s"`, `"90s"`; `"0"`
//! alone needs no unit. Go durations may be negative; nothing SPIRE configures is, so a
//! negative duration is refused here.

use std::fmt;
use std::time::Duration;

/// Why a string is not a Go duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError {
    kind: DurationErrorKind,
    input: String,
}

/// The kinds of [`DurationError`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DurationErrorKind {
    /// Not a duration (`time: invalid duration`), or too large for Go's 64-bit nanoseconds.
    Invalid,
    /// A number without a unit (`time: missing unit in duration`), e.g. `"90"`.
    MissingUnit,
    /// A unit Go does not know, e.g. `d` in `"1d"`.
    UnknownUnit(String),
    /// A negative duration.
    Negative,
}

impl DurationError {
    /// What is wrong.
    pub fn kind(&self) -> &DurationErrorKind {
        &self.kind
    }

    /// What is wrong, without quoting the input (for config errors, which never echo values).
    pub fn reason(&self) -> String {
        match &self.kind {
            DurationErrorKind::Invalid => {
                "not a duration (Go syntax, e.g. \"1h30m\", \"90s\", \"500ms\")".to_owned()
            }
            DurationErrorKind::MissingUnit => {
                "missing unit in duration (use e.g. \"90s\", \"5m\", \"24h\")".to_owned()
            }
            DurationErrorKind::UnknownUnit(unit) => format!(
                "unknown unit {} in duration (units: ns, us, ms, s, m, h)",
                crate::goquote::quote(unit)
            ),
            DurationErrorKind::Negative => "a duration must not be negative".to_owned(),
        }
    }
}

/// Go's message, e.g. `time: invalid duration "abc"`.
impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let input = time_quote(&self.input);
        match &self.kind {
            DurationErrorKind::Invalid => write!(f, "time: invalid duration {input}"),
            DurationErrorKind::MissingUnit => write!(f, "time: missing unit in duration {input}"),
            DurationErrorKind::UnknownUnit(unit) => {
                write!(
                    f,
                    "time: unknown unit {} in duration {input}",
                    time_quote(unit)
                )
            }
            DurationErrorKind::Negative => write!(f, "negative duration {input}"),
        }
    }
}

impl std::error::Error for DurationError {}

/// The `time` package's own quoting: `\xNN` for every byte of a non-ASCII or control
/// character, `\` before `"` and `\`.
fn time_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if !c.is_ascii() || (c as u32) < 0x20 {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{b:02x}"));
            }
        } else {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out.push('"');
    out
}

const NANOS_PER_UNIT: &[(&str, u64)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Parses a Go duration such as `"1h30m"`.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let err = |kind| DurationError {
        kind,
        input: input.to_owned(),
    };
    let mut s = input;
    let mut negative = false;
    if let Some(rest) = s.strip_prefix(['-', '+']) {
        negative = s.starts_with('-');
        s = rest;
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(err(DurationErrorKind::Invalid));
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !s.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
            return Err(err(DurationErrorKind::Invalid));
        }
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let int_digits = &s[..int_len];
        s = &s[int_len..];
        let mut frac_digits = "";
        if let Some(rest) = s.strip_prefix('.') {
            let n = rest.bytes().take_while(u8::is_ascii_digit).count();
            frac_digits = &rest[..n];
            s = &rest[n..];
        }
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(err(DurationErrorKind::Invalid));
        }
        let unit_len = s
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if unit_len == 0 {
            return Err(err(DurationErrorKind::MissingUnit));
        }
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        let Some(&(_, scale)) = NANOS_PER_UNIT.iter().find(|(u, _)| *u == unit) else {
            return Err(err(DurationErrorKind::UnknownUnit(unit.to_owned())));
        };
        let whole: u64 = if int_digits.is_empty() {
            0
        } else {
            int_digits
                .parse()
                .map_err(|_| err(DurationErrorKind::Invalid))?
        };
        let mut nanos = whole
            .checked_mul(scale)
            .ok_or_else(|| err(DurationErrorKind::Invalid))?;
        if !frac_digits.is_empty() {
            // Go keeps at most the digits that fit, and scales with floating point.
            let mut f: u64 = 0;
            let mut divisor: f64 = 1.0;
            for d in frac_digits.bytes() {
                if f > i64::MAX as u64 / 10 {
                    break;
                }
                let next = f * 10 + u64::from(d - b'0');
                if next > 1 << 63 {
                    break;
                }
                f = next;
                divisor *= 10.0;
            }
            nanos = nanos
                .checked_add((f as f64 * (scale as f64 / divisor)) as u64)
                .ok_or_else(|| err(DurationErrorKind::Invalid))?;
        }
        total = total
            .checked_add(nanos)
            .ok_or_else(|| err(DurationErrorKind::Invalid))?;
        if total > i64::MAX as u64 {
            return Err(err(DurationErrorKind::Invalid));
        }
    }
    if negative && total > 0 {
        return Err(err(DurationErrorKind::Negative));
    }
    Ok(Duration::from_nanos(total))
}

/// Formats a duration as Go's `Duration.String` does: `5s`, `1m30s`, `1h0m0s`, `1.5s`,
/// `500ms`, `0s`. Durations beyond Go's range (about 292 years) are clamped to it.
pub fn format_duration(d: Duration) -> String {
    let nanos = u64::try_from(d.as_nanos())
        .unwrap_or(u64::MAX)
        .min(i64::MAX as u64);
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < 1_000_000_000 {
        let (unit, prec) = if nanos < 1_000 {
            ("ns", 0)
        } else if nanos < 1_000_000 {
            ("µs", 3)
        } else {
            ("ms", 6)
        };
        return format!("{}{unit}", fixed(nanos, prec));
    }
    let seconds_part = fixed(nanos % 60_000_000_000, 9);
    let minutes = nanos / 60_000_000_000;
    if minutes == 0 {
        return format!("{seconds_part}s");
    }
    let hours = minutes / 60;
    if hours == 0 {
        return format!("{minutes}m{seconds_part}s");
    }
    format!("{hours}h{}m{seconds_part}s", minutes % 60)
}

/// `v / 10^prec` with the fraction's trailing zeros (and a bare point) dropped.
fn fixed(v: u64, prec: u32) -> String {
    let scale = 10u64.pow(prec);
    let whole = v / scale;
    let frac = v % scale;
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:0width$}", width = prec as usize);
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        let cases = [
            ("0", 0),
            ("1h", 3_600_000_000_000),
            ("90s", 90_000_000_000),
            ("1h30m", 5_400_000_000_000),
            ("24h", 86_400_000_000_000),
            ("5m", 300_000_000_000),
            ("1.5s", 1_500_000_000),
            (".5s", 500_000_000),
            ("1.s", 1_000_000_000),
            ("500ms", 500_000_000),
            ("10us", 10_000),
            ("10µs", 10_000),
            ("3ns", 3),
            ("+5s", 5_000_000_000),
            ("-0", 0),
            ("1h1m1s1ms1us1ns", 3_661_001_001_001),
            ("2562047h47m16.854775807s", i64::MAX as u64),
        ];
        for (s, nanos) in cases {
            assert_eq!(parse_duration(s), Ok(Duration::from_nanos(nanos)), "{s}");
        }
    }

    #[test]
    fn refuses_what_go_refuses_with_go_messages() {
        let cases = [
            ("", "time: invalid duration \"\""),
            ("abc", "time: invalid duration \"abc\""),
            ("90", "time: missing unit in duration \"90\""),
            ("1d", "time: unknown unit \"d\" in duration \"1d\""),
            (".s", "time: invalid duration \".s\""),
            ("1h-1m", "time: unknown unit \"h-\" in duration \"1h-1m\""),
            (
                "2562047h47m16.854775808s",
                "time: invalid duration \"2562047h47m16.854775808s\"",
            ),
            (
                "9999999999999999999h",
                "time: invalid duration \"9999999999999999999h\"",
            ),
            (
                "1é",
                "time: unknown unit \"\\xc3\\xa9\" in duration \"1\\xc3\\xa9\"",
            ),
        ];
        for (s, msg) in cases {
            assert_eq!(
                parse_duration(s).map_err(|e| e.to_string()),
                Err(msg.to_owned()),
                "{s}"
            );
        }
        assert_eq!(
            parse_duration("-5s").map_err(|e| e.kind().clone()),
            Err(DurationErrorKind::Negative)
        );
    }

    #[test]
    fn formats_as_go() {
        let cases = [
            (0, "0s"),
            (5_000_000_000, "5s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (5_400_000_000_000, "1h30m0s"),
            (1_500_000_000, "1.5s"),
            (500_000_000, "500ms"),
            (1_500_000, "1.5ms"),
            (10_000, "10µs"),
            (3, "3ns"),
            (86_400_000_000_000, "24h0m0s"),
            (3_661_001_001_001, "1h1m1.001001001s"),
        ];
        for (nanos, s) in cases {
            assert_eq!(format_duration(Duration::from_nanos(nanos)), s);
        }
    }

    proptest::proptest! {
        #[test]
        fn format_then_parse_is_identity(nanos in 0u64..=i64::MAX as u64) {
            let d = Duration::from_nanos(nanos);
            proptest::prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
    }
}
