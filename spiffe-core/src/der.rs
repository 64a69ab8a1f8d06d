//! A small, careful DER reader for untrusted input (X.690 distinguished encoding rules).
//!
//! Zero-copy: every value is a sub-slice of the input. Only what certificates need is
//! supported, and everything else is an error rather than a guess:
//! - single-byte tags only (tag numbers < 31);
//! - definite lengths only, in the minimal encoding, at most 4 length octets;
//! - no recursion: callers walk known structures with nested [`Reader`]s, so depth is bounded
//!   by the code, not by the input.

use thiserror::Error;

/// Universal and context tags used by certificates.
pub(crate) mod tag {
    pub(crate) const BOOLEAN: u8 = 0x01;
    pub(crate) const INTEGER: u8 = 0x02;
    pub(crate) const BIT_STRING: u8 = 0x03;
    pub(crate) const OCTET_STRING: u8 = 0x04;
    #[cfg(test)]
    pub(crate) const NULL: u8 = 0x05;
    pub(crate) const OID: u8 = 0x06;
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

/// Why DER input was rejected. Positions are not reported: the input is untrusted and the
/// caller knows which structure it was reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub(crate) enum DerError {
    /// The input ended inside a tag, length or value.
    #[error("truncated DER")]
    Truncated,
    /// A tag other than the one the structure requires.
    #[error("unexpected DER tag")]
    UnexpectedTag,
    /// A multi-byte (high tag number) tag.
    #[error("unsupported high tag number")]
    HighTagNumber,
    /// The indefinite length form (BER only).
    #[error("indefinite length (not DER)")]
    IndefiniteLength,
    /// A length that is not in its shortest form.
    #[error("non-minimal length (not DER)")]
    NonMinimalLength,
    /// A length that needs more than 4 octets.
    #[error("length too large")]
    LengthTooLarge,
    /// Bytes left over after the last expected element.
    #[error("trailing data after DER value")]
    TrailingData,
    /// A primitive value whose content breaks its type's DER rules.
    #[error("invalid DER value")]
    InvalidValue,
}

/// Reads consecutive TLVs from a byte slice.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    input: &'a [u8],
}

// === impl Reader ===

impl<'a> Reader<'a> {
    /// A reader over `input`.
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Self { input }
    }

    /// Whether all input has been consumed.
    pub(crate) fn is_empty(&self) -> bool {
        self.input.is_empty()
    }

    /// Errors unless all input has been consumed.
    pub(crate) fn finish(&self) -> Result<(), DerError> {
        if self.input.is_empty() {
            Ok(())
        } else {
            Err(DerError::TrailingData)
        }
    }

    /// The tag of the next element, if any.
    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.input.first().copied()
    }

    /// Reads one TLV; returns its tag, its value and the whole encoding (tag + length + value).
    pub(crate) fn read_any(&mut self) -> Result<(u8, &'a [u8], &'a [u8]), DerError> {
        let input = self.input;
        let (&tag, rest) = input.split_first().ok_or(DerError::Truncated)?;
        if tag & 0x1f == 0x1f {
            return Err(DerError::HighTagNumber);
        }
        let (&first, mut rest) = rest.split_first().ok_or(DerError::Truncated)?;
        let len = if first < 0x80 {
            usize::from(first)
        } else if first == 0x80 {
            return Err(DerError::IndefiniteLength);
        } else {
            let count = usize::from(first & 0x7f);
            if count > 4 {
                return Err(DerError::LengthTooLarge);
            }
            if rest.len() < count {
                return Err(DerError::Truncated);
            }
            let (octets, after) = rest.split_at(count);
            rest = after;
            // Minimal: no leading zero octet, and the long form only for lengths >= 128.
            if octets[0] == 0 {
                return Err(DerError::NonMinimalLength);
            }
            let len = octets
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            if len < 0x80 {
                return Err(DerError::NonMinimalLength);
            }
            len
        };
        if rest.len() < len {
            return Err(DerError::Truncated);
        }
        let (value, after) = rest.split_at(len);
        let header = input.len() - rest.len();
        let whole = &input[..header + len];
        self.input = after;
        Ok((tag, value, whole))
    }

    /// Reads one element that must have `expected` as its tag; returns its value.
    pub(crate) fn read(&mut self, expected: u8) -> Result<&'a [u8], DerError> {
        self.read_with_raw(expected).map(|(value, _)| value)
    }

    /// Like [`Reader::read`], also returning the whole encoding.
    pub(crate) fn read_with_raw(&mut self, expected: u8) -> Result<(&'a [u8], &'a [u8]), DerError> {
        match self.peek_tag() {
            None => Err(DerError::Truncated),
            Some(t) if t != expected => Err(DerError::UnexpectedTag),
            Some(_) => self.read_any().map(|(_, value, raw)| (value, raw)),
        }
    }

    /// Reads an element with tag `expected` if it comes next.
    pub(crate) fn read_optional(&mut self, expected: u8) -> Result<Option<&'a [u8]>, DerError> {
        if self.peek_tag() == Some(expected) {
            self.read(expected).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Reads a BOOLEAN (DER: `0x00` or `0xff` only).
    pub(crate) fn read_bool(&mut self) -> Result<bool, DerError> {
        match self.read(tag::BOOLEAN)? {
            [0x00] => Ok(false),
            [0xff] => Ok(true),
            _ => Err(DerError::InvalidValue),
        }
    }

    /// Reads a non-negative INTEGER that fits in a `u64`.
    pub(crate) fn read_small_uint(&mut self) -> Result<u64, DerError> {
        let bytes = integer_bytes(self.read(tag::INTEGER)?)?;
        if bytes.first().is_some_and(|&b| b & 0x80 != 0) {
            return Err(DerError::InvalidValue); // negative
        }
        let magnitude = match bytes {
            [0, rest @ ..] => rest,
            other => other,
        };
        if magnitude.len() > 8 {
            return Err(DerError::InvalidValue);
        }
        Ok(magnitude
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// Reads a BIT STRING; returns the number of unused bits and the content octets.
    /// Unused bits must be zero (DER).
    pub(crate) fn read_bit_string(&mut self) -> Result<(u8, &'a [u8]), DerError> {
        let value = self.read(tag::BIT_STRING)?;
        let (&unused, bits) = value.split_first().ok_or(DerError::InvalidValue)?;
        if unused > 7 || (bits.is_empty() && unused != 0) {
            return Err(DerError::InvalidValue);
        }
        if let Some(&last) = bits.last() {
            if last & ((1u8 << unused) - 1) != 0 {
                return Err(DerError::InvalidValue);
            }
        }
        Ok((unused, bits))
    }

    /// Reads a BIT STRING that must have no unused bits (keys and signatures).
    pub(crate) fn read_octet_aligned_bits(&mut self) -> Result<&'a [u8], DerError> {
        match self.read_bit_string()? {
            (0, bits) => Ok(bits),
            _ => Err(DerError::InvalidValue),
        }
    }
}

/// Checks the DER rules of an INTEGER's content (non-empty, minimal) and returns it.
pub(crate) fn integer_bytes(value: &[u8]) -> Result<&[u8], DerError> {
    match value {
        [] => Err(DerError::InvalidValue),
        [0x00, next, ..] if next & 0x80 == 0 => Err(DerError::NonMinimalLength),
        [0xff, next, ..] if next & 0x80 != 0 => Err(DerError::NonMinimalLength),
        _ => Ok(value),
    }
}

/// Reads `input` as exactly one element with tag `expected` and returns its value.
pub(crate) fn read_single(input: &[u8], expected: u8) -> Result<&[u8], DerError> {
    let mut reader = Reader::new(input);
    let value = reader.read(expected)?;
    reader.finish()?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_lengths() {
        let mut r = Reader::new(&[0x04, 0x02, 0xaa, 0xbb]);
        assert_eq!(r.read(tag::OCTET_STRING), Ok(&[0xaa, 0xbb][..]));
        assert!(r.is_empty());

        let mut long = vec![0x04, 0x81, 0x80];
        long.extend([7u8; 0x80]);
        let mut r = Reader::new(&long);
        let (t, value, raw) = r.read_any().expect("valid long form");
        assert_eq!((t, value.len(), raw.len()), (0x04, 0x80, 0x83));
    }

    #[test]
    fn non_minimal_lengths_rejected() {
        // Long form for a length < 128.
        let mut r = Reader::new(&[0x04, 0x81, 0x01, 0x00]);
        assert_eq!(r.read_any(), Err(DerError::NonMinimalLength));
        // Leading zero length octet.
        let mut input = vec![0x04, 0x82, 0x00, 0x80];
        input.extend([0u8; 0x80]);
        assert_eq!(
            Reader::new(&input).read_any(),
            Err(DerError::NonMinimalLength)
        );
    }

    #[test]
    fn indefinite_length_rejected() {
        let mut r = Reader::new(&[0x30, 0x80, 0x00, 0x00]);
        assert_eq!(r.read_any(), Err(DerError::IndefiniteLength));
    }

    #[test]
    fn huge_length_rejected() {
        let mut r = Reader::new(&[0x04, 0x85, 1, 0, 0, 0, 0]);
        assert_eq!(r.read_any(), Err(DerError::LengthTooLarge));
    }

    #[test]
    fn truncation_rejected() {
        for input in [
            &[][..],
            &[0x30][..],
            &[0x30, 0x03, 0x01][..],
            &[0x30, 0x82, 0x01][..],
        ] {
            assert_eq!(Reader::new(input).read_any(), Err(DerError::Truncated));
        }
    }

    #[test]
    fn trailing_data_rejected() {
        assert_eq!(
            read_single(&[0x05, 0x00, 0x00], tag::NULL),
            Err(DerError::TrailingData)
        );
        assert_eq!(read_single(&[0x05, 0x00], tag::NULL), Ok(&[][..]));
    }

    #[test]
    fn high_tag_rejected() {
        assert_eq!(
            Reader::new(&[0x1f, 0x81, 0x00]).read_any(),
            Err(DerError::HighTagNumber)
        );
    }

    #[test]
    fn unexpected_tag_rejected() {
        assert_eq!(
            Reader::new(&[0x04, 0x00]).read(tag::SEQUENCE),
            Err(DerError::UnexpectedTag)
        );
    }

    #[test]
    fn booleans_are_strict() {
        assert_eq!(Reader::new(&[0x01, 0x01, 0xff]).read_bool(), Ok(true));
        assert_eq!(Reader::new(&[0x01, 0x01, 0x00]).read_bool(), Ok(false));
        assert_eq!(
            Reader::new(&[0x01, 0x01, 0x01]).read_bool(),
            Err(DerError::InvalidValue)
        );
    }

    #[test]
    fn integers_are_minimal() {
        assert_eq!(Reader::new(&[0x02, 0x01, 0x05]).read_small_uint(), Ok(5));
        assert_eq!(
            Reader::new(&[0x02, 0x02, 0x00, 0x80]).read_small_uint(),
            Ok(128)
        );
        assert_eq!(
            Reader::new(&[0x02, 0x02, 0x00, 0x05]).read_small_uint(),
            Err(DerError::NonMinimalLength)
        );
        assert_eq!(
            Reader::new(&[0x02, 0x01, 0x80]).read_small_uint(),
            Err(DerError::InvalidValue)
        );
        assert_eq!(
            Reader::new(&[0x02, 0x00]).read_small_uint(),
            Err(DerError::InvalidValue)
        );
    }

    #[test]
    fn bit_strings_check_unused_bits() {
        assert_eq!(
            Reader::new(&[0x03, 0x02, 0x07, 0x80]).read_bit_string(),
            Ok((7, &[0x80][..]))
        );
        assert_eq!(
            Reader::new(&[0x03, 0x02, 0x07, 0x81]).read_bit_string(),
            Err(DerError::InvalidValue)
        );
        assert_eq!(
            Reader::new(&[0x03, 0x01, 0x01]).read_bit_string(),
            Err(DerError::InvalidValue)
        );
        assert_eq!(
            Reader::new(&[0x03, 0x02, 0x01, 0x02]).read_octet_aligned_bits(),
            Err(DerError::InvalidValue)
        );
    }
}
