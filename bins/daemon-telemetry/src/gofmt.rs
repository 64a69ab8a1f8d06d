//! Go's text forms of values, for output that reads as SPIRE's: floats as `%v` and
//! Prometheus's `expfmt` print them (`strconv.FormatFloat(f, 'g', -1, 64)`), and JSON strings
//! as `encoding/json` escapes them (HTML-safe), and gRPC status codes as grpc-go names them.

/// grpc-go's `codes.Code(n).String()` for the codes it names (`InvalidArgument`, `Canceled`):
/// what SPIRE prints in `rpc error: code = … desc = …` lines and labels its metrics with.
/// `None` for a number outside 0–16 (Go prints `Code(n)` for those).
pub fn grpc_code_name(code: i32) -> Option<&'static str> {
    const NAMES: [&str; 17] = [
        "OK",
        "Canceled",
        "Unknown",
        "InvalidArgument",
        "DeadlineExceeded",
        "NotFound",
        "AlreadyExists",
        "PermissionDenied",
        "ResourceExhausted",
        "FailedPrecondition",
        "Aborted",
        "OutOfRange",
        "Unimplemented",
        "Internal",
        "Unavailable",
        "DataLoss",
        "Unauthenticated",
    ];
    usize::try_from(code)
        .ok()
        .and_then(|i| NAMES.get(i))
        .copied()
}

/// `strconv.FormatFloat(f, 'g', -1, 64)` (also what `%v` prints): the shortest digits that
/// read back, in exponent form when the decimal exponent is below -4 or at least 6 (`1e+06`,
/// `123456`, `1e-05`, `0.0001`); `+Inf`, `-Inf`, `NaN`.
pub(crate) fn float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-1.2345e6", "5e-3".
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f < 0.0 { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.abs());
    }
    // Fixed notation: the decimal point goes after exp+1 digits.
    let point = exp + 1;
    let body = if point <= 0 {
        format!("0.{}{}", "0".repeat(point.unsigned_abs() as usize), digits)
    } else if point as usize >= digits.len() {
        format!("{}{}", digits, "0".repeat(point as usize - digits.len()))
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!("{int}.{frac}")
    };
    format!("{sign}{body}")
}

/// A JSON string as Go's `encoding/json` writes it: `"` `\` and control characters escaped
/// (`\n`, `\r`, `\t`, else `\u00XX`), and `<`, `>`, `&`, U+2028, U+2029 as `\u` escapes.
pub(crate) fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A float as Go's `encoding/json` writes it: plain digits from 1e-6 to 1e21, exponent form
/// (`1e+21`, `1e-07`) outside.
pub(crate) fn json_float(f: f64) -> String {
    if !f.is_finite() {
        // encoding/json refuses these; logrus then writes the error instead. A string is kinder.
        let mut s = String::new();
        json_string(&float(f), &mut s);
        return s;
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let sci = format!("{f:e}");
        let (m, e) = sci.split_once('e').unwrap_or((&sci, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        let sign = if e < 0 { '-' } else { '+' };
        return format!("{m}e{sign}{:02}", e.abs());
    }
    format!("{f}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_codes_are_named_as_grpc_go_names_them() {
        assert_eq!(grpc_code_name(0), Some("OK"));
        assert_eq!(grpc_code_name(1), Some("Canceled"));
        assert_eq!(grpc_code_name(3), Some("InvalidArgument"));
        assert_eq!(grpc_code_name(16), Some("Unauthenticated"));
        assert_eq!(grpc_code_name(17), None);
        assert_eq!(grpc_code_name(-1), None);
    }

    #[test]
    fn floats_as_go_prints_them() {
        let cases = [
            (0.0, "0"),
            (1.0, "1"),
            (-2.5, "-2.5"),
            (0.005, "0.005"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (123456.0, "123456"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (1e21, "1e+21"),
            (1e100, "1e+100"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ];
        for (f, s) in cases {
            assert_eq!(float(f), s, "{f}");
        }
    }

    #[test]
    fn json_as_go_writes_it() {
        let mut s = String::new();
        json_string("a\"b\\c\n<&>\u{1}\u{2028}é", &mut s);
        assert_eq!(s, r#""a\"b\\c\n\u003c\u0026\u003e\u0001\u2028é""#);
        assert_eq!(json_float(1.5), "1.5");
        assert_eq!(json_float(1e21), "1e+21");
        assert_eq!(json_float(1e-7), "1e-07");
        assert_eq!(json_float(123456789.0), "123456789");
    }
}
