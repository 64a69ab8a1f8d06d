//! Distinguished names (RFC 5280 `Name`): rendered as RFC 4514-style strings for display, and
//! the subject common name that attestors select on. Verification compares names as raw DER
//! and never goes through this.
//!
//! One rule for attribute strings: UTF8String must be UTF-8; PrintableString, IA5String and
//! VisibleString must be ASCII; TeletexString is read as Latin-1; BMPString as UTF-16BE.
//! Anything else does not decode.

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

/// `id-at-commonName` (2.5.4.3), DER-encoded OID contents.
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

/// The last commonName attribute of a DER `Name` (as Go's `pkix.Name.CommonName`), or
/// `Ok(None)` when there is none; `Err` when the name is malformed or that string does not
/// decode.
pub(crate) fn common_name(name_der: &[u8]) -> Result<Option<String>, ()> {
    let rdns = crate::der::read_single(name_der, tag::SEQUENCE).map_err(|_| ())?;
    let mut reader = Reader::new(rdns);
    let mut found = None;
    while !reader.is_empty() {
        let mut set = Reader::new(reader.read(tag::SET).map_err(|_| ())?);
        while !set.is_empty() {
            let mut atv = Reader::new(set.read(tag::SEQUENCE).map_err(|_| ())?);
            let oid = atv.read(tag::OID).map_err(|_| ())?;
            let (value_tag, value, _) = atv.read_any().map_err(|_| ())?;
            atv.finish().map_err(|_| ())?;
            if oid == COMMON_NAME {
                found = Some(decode_string(value_tag, value).ok_or(())?);
            }
        }
    }
    Ok(found)
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
        // UTF8String.
        0x0c => std::str::from_utf8(value).ok().map(str::to_owned),
        // PrintableString, IA5String, VisibleString: ASCII subsets.
        0x13 | 0x16 | 0x1a if value.is_ascii() => {
            std::str::from_utf8(value).ok().map(str::to_owned)
        }
        // TeletexString, as Latin-1.
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

    /// `SET { SEQUENCE { oid, tag value } }`.
    fn atv(oid: &[u8], tag: u8, value: &[u8]) -> Vec<u8> {
        let mut inner = vec![0x06, oid.len() as u8];
        inner.extend_from_slice(oid);
        inner.extend_from_slice(&[tag, value.len() as u8]);
        inner.extend_from_slice(value);
        let mut seq = vec![0x30, inner.len() as u8];
        seq.extend(inner);
        let mut set = vec![0x31, seq.len() as u8];
        set.extend(seq);
        set
    }

    fn name(rdns: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = rdns.concat();
        let mut out = vec![0x30, body.len() as u8];
        out.extend(body);
        out
    }

    #[test]
    fn common_name_is_the_last_one() {
        let org = atv(&[0x55, 4, 10], 0x0c, b"org");
        let n = name(&[
            org.clone(),
            atv(COMMON_NAME, 0x13, b"first"),
            atv(COMMON_NAME, 0x0c, "zweite-\u{f6}".as_bytes()),
        ]);
        assert_eq!(common_name(&n), Ok(Some("zweite-\u{f6}".to_owned())));
        assert_eq!(common_name(&name(&[org])), Ok(None));
        let bmp = name(&[atv(COMMON_NAME, 0x1e, &[0, b'h', 0, b'i'])]);
        assert_eq!(common_name(&bmp), Ok(Some("hi".to_owned())));
        let teletex = name(&[atv(COMMON_NAME, 0x14, &[b'c', 0xe9])]);
        assert_eq!(common_name(&teletex), Ok(Some("c\u{e9}".to_owned())));
    }

    #[test]
    fn common_name_rejects_malformed_names_and_strings() {
        assert!(common_name(&[]).is_err());
        assert!(common_name(&[0x30, 0x05, 0x31]).is_err());
        // A PrintableString is ASCII; an unknown string type does not decode.
        assert!(common_name(&name(&[atv(COMMON_NAME, 0x13, &[0xc3, 0xa9])])).is_err());
        assert!(common_name(&name(&[atv(COMMON_NAME, 0x04, b"x")])).is_err());
        let mut trailing = name(&[]);
        trailing.push(0);
        assert!(common_name(&trailing).is_err());
        // The display rendering shows what does not decode as hex instead.
        let bad = name(&[atv(COMMON_NAME, 0x13, &[0xc3, 0xa9])]);
        assert_eq!(to_rfc4514(&bad), "CN=#1302c3a9");
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
