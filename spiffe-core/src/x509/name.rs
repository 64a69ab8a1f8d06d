//! Distinguished names (RFC 5280 `Name`) rendered as RFC 4514-style strings, for display only.
//! Verification compares names as raw DER and never goes through this.

use std::fmt::Write;

use crate::der::{tag, Reader};

/// Renders a DER `Name` (the whole SEQUENCE); `<malformed name>` if it does not parse.
pub(crate) fn to_rfc4514(name_der: &[u8]) -> String {
    render(name_der).unwrap_or_else(|| String::from("<malformed name>"))
}

fn render(name_der: &[u8]) -> Option<String> {
    let rdns = crate::der::read_single(name_der, tag::SEQUENCE).ok()?;
    let mut reader = Reader::new(rdns);
    let mut parts = Vec::new();
    while !reader.is_empty() {
        let mut set = Reader::new(reader.read(tag::SET).ok()?);
        let mut rdn = String::new();
        while !set.is_empty() {
            let mut atv = Reader::new(set.read(tag::SEQUENCE).ok()?);
            let oid = atv.read(tag::OID).ok()?;
            let (value_tag, value, raw) = atv.read_any().ok()?;
            atv.finish().ok()?;
            if !rdn.is_empty() {
                rdn.push('+');
            }
            match attribute_name(oid) {
                Some(short) => rdn.push_str(short),
                None => rdn.push_str(&oid_to_dotted(oid)?),
            }
            rdn.push('=');
            match decode_string(value_tag, value) {
                Some(text) => escape_into(&mut rdn, &text),
                None => {
                    rdn.push('#');
                    for b in raw {
                        let _ = write!(rdn, "{b:02x}");
                    }
                }
            }
        }
        parts.push(rdn);
    }
    // RFC 4514 §2.1: the last RDN of the sequence comes first.
    parts.reverse();
    Some(parts.join(","))
}

fn attribute_name(oid: &[u8]) -> Option<&'static str> {
    Some(match oid {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x05] => "serialNumber",
        [0x55, 0x04, 0x06] => "C",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "ST",
        [0x55, 0x04, 0x09] => "STREET",
        [0x55, 0x04, 0x0a] => "O",
        [0x55, 0x04, 0x0b] => "OU",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => "DC",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01] => "UID",
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01] => "emailAddress",
        _ => return None,
    })
}

/// Dotted-decimal form of an OID's content octets.
pub(crate) fn oid_to_dotted(oid: &[u8]) -> Option<String> {
    let mut arcs = Vec::new();
    let mut value: u64 = 0;
    for &b in oid {
        value = value.checked_mul(128)? | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            arcs.push(value);
            value = 0;
        }
    }
    if oid.last().is_none_or(|b| b & 0x80 != 0) {
        return None;
    }
    let first = arcs[0];
    let (a, b) = if first < 40 {
        (0, first)
    } else if first < 80 {
        (1, first - 40)
    } else {
        (2, first - 80)
    };
    let mut out = format!("{a}.{b}");
    for arc in &arcs[1..] {
        let _ = write!(out, ".{arc}");
    }
    Some(out)
}

fn decode_string(value_tag: u8, value: &[u8]) -> Option<String> {
    match value_tag {
        // UTF8String, PrintableString, IA5String, VisibleString, TeletexString (as Latin-1).
        0x0c | 0x13 | 0x16 | 0x1a => std::str::from_utf8(value).ok().map(str::to_owned),
        0x14 => Some(value.iter().map(|&b| char::from(b)).collect()),
        // BMPString: UTF-16BE.
        0x1e if value.len() % 2 == 0 => {
            let units = value
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()
        }
        _ => None,
    }
}

/// RFC 4514 §2.4 escaping.
fn escape_into(out: &mut String, text: &str) {
    let last = text.chars().count().saturating_sub(1);
    for (i, c) in text.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
            out.push(c);
        } else if c.is_control() {
            for b in c.to_string().bytes() {
                let _ = write!(out, "\\{b:02x}");
            }
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_in_rfc4514_order_with_escapes() {
        // SEQUENCE { SET { C=US }, SET { O="a,b" }, SET { CN=x } }
        let name = [
            0x30, 0x25, 0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, b'U',
            b'S', 0x31, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x04, 0x0a, 0x0c, 0x03, b'a', b',',
            b'b', 0x31, 0x08, 0x30, 0x06, 0x06, 0x01, 0x2a, 0x13, 0x01, b'x',
        ];
        assert_eq!(to_rfc4514(&name), "1.2=x,O=a\\,b,C=US");
        assert_eq!(to_rfc4514(&[0x30, 0x00]), "");
        assert_eq!(to_rfc4514(&[0x30, 0x01]), "<malformed name>");
    }

    #[test]
    fn dotted_oids() {
        assert_eq!(
            oid_to_dotted(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d]).as_deref(),
            Some("1.2.840.113549")
        );
        assert_eq!(oid_to_dotted(&[0x2a, 0x86]), None);
    }
}
