//! Value conversions with HCL1's leniencies (numbers as strings and strings as numbers).

use crate::duration::parse_duration;
use crate::goparse::{self, IntError};
use crate::hcl::{NumberValue, Value, ValueKind};
use std::time::Duration;

/// Why a value does not convert.
pub(crate) enum Problem {
    /// Not the kind expected; carries what it is.
    WrongType(&'static str),
    /// The kind is right, the value is not; carries why (never the value).
    Invalid(String),
}

pub(crate) fn string(v: &Value) -> Result<String, Problem> {
    match &v.kind {
        ValueKind::String(s) => Ok(s.clone()),
        ValueKind::Number(n) => Ok(n.text.clone()),
        other => Err(Problem::WrongType(other.describe())),
    }
}

pub(crate) fn boolean(v: &Value) -> Result<bool, Problem> {
    match &v.kind {
        ValueKind::Bool(b) => Ok(*b),
        ValueKind::String(s) if s == "true" => Ok(true),
        ValueKind::String(s) if s == "false" => Ok(false),
        ValueKind::String(_) => Err(Problem::Invalid("expected true or false".to_owned())),
        other => Err(Problem::WrongType(other.describe())),
    }
}

pub(crate) fn integer(v: &Value) -> Result<i64, Problem> {
    match &v.kind {
        ValueKind::Number(n) => match n.value {
            NumberValue::Int(i) => Ok(i),
            NumberValue::Float(_) => Err(Problem::Invalid("expected an integer".to_owned())),
        },
        ValueKind::String(s) => goparse::parse_int(s).map_err(|e| {
            Problem::Invalid(match e {
                IntError::Syntax => "not an integer".to_owned(),
                IntError::Range => "out of range".to_owned(),
            })
        }),
        other => Err(Problem::WrongType(other.describe())),
    }
}

pub(crate) fn duration(v: &Value) -> Result<Duration, Problem> {
    let s = string(v)?;
    parse_duration(&s).map_err(|e| Problem::Invalid(e.reason()))
}

pub(crate) fn duration_or_seconds(v: &Value) -> Result<Duration, Problem> {
    let seconds = |i: i64| {
        u64::try_from(i)
            .map(Duration::from_secs)
            .map_err(|_| Problem::Invalid("a duration must not be negative".to_owned()))
    };
    match &v.kind {
        ValueKind::Number(n) => match n.value {
            NumberValue::Int(i) => seconds(i),
            NumberValue::Float(_) => Err(Problem::Invalid("expected whole seconds".to_owned())),
        },
        ValueKind::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => seconds(
            s.parse()
                .map_err(|_| Problem::Invalid("out of range".to_owned()))?,
        ),
        _ => duration(v),
    }
}

const SIZE_UNITS: &[(&str, u64)] = &[
    ("b", 1),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("tb", 1_000_000_000_000),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("tib", 1 << 40),
];

pub(crate) fn byte_size(v: &Value) -> Result<u64, Problem> {
    let bad = || Problem::Invalid("expected a size such as 512, \"64KiB\" or \"10MB\"".to_owned());
    match &v.kind {
        ValueKind::Number(n) => match n.value {
            NumberValue::Int(i) => u64::try_from(i).map_err(|_| bad()),
            NumberValue::Float(_) => Err(bad()),
        },
        ValueKind::String(s) => {
            let s = s.trim();
            let digits = s.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(bad());
            }
            let n: u64 = s[..digits].parse().map_err(|_| bad())?;
            let unit = s[digits..].trim().to_ascii_lowercase();
            let scale = if unit.is_empty() {
                1
            } else {
                SIZE_UNITS
                    .iter()
                    .find(|(u, _)| *u == unit)
                    .map(|(_, m)| *m)
                    .ok_or_else(bad)?
            };
            n.checked_mul(scale).ok_or_else(bad)
        }
        other => Err(Problem::WrongType(other.describe())),
    }
}
