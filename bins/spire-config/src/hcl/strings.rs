//! String literal unescaping: HCL1's rules (`hcl/strconv.Unquote`) and JSON's.

use crate::error::SyntaxError;

/// HCL1: Go escapes (`\a \b \f \n \r \t \v \\ \"`, octal `\101`, `\x41`, `\u00e9`,
/// `\U0001F600`), except inside `${…}`, which is kept verbatim (HCL1 does not interpolate;
/// SPIRE's `-expandEnv` substitutes variables before parsing). `raw` is the text between the
/// quotes.
pub(crate) fn unquote_hcl(raw: &str) -> Result<String, SyntaxError> {
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                let end =
                    interpolation_end(&raw[i + 2..]).ok_or(SyntaxError::UnterminatedString)?;
                let end = i + 2 + end;
                // Escapes inside `${…}` must still be well-formed, as HCL1's scanner checks.
                check_escapes(&raw[i + 2..end])?;
                out.extend_from_slice(&bytes[i..end]);
                i = end;
            }
            b'\n' => return Err(SyntaxError::UnterminatedString),
            b'\\' => {
                let (len, decoded) = escape(&raw[i + 1..])?;
                match decoded {
                    Decoded::Byte(b) => out.push(b),
                    Decoded::Char(c) => {
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                }
                i += 1 + len;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| SyntaxError::InvalidUtf8)
}

/// The byte offset just past the `}` closing an interpolation whose `${` precedes `s`.
fn interpolation_end(s: &str) -> Option<usize> {
    let mut depth = 1usize;
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

fn check_escapes(s: &str) -> Result<(), SyntaxError> {
    let mut i = 0;
    while let Some(at) = s[i..].find('\\') {
        let (len, _) = escape(&s[i + at + 1..])?;
        i += at + 1 + len;
    }
    Ok(())
}

enum Decoded {
    Byte(u8),
    Char(char),
}

/// One Go escape, `s` starting after the backslash: its length and what it means.
fn escape(s: &str) -> Result<(usize, Decoded), SyntaxError> {
    let bytes = s.as_bytes();
    let Some(&c) = bytes.first() else {
        return Err(SyntaxError::BadEscape);
    };
    let simple = |b: u8| Ok((1, Decoded::Byte(b)));
    match c {
        b'a' => simple(0x07),
        b'b' => simple(0x08),
        b'f' => simple(0x0c),
        b'n' => simple(b'\n'),
        b'r' => simple(b'\r'),
        b't' => simple(b'\t'),
        b'v' => simple(0x0b),
        b'\\' => simple(b'\\'),
        b'"' => simple(b'"'),
        b'0'..=b'7' => {
            let digits = bytes.get(..3).ok_or(SyntaxError::BadEscape)?;
            let mut v: u32 = 0;
            for &d in digits {
                if !(b'0'..=b'7').contains(&d) {
                    return Err(SyntaxError::BadEscape);
                }
                v = v * 8 + u32::from(d - b'0');
            }
            let byte = u8::try_from(v).map_err(|_| SyntaxError::BadEscape)?;
            Ok((3, Decoded::Byte(byte)))
        }
        b'x' | b'u' | b'U' => {
            let n = match c {
                b'x' => 2,
                b'u' => 4,
                _ => 8,
            };
            let hex = s.get(1..1 + n).ok_or(SyntaxError::BadEscape)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(SyntaxError::BadEscape);
            }
            let v = u32::from_str_radix(hex, 16).map_err(|_| SyntaxError::BadEscape)?;
            if c == b'x' {
                let byte = u8::try_from(v).map_err(|_| SyntaxError::BadEscape)?;
                return Ok((1 + n, Decoded::Byte(byte)));
            }
            if v > 0x10FFFF {
                return Err(SyntaxError::BadEscape);
            }
            // Go encodes a surrogate half as U+FFFD.
            Ok((
                1 + n,
                Decoded::Char(char::from_u32(v).unwrap_or('\u{FFFD}')),
            ))
        }
        _ => Err(SyntaxError::BadEscape),
    }
}

/// JSON string escapes (`\" \\ \/ \b \f \n \r \t \uXXXX`, surrogate pairs joined).
pub(crate) fn unquote_json(raw: &str) -> Result<String, SyntaxError> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let e = chars.next().ok_or(SyntaxError::BadEscape)?;
                match e {
                    '"' => out.push('"'),
                    '\\' => out.push('\\'),
                    '/' => out.push('/'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'u' => {
                        let first = hex4(&mut chars)?;
                        let c = if (0xD800..0xDC00).contains(&first) {
                            let mut rest = chars.clone();
                            let second = match (rest.next(), rest.next()) {
                                (Some('\\'), Some('u')) => hex4(&mut rest).ok(),
                                _ => None,
                            };
                            match second {
                                Some(lo @ 0xDC00..=0xDFFF) => {
                                    chars = rest;
                                    0x10000 + ((first - 0xD800) << 10) + (lo - 0xDC00)
                                }
                                _ => 0xFFFD,
                            }
                        } else {
                            first
                        };
                        out.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
                    }
                    _ => return Err(SyntaxError::BadEscape),
                }
            }
            c if u32::from(c) < 0x20 => return Err(SyntaxError::UnterminatedString),
            c => out.push(c),
        }
    }
    Ok(out)
}

fn hex4(chars: &mut std::str::Chars<'_>) -> Result<u32, SyntaxError> {
    let mut v = 0;
    for _ in 0..4 {
        let d = chars
            .next()
            .and_then(|c| c.to_digit(16))
            .ok_or(SyntaxError::BadEscape)?;
        v = v * 16 + d;
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl_escapes() {
        assert_eq!(unquote_hcl(r#"a\tb\"c\\d"#).as_deref(), Ok("a\tb\"c\\d"));
        assert_eq!(
            unquote_hcl(r"\u00e9\U0001F600\x41\101").as_deref(),
            Ok("é😀AA")
        );
        assert_eq!(unquote_hcl(r"\xff"), Err(SyntaxError::InvalidUtf8));
        assert_eq!(unquote_hcl(r"\q"), Err(SyntaxError::BadEscape));
        assert_eq!(unquote_hcl(r"\'"), Err(SyntaxError::BadEscape));
        assert_eq!(unquote_hcl(r"\777"), Err(SyntaxError::BadEscape));
        assert_eq!(unquote_hcl(r"\u12"), Err(SyntaxError::BadEscape));
        assert_eq!(unquote_hcl(r"\"), Err(SyntaxError::BadEscape));
    }

    #[test]
    fn hcl_interpolations_stay_verbatim() {
        assert_eq!(
            unquote_hcl("${VAULT_ADDR}/x").as_deref(),
            Ok("${VAULT_ADDR}/x")
        );
        assert_eq!(
            unquote_hcl(r#"${foo("a\n", {b})} %{x}"#).as_deref(),
            Ok(r#"${foo("a\n", {b})} %{x}"#)
        );
        assert_eq!(unquote_hcl("${a\nb}").as_deref(), Ok("${a\nb}"));
        assert_eq!(unquote_hcl("${open"), Err(SyntaxError::UnterminatedString));
        assert_eq!(unquote_hcl(r"${\q}"), Err(SyntaxError::BadEscape));
        assert_eq!(unquote_hcl("$x {y}").as_deref(), Ok("$x {y}"));
    }

    #[test]
    fn json_escapes() {
        assert_eq!(
            unquote_json(r#"a\/b\n\u00e9\ud83d\ude00"#).as_deref(),
            Ok("a/b\né😀")
        );
        assert_eq!(unquote_json(r"\ud83d").as_deref(), Ok("\u{FFFD}"));
        assert_eq!(unquote_json(r"\x41"), Err(SyntaxError::BadEscape));
        assert_eq!(unquote_json("a\tb"), Err(SyntaxError::UnterminatedString));
    }
}
