//! The subject common name of a certificate, read from its DER `Name` (RFC 5280 §4.1.2.4).

/// `id-at-commonName` (2.5.4.3), DER-encoded OID contents.
const CN_OID: &[u8] = &[0x55, 0x04, 0x03];

/// The last commonName attribute of a DER `Name` (as Go's `pkix.Name.CommonName`), or `None`
/// when there is none. A malformed name or an undecodable string is `Err`.
pub(crate) fn common_name(name_der: &[u8]) -> Result<Option<String>, ()> {
    let mut name = Reader::new(name_der);
    let mut rdns = Reader::new(name.expect(0x30)?);
    name.finish()?;
    let mut found = None;
    while !rdns.is_empty() {
        let mut set = Reader::new(rdns.expect(0x31)?);
        while !set.is_empty() {
            let mut atv = Reader::new(set.expect(0x30)?);
            let oid = atv.expect(0x06)?;
            let (tag, value) = atv.any()?;
            atv.finish()?;
            if oid == CN_OID {
                found = Some(decode_string(tag, value)?);
            }
        }
    }
    Ok(found)
}

/// Decodes the DirectoryString choices (and IA5String, which some issuers use).
fn decode_string(tag: u8, value: &[u8]) -> Result<String, ()> {
    match tag {
        // UTF8String
        0x0c => String::from_utf8(value.to_vec()).map_err(|_| ()),
        // PrintableString, IA5String, TeletexString (ASCII subset only)
        0x13 | 0x16 | 0x14 if value.is_ascii() => String::from_utf8(value.to_vec()).map_err(|_| ()),
        // BMPString: UCS-2 big-endian.
        0x1e if value.len() % 2 == 0 => {
            let units = value
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .map_err(|_| ())
        }
        _ => Err(()),
    }
}

/// A minimal DER reader over definite-length TLVs.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(input: &'a [u8]) -> Self {
        Self { rest: input }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn finish(&self) -> Result<(), ()> {
        match self.rest.is_empty() {
            true => Ok(()),
            false => Err(()),
        }
    }

    fn expect(&mut self, tag: u8) -> Result<&'a [u8], ()> {
        match self.any()? {
            (t, value) if t == tag => Ok(value),
            _ => Err(()),
        }
    }

    fn any(&mut self) -> Result<(u8, &'a [u8]), ()> {
        let (&tag, rest) = self.rest.split_first().ok_or(())?;
        let (&first, rest) = rest.split_first().ok_or(())?;
        let (len, rest) = match first {
            0..=0x7f => (usize::from(first), rest),
            0x81 => {
                let (&b, rest) = rest.split_first().ok_or(())?;
                if b < 0x80 {
                    return Err(()); // not minimal
                }
                (usize::from(b), rest)
            }
            0x82 => {
                let bytes = rest.get(..2).ok_or(())?;
                let len = usize::from(u16::from_be_bytes([bytes[0], bytes[1]]));
                if len < 0x100 {
                    return Err(());
                }
                (len, &rest[2..])
            }
            _ => return Err(()),
        };
        if rest.len() < len {
            return Err(());
        }
        let (value, rest) = rest.split_at(len);
        self.rest = rest;
        Ok((tag, value))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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
    fn finds_the_last_common_name() {
        let n = name(&[
            atv(&[0x55, 4, 10], 0x0c, b"org"),
            atv(CN_OID, 0x13, b"first"),
            atv(CN_OID, 0x0c, "zweite-ö".as_bytes()),
        ]);
        assert_eq!(common_name(&n), Ok(Some("zweite-ö".to_owned())));
        assert_eq!(
            common_name(&name(&[atv(&[0x55, 4, 10], 0x0c, b"org")])),
            Ok(None)
        );
        assert_eq!(
            common_name(&name(&[atv(CN_OID, 0x1e, &[0, b'h', 0, b'i'])])),
            Ok(Some("hi".to_owned()))
        );
    }

    #[test]
    fn rejects_malformed_names() {
        assert!(common_name(&[]).is_err());
        assert!(common_name(&[0x30, 0x05, 0x31]).is_err());
        assert!(common_name(&name(&[atv(CN_OID, 0x13, &[0xff])])).is_err());
        let mut trailing = name(&[]);
        trailing.push(0);
        assert!(common_name(&trailing).is_err());
    }
}
