//! Go's `strconv` number and bool syntax, as SPIRE's tools accept it.
//!
//! Go's `flag` package parses `-flag` values with `strconv.ParseInt(s, 0, 64)`,
//! `ParseUint(s, 0, 64)` and `ParseBool`, and SPIRE's HCL decoder turns a quoted port
//! (`bind_port = "8081"`) into a number with `ParseInt(s, 0, 0)`. Base 0 means: an optional
//! sign, then `0x`/`0X` (hex), `0b`/`0B` (binary), `0o`/`0O` or a bare leading `0` (octal), or
//! decimal; `_` may separate digits only when a base is implied this way.

use std::fmt;

/// Why a string is not a Go integer. Displays as Go's `strconv` error strings
/// (`invalid syntax`, `value out of range`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntError {
    /// Not an integer in Go syntax.
    Syntax,
    /// An integer that does not fit.
    Range,
}

impl fmt::Display for IntError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IntError::Syntax => "invalid syntax",
            IntError::Range => "value out of range",
        })
    }
}

/// `strconv.ParseUint(s, 0, 64)`.
pub(crate) fn parse_uint(s: &str) -> Result<u64, IntError> {
    if s.is_empty() {
        return Err(IntError::Syntax);
    }
    let bytes = s.as_bytes();
    let (base, digits) = match bytes {
        [b'0', p, rest @ ..] if p.eq_ignore_ascii_case(&b'x') => (16, rest),
        [b'0', p, rest @ ..] if p.eq_ignore_ascii_case(&b'b') => (2, rest),
        [b'0', p, rest @ ..] if p.eq_ignore_ascii_case(&b'o') => (8, rest),
        [b'0', rest @ ..] if !rest.is_empty() => (8, rest),
        _ => (10, bytes),
    };
    // Go: a base prefix with nothing after it ("0x") is a syntax error.
    if digits.is_empty() {
        return Err(IntError::Syntax);
    }
    let mut value: u64 = 0;
    let mut underscores = false;
    for &b in digits {
        let d = match b {
            b'_' => {
                underscores = true;
                continue;
            }
            b'0'..=b'9' => u64::from(b - b'0'),
            b'a'..=b'z' => u64::from(b - b'a') + 10,
            b'A'..=b'Z' => u64::from(b - b'A') + 10,
            _ => return Err(IntError::Syntax),
        };
        if d >= base {
            return Err(IntError::Syntax);
        }
        value = value
            .checked_mul(base)
            .and_then(|v| v.checked_add(d))
            .ok_or(IntError::Range)?;
    }
    if underscores && !underscore_ok(s) {
        return Err(IntError::Syntax);
    }
    Ok(value)
}

/// `strconv.ParseInt(s, 0, 64)`.
pub(crate) fn parse_int(s: &str) -> Result<i64, IntError> {
    let (negative, magnitude) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let magnitude = parse_uint(magnitude)?;
    if negative {
        if magnitude > 1 << 63 {
            return Err(IntError::Range);
        }
        Ok((magnitude as i64).wrapping_neg())
    } else {
        i64::try_from(magnitude).map_err(|_| IntError::Range)
    }
}

/// `strconv.ParseBool`: `1 t T TRUE true True 0 f F FALSE false False`.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `underscoreOK`: `_` must separate digits (a base prefix counts as a digit).
fn underscore_ok(s: &str) -> bool {
    let mut s = s.as_bytes();
    if let [b'-' | b'+', rest @ ..] = s {
        s = rest;
    }
    let mut saw = b'^';
    let mut hex = false;
    let mut i = 0;
    if s.len() >= 2 && s[0] == b'0' && matches!(s[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = s[1].eq_ignore_ascii_case(&b'x');
    }
    while i < s.len() {
        let c = s[i];
        i += 1;
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
            continue;
        }
        if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
            continue;
        }
        if saw == b'_' {
            return false;
        }
        saw = b'!';
    }
    saw != b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_in_go_syntax() {
        assert_eq!(parse_int("8081"), Ok(8081));
        assert_eq!(parse_int("-12"), Ok(-12));
        assert_eq!(parse_int("+12"), Ok(12));
        assert_eq!(parse_int("0x1F"), Ok(31));
        assert_eq!(parse_int("0o17"), Ok(15));
        assert_eq!(parse_int("017"), Ok(15));
        assert_eq!(parse_int("0b101"), Ok(5));
        assert_eq!(parse_int("1_000"), Ok(1000));
        assert_eq!(parse_int("0x_1F"), Ok(31));
        assert_eq!(parse_int("0"), Ok(0));
        assert_eq!(parse_int("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_int("9223372036854775808"), Err(IntError::Range));
        assert_eq!(parse_int("08081"), Err(IntError::Syntax));
        assert_eq!(parse_int("1__0"), Err(IntError::Syntax));
        assert_eq!(parse_int("_1"), Err(IntError::Syntax));
        assert_eq!(parse_int("1_"), Err(IntError::Syntax));
        assert_eq!(parse_int("0x"), Err(IntError::Syntax));
        assert_eq!(parse_int(""), Err(IntError::Syntax));
        assert_eq!(parse_int("-"), Err(IntError::Syntax));
        assert_eq!(parse_int("abc"), Err(IntError::Syntax));
        assert_eq!(parse_int("1.5"), Err(IntError::Syntax));
        assert_eq!(parse_uint("-1"), Err(IntError::Syntax));
        assert_eq!(parse_uint("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_uint("18446744073709551616"), Err(IntError::Range));
    }

    #[test]
    fn bools_in_go_syntax() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        for bad in ["", "yes", "tRUE", "2"] {
            assert_eq!(parse_bool(bad), None, "{bad}");
        }
    }
}
