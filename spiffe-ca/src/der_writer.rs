//! A small DER writer (X.690) for the structures this crate emits: certificates and their
//! parts, and the public keys and signatures the PKCS#11 key manager re-encodes. It only writes
//! what those need, and writes it in the one valid DER form.
//!
//! Nested values are written in place: the tag and a one-byte length placeholder go first, the
//! contents after, and the length is patched (widened when the contents reach 128 bytes).

use std::time::Duration;

use rustls_pki_types::UnixTime;
use spiffe_core::time::CivilTime;

/// Universal tags and OIDs the profiles use.
pub(crate) mod tag {
    pub(crate) const BOOLEAN: u8 = 0x01;
    pub(crate) const INTEGER: u8 = 0x02;
    pub(crate) const BIT_STRING: u8 = 0x03;
    pub(crate) const OCTET_STRING: u8 = 0x04;
    pub(crate) const UTF8_STRING: u8 = 0x0c;
    pub(crate) const PRINTABLE_STRING: u8 = 0x13;
    pub(crate) const UTC_TIME: u8 = 0x17;
    pub(crate) const GENERALIZED_TIME: u8 = 0x18;
    pub(crate) const SEQUENCE: u8 = 0x30;
    pub(crate) const SET: u8 = 0x31;

    /// `[n]` constructed, context-specific.
    pub(crate) const fn context_constructed(n: u8) -> u8 {
        0xa0 | n
    }

    /// `[n]` primitive, context-specific.
    pub(crate) const fn context_primitive(n: u8) -> u8 {
        0x80 | n
    }
}

/// Appends DER to a growing buffer.
#[derive(Debug, Default)]
pub(crate) struct DerWriter {
    buf: Vec<u8>,
}

// === impl DerWriter ===

impl DerWriter {
    /// A writer with room for `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            buf: Vec::with_capacity(capacity),
        }
    }

    /// The bytes written.
    pub(crate) fn finish(self) -> Vec<u8> {
        self.buf
    }

    /// Appends already-encoded DER.
    pub(crate) fn raw(&mut self, der: &[u8]) {
        self.buf.extend_from_slice(der);
    }

    /// Writes a TLV whose contents `contents` writes.
    pub(crate) fn nested(&mut self, tag: u8, contents: impl FnOnce(&mut Self)) {
        self.buf.push(tag);
        let len_at = self.buf.len();
        self.buf.push(0);
        contents(self);
        let len = self.buf.len() - len_at - 1;
        if len < 0x80 {
            self.buf[len_at] = len as u8;
        } else {
            let octets = length_octets(len);
            let (count, bytes) = (octets.0, &octets.1[4 - octets.0..]);
            self.buf[len_at] = 0x80 | count as u8;
            self.buf
                .splice(len_at + 1..len_at + 1, bytes.iter().copied());
        }
    }

    /// Writes a primitive TLV.
    pub(crate) fn primitive(&mut self, tag: u8, contents: &[u8]) {
        self.buf.push(tag);
        self.length(contents.len());
        self.buf.extend_from_slice(contents);
    }

    fn length(&mut self, len: usize) {
        if len < 0x80 {
            self.buf.push(len as u8);
        } else {
            let (count, bytes) = length_octets(len);
            self.buf.push(0x80 | count as u8);
            self.buf.extend_from_slice(&bytes[4 - count..]);
        }
    }

    /// Writes a non-negative INTEGER from its big-endian magnitude (minimal encoding: leading
    /// zero octets dropped, one added when the top bit is set).
    pub(crate) fn unsigned_integer(&mut self, magnitude: &[u8]) {
        let start = magnitude
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(magnitude.len());
        let trimmed = &magnitude[start..];
        self.buf.push(tag::INTEGER);
        match trimmed.first() {
            None => self.buf.extend_from_slice(&[0x01, 0x00]),
            Some(&first) if first & 0x80 != 0 => {
                self.length(trimmed.len() + 1);
                self.buf.push(0);
                self.buf.extend_from_slice(trimmed);
            }
            Some(_) => {
                self.length(trimmed.len());
                self.buf.extend_from_slice(trimmed);
            }
        }
    }

    /// Writes a BOOLEAN (DER: `0xff` for true).
    pub(crate) fn boolean(&mut self, value: bool) {
        self.primitive(tag::BOOLEAN, &[if value { 0xff } else { 0x00 }]);
    }

    /// Writes a BIT STRING of whole octets (keys, signatures).
    pub(crate) fn octet_aligned_bits(&mut self, bits: &[u8]) {
        self.buf.push(tag::BIT_STRING);
        self.length(bits.len() + 1);
        self.buf.push(0);
        self.buf.extend_from_slice(bits);
    }

    /// Writes a named-bit BIT STRING holding the bits of `bits` (bit 0 = the most significant
    /// bit of the first octet), with trailing zero bits removed as DER requires (X.690 §11.2.2).
    pub(crate) fn named_bits(&mut self, bits: u16) {
        let bytes = bits.to_be_bytes();
        let contents: &[u8] = match bytes {
            [0, 0] => &[],
            [_, 0] => &bytes[..1],
            _ => &bytes,
        };
        let unused = contents
            .last()
            .map_or(0, |last| last.trailing_zeros() as u8);
        self.buf.push(tag::BIT_STRING);
        self.length(contents.len() + 1);
        self.buf.push(unused);
        self.buf.extend_from_slice(contents);
    }

    /// Writes a time as RFC 5280 §4.1.2.5 requires: UTCTime through 2049, GeneralizedTime
    /// from 2050, both in UTC with seconds.
    pub(crate) fn time(&mut self, unix_secs: u64) {
        let t = CivilTime::from_unix(UnixTime::since_unix_epoch(Duration::from_secs(unix_secs)));
        let year = t.year();
        let mut text = [0u8; 15];
        let two = |out: &mut [u8], v: u64| {
            out[0] = b'0' + (v / 10 % 10) as u8;
            out[1] = b'0' + (v % 10) as u8;
        };
        let (tag, len) = if (1950..2050).contains(&year) {
            two(&mut text[0..2], year % 100);
            (tag::UTC_TIME, 13)
        } else {
            two(&mut text[0..2], year / 100);
            two(&mut text[2..4], year % 100);
            (tag::GENERALIZED_TIME, 15)
        };
        let rest = len - 13;
        let fields = [t.month(), t.day(), t.hour(), t.minute(), t.second()];
        for (i, field) in fields.into_iter().enumerate() {
            two(
                &mut text[rest + 2 + 2 * i..rest + 4 + 2 * i],
                u64::from(field),
            );
        }
        text[len - 1] = b'Z';
        self.primitive(tag, &text[..len]);
    }
}

/// The big-endian length octets of `len` (at most 4, enough for anything this crate writes).
fn length_octets(len: usize) -> (usize, [u8; 4]) {
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    let bytes = len.to_be_bytes();
    let count = 4 - (len.leading_zeros() / 8) as usize;
    (count, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(f: impl FnOnce(&mut DerWriter)) -> Vec<u8> {
        let mut w = DerWriter::default();
        f(&mut w);
        w.finish()
    }

    #[test]
    fn lengths_short_and_long() {
        assert_eq!(
            written(|w| w.primitive(tag::OCTET_STRING, &[1, 2])),
            [0x04, 0x02, 1, 2]
        );
        let long = written(|w| w.primitive(tag::OCTET_STRING, &[7; 200]));
        assert_eq!(&long[..3], &[0x04, 0x81, 200]);
        assert_eq!(long.len(), 203);
        let longer = written(|w| w.primitive(tag::OCTET_STRING, &[7; 300]));
        assert_eq!(&longer[..4], &[0x04, 0x82, 0x01, 0x2c]);
    }

    #[test]
    fn nested_patches_its_length() {
        let small = written(|w| w.nested(tag::SEQUENCE, |w| w.boolean(true)));
        assert_eq!(small, [0x30, 0x03, 0x01, 0x01, 0xff]);
        for size in [126, 127, 128, 255, 256, 70_000] {
            let out = written(|w| {
                w.nested(tag::SEQUENCE, |w| w.raw(&vec![9; size]));
                w.boolean(false);
            });
            let header = if size < 128 {
                vec![0x30, size as u8]
            } else if size < 256 {
                vec![0x30, 0x81, size as u8]
            } else if size < 65_536 {
                vec![0x30, 0x82, (size >> 8) as u8, size as u8]
            } else {
                vec![
                    0x30,
                    0x83,
                    (size >> 16) as u8,
                    (size >> 8) as u8,
                    size as u8,
                ]
            };
            assert_eq!(&out[..header.len()], &header[..], "size {size}");
            assert_eq!(out.len(), header.len() + size + 3);
            assert_eq!(&out[out.len() - 3..], &[0x01, 0x01, 0x00]);
        }
    }

    #[test]
    fn integers_are_minimal() {
        assert_eq!(written(|w| w.unsigned_integer(&[])), [0x02, 0x01, 0x00]);
        assert_eq!(written(|w| w.unsigned_integer(&[0, 0])), [0x02, 0x01, 0x00]);
        assert_eq!(written(|w| w.unsigned_integer(&[0, 5])), [0x02, 0x01, 0x05]);
        assert_eq!(
            written(|w| w.unsigned_integer(&[0, 0, 1])),
            [0x02, 0x01, 0x01]
        );
        assert_eq!(
            written(|w| w.unsigned_integer(&[1, 0, 1])),
            [0x02, 0x03, 1, 0, 1]
        );
        assert_eq!(
            written(|w| w.unsigned_integer(&[0x80])),
            [0x02, 0x02, 0x00, 0x80]
        );
    }

    #[test]
    fn named_bits_drop_trailing_zeros() {
        // keyUsage digitalSignature (bit 0).
        assert_eq!(written(|w| w.named_bits(0x8000)), [0x03, 0x02, 0x07, 0x80]);
        // digitalSignature + keyEncipherment (bits 0, 2).
        assert_eq!(written(|w| w.named_bits(0xa000)), [0x03, 0x02, 0x05, 0xa0]);
        // keyCertSign + cRLSign (bits 5, 6).
        assert_eq!(written(|w| w.named_bits(0x0600)), [0x03, 0x02, 0x01, 0x06]);
        // decipherOnly (bit 8).
        assert_eq!(
            written(|w| w.named_bits(0x0080)),
            [0x03, 0x03, 0x07, 0x00, 0x80]
        );
        assert_eq!(written(|w| w.named_bits(0)), [0x03, 0x01, 0x00]);
    }

    #[test]
    fn times_switch_at_2050() {
        assert_eq!(written(|w| w.time(0)), b"\x17\x0d700101000000Z");
        // 2049-12-31T23:59:59Z and 2050-01-01T00:00:00Z.
        assert_eq!(written(|w| w.time(2_524_607_999)), b"\x17\x0d491231235959Z");
        assert_eq!(
            written(|w| w.time(2_524_608_000)),
            b"\x18\x0f20500101000000Z"
        );
        // 2024-02-29T12:34:56Z (leap day).
        assert_eq!(written(|w| w.time(1_709_210_096)), b"\x17\x0d240229123456Z");
    }
}
