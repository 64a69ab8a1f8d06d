//! A small HPACK (RFC 7541) decoder that mirrors one client's dynamic table, and the encoder
//! that writes header fields back as literals that never touch the peer's table.
//!
//! Limits, all checked before the bytes they guard are used: a header block is decoded whole
//! (its size is bounded by the caller), integers above 2^28 are refused, a string's length
//! must fit in what is left of the block, the decoded header list is bounded (`max_list_size`,
//! counted as RFC 7541 §4.1 does: name + value + 32 per field), and the dynamic table never
//! exceeds the size the server allows (`SETTINGS_HEADER_TABLE_SIZE`). Any violation is a
//! decoding error, which RFC 7541 §2.3.3/§4.3 make a connection error.

use std::collections::VecDeque;

use super::huffman::{self, HuffmanError};
use super::static_table::STATIC_TABLE;

/// The per-entry overhead of the dynamic table and header list sizes (RFC 7541 §4.1).
const ENTRY_OVERHEAD: usize = 32;

/// Integers larger than this are refused: no size or index in a bounded block comes near it.
const MAX_INTEGER: usize = 1 << 28;

/// One decoded header field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeaderField {
    pub(crate) name: Vec<u8>,
    pub(crate) value: Vec<u8>,
    /// Sent as "never indexed" (RFC 7541 §6.2.3): an intermediary must keep it so.
    pub(crate) never_indexed: bool,
}

/// Why a header block did not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum HpackError {
    /// The block ends inside a representation.
    #[error("header block truncated")]
    Truncated,
    /// An integer is larger than any valid one.
    #[error("integer too large")]
    IntegerOverflow,
    /// Index 0, or an index past the static and dynamic tables.
    #[error("header index {index} out of range")]
    BadIndex {
        /// The index.
        index: usize,
    },
    /// A dynamic table size update above the size the server allows.
    #[error("dynamic table size {size} above the allowed {max}")]
    TableSizeTooLarge {
        /// The size asked for.
        size: usize,
        /// The allowed maximum.
        max: usize,
    },
    /// A dynamic table size update after a header field (RFC 7541 §4.2).
    #[error("dynamic table size update after a header field")]
    LateSizeUpdate,
    /// The decoded header list is larger than the bound.
    #[error("header list larger than {max} bytes")]
    ListTooLarge {
        /// The bound.
        max: usize,
    },
    /// A Huffman-coded string is invalid.
    #[error("invalid Huffman string")]
    Huffman(#[source] HuffmanError),
}

/// The decoding side of one HPACK context: the client encoder's dynamic table, mirrored.
#[derive(Debug)]
pub(crate) struct Decoder {
    /// Newest first: dynamic index 62 is `table[0]`.
    table: VecDeque<(Vec<u8>, Vec<u8>)>,
    /// The sum of entry sizes (name + value + 32).
    size: usize,
    /// The current maximum, as set by the client's size updates.
    max_size: usize,
    /// What the server allows (its `SETTINGS_HEADER_TABLE_SIZE`).
    allowed_size: usize,
}

// === impl Decoder ===

impl Decoder {
    /// A decoder for a peer allowed a table of `allowed_size` bytes (4096 unless the server
    /// advertised another `SETTINGS_HEADER_TABLE_SIZE`).
    pub(crate) fn new(allowed_size: usize) -> Self {
        Self {
            table: VecDeque::new(),
            size: 0,
            max_size: allowed_size,
            allowed_size,
        }
    }

    /// The bytes the dynamic table holds.
    pub(crate) fn table_size(&self) -> usize {
        self.size
    }

    /// Decodes one complete header block, updating the dynamic table as the client's encoder
    /// did. Fails if the header list exceeds `max_list_size`.
    pub(crate) fn decode(
        &mut self,
        mut block: &[u8],
        max_list_size: usize,
    ) -> Result<Vec<HeaderField>, HpackError> {
        let mut fields = Vec::new();
        let mut list_size = 0usize;
        while let Some(&first) = block.first() {
            let field = if first & 0x80 != 0 {
                // §6.1 Indexed Header Field.
                let index = integer(&mut block, 7)?;
                let (name, value) = self.entry(index)?;
                HeaderField {
                    name: name.to_vec(),
                    value: value.to_vec(),
                    never_indexed: false,
                }
            } else if first & 0xc0 == 0x40 {
                // §6.2.1 Literal with Incremental Indexing.
                let field = self.literal(&mut block, 6, false)?;
                self.insert(field.name.clone(), field.value.clone());
                field
            } else if first & 0xe0 == 0x20 {
                // §6.3 Dynamic Table Size Update: only before the first field (§4.2).
                if !fields.is_empty() {
                    return Err(HpackError::LateSizeUpdate);
                }
                let size = integer(&mut block, 5)?;
                if size > self.allowed_size {
                    return Err(HpackError::TableSizeTooLarge {
                        size,
                        max: self.allowed_size,
                    });
                }
                self.max_size = size;
                self.evict_to(size);
                continue;
            } else {
                // §6.2.2 Literal without Indexing (0000), §6.2.3 Never Indexed (0001).
                self.literal(&mut block, 4, first & 0x10 != 0)?
            };
            list_size =
                list_size.saturating_add(field.name.len() + field.value.len() + ENTRY_OVERHEAD);
            if list_size > max_list_size {
                return Err(HpackError::ListTooLarge { max: max_list_size });
            }
            fields.push(field);
        }
        Ok(fields)
    }

    /// A literal representation whose name index has a `prefix`-bit prefix.
    fn literal(
        &self,
        block: &mut &[u8],
        prefix: u8,
        never_indexed: bool,
    ) -> Result<HeaderField, HpackError> {
        let index = integer(block, prefix)?;
        let name = match index {
            0 => string(block)?,
            index => self.entry(index)?.0.to_vec(),
        };
        let value = string(block)?;
        Ok(HeaderField {
            name,
            value,
            never_indexed,
        })
    }

    /// The entry at `index` of the static table followed by the dynamic table (§2.3.3).
    fn entry(&self, index: usize) -> Result<(&[u8], &[u8]), HpackError> {
        let bad = HpackError::BadIndex { index };
        match index {
            0 => Err(bad),
            1..=61 => Ok(STATIC_TABLE[index - 1]),
            _ => self
                .table
                .get(index - 62)
                .map(|(name, value)| (name.as_slice(), value.as_slice()))
                .ok_or(bad),
        }
    }

    /// Adds an entry (§4.4): evicts until it fits; an entry larger than the table empties it.
    fn insert(&mut self, name: Vec<u8>, value: Vec<u8>) {
        let entry_size = name.len() + value.len() + ENTRY_OVERHEAD;
        if entry_size > self.max_size {
            self.table.clear();
            self.size = 0;
            return;
        }
        self.evict_to(self.max_size - entry_size);
        self.size += entry_size;
        self.table.push_front((name, value));
    }

    fn evict_to(&mut self, size: usize) {
        while self.size > size {
            let Some((name, value)) = self.table.pop_back() else {
                self.size = 0;
                return;
            };
            self.size -= name.len() + value.len() + ENTRY_OVERHEAD;
        }
    }
}

/// Reads an integer with an `n`-bit prefix (§5.1), consuming its bytes.
fn integer(block: &mut &[u8], n: u8) -> Result<usize, HpackError> {
    let (&first, mut rest) = block.split_first().ok_or(HpackError::Truncated)?;
    let mask = (1usize << n) - 1;
    let mut value = usize::from(first) & mask;
    if value == mask {
        let mut shift = 0u32;
        loop {
            let (&byte, tail) = rest.split_first().ok_or(HpackError::Truncated)?;
            rest = tail;
            value += usize::from(byte & 0x7f) << shift;
            if value > MAX_INTEGER {
                return Err(HpackError::IntegerOverflow);
            }
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 28 {
                return Err(HpackError::IntegerOverflow);
            }
        }
    }
    *block = rest;
    Ok(value)
}

/// Reads a string literal (§5.2), Huffman-coded or not, consuming its bytes.
fn string(block: &mut &[u8]) -> Result<Vec<u8>, HpackError> {
    let huffman = block.first().is_some_and(|b| b & 0x80 != 0);
    let len = integer(block, 7)?;
    if len > block.len() {
        return Err(HpackError::Truncated);
    }
    let (raw, rest) = block.split_at(len);
    *block = rest;
    if huffman {
        let mut out = Vec::with_capacity(len + len / 2);
        huffman::decode(raw, &mut out).map_err(HpackError::Huffman)?;
        Ok(out)
    } else {
        Ok(raw.to_vec())
    }
}

/// Appends `field` as a literal with a literal name, not added to any table (§6.2.2; §6.2.3
/// when it was sent never-indexed), with plain (not Huffman-coded) strings.
pub(crate) fn encode_literal(field: &HeaderField, out: &mut Vec<u8>) {
    out.push(if field.never_indexed { 0x10 } else { 0x00 });
    encode_string(&field.name, out);
    encode_string(&field.value, out);
}

fn encode_string(s: &[u8], out: &mut Vec<u8>) {
    encode_integer(s.len(), 7, 0x00, out);
    out.extend_from_slice(s);
}

/// Appends `value` with an `n`-bit prefix, the bits above the prefix set from `flags` (§5.1).
fn encode_integer(mut value: usize, n: u8, flags: u8, out: &mut Vec<u8>) {
    let mask = (1usize << n) - 1;
    if value < mask {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | mask as u8);
    value -= mask;
    while value >= 0x80 {
        out.push((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn field(name: &str, value: &str) -> HeaderField {
        HeaderField {
            name: name.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
            never_indexed: false,
        }
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    #[test]
    fn integers_round_trip_and_overflow_is_refused() {
        for (value, n) in [
            (10, 5),
            (1337, 5),
            (42, 8),
            (31, 5),
            (0, 7),
            (MAX_INTEGER, 7),
        ] {
            let mut out = Vec::new();
            encode_integer(value, n, 0, &mut out);
            let mut block = out.as_slice();
            assert_eq!(integer(&mut block, n).unwrap(), value);
            assert!(block.is_empty());
        }
        // RFC 7541 C.1.2: 1337 with a 5-bit prefix.
        assert_eq!(integer(&mut &[31, 154, 10][..], 5).unwrap(), 1337);
        let mut huge = vec![0x7f];
        huge.extend([0xff; 6]);
        huge.push(0x01);
        assert_eq!(
            integer(&mut huge.as_slice(), 7),
            Err(HpackError::IntegerOverflow)
        );
        assert_eq!(
            integer(&mut &[0x7f, 0x80][..], 7),
            Err(HpackError::Truncated)
        );
    }

    /// RFC 7541 C.3 (requests without Huffman) and C.4 (with Huffman): three requests on one
    /// connection, sharing the dynamic table.
    #[test]
    fn rfc_request_examples() {
        for blocks in [
            [
                "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                "8286 84be 5808 6e6f 2d63 6163 6865",
                "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
            ],
            [
                "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
                "8286 84be 5886 a8eb 1064 9cbf",
                "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
            ],
        ] {
            let mut decoder = Decoder::new(4096);
            let first = decoder.decode(&hex(blocks[0]), 1 << 16).unwrap();
            assert_eq!(
                first,
                [
                    field(":method", "GET"),
                    field(":scheme", "http"),
                    field(":path", "/"),
                    field(":authority", "www.example.com"),
                ]
            );
            let second = decoder.decode(&hex(blocks[1]), 1 << 16).unwrap();
            assert_eq!(second[3], field(":authority", "www.example.com"));
            assert_eq!(second[4], field("cache-control", "no-cache"));
            let third = decoder.decode(&hex(blocks[2]), 1 << 16).unwrap();
            assert_eq!(
                third,
                [
                    field(":method", "GET"),
                    field(":scheme", "https"),
                    field(":path", "/index.html"),
                    field(":authority", "www.example.com"),
                    field("custom-key", "custom-value"),
                ]
            );
            // C.3.3: 164 bytes in the table after the third request.
            assert_eq!(decoder.size, 164);
            assert_eq!(decoder.table.len(), 3);
        }
    }

    #[test]
    fn eviction_and_size_updates() {
        let mut decoder = Decoder::new(100);
        // Literal with indexing, new name "aaaa", value 30 bytes: 4 + 30 + 32 = 66.
        let mut block = vec![0x40];
        encode_string(b"aaaa", &mut block);
        encode_string(&[b'v'; 30], &mut block);
        decoder.decode(&block, 1 << 16).unwrap();
        assert_eq!(decoder.size, 66);
        // A second one evicts the first.
        decoder.decode(&block, 1 << 16).unwrap();
        assert_eq!((decoder.size, decoder.table.len()), (66, 1));
        // Index 63 no longer exists.
        assert_eq!(
            decoder.decode(&[0x80 | 63], 1 << 16),
            Err(HpackError::BadIndex { index: 63 })
        );
        // Size update to 0 empties the table, then back to 100.
        decoder.decode(&[0x20], 1 << 16).unwrap();
        assert_eq!(decoder.table.len(), 0);
        let mut update = Vec::new();
        encode_integer(100, 5, 0x20, &mut update);
        decoder.decode(&update, 1 << 16).unwrap();
        // Above what the server allows.
        let mut update = Vec::new();
        encode_integer(101, 5, 0x20, &mut update);
        assert_eq!(
            decoder.decode(&update, 1 << 16),
            Err(HpackError::TableSizeTooLarge {
                size: 101,
                max: 100
            })
        );
        // After a field.
        assert_eq!(
            decoder.decode(&[0x82, 0x20], 1 << 16),
            Err(HpackError::LateSizeUpdate)
        );
        // An entry larger than the table empties it and is not added.
        let mut block = vec![0x40];
        encode_string(b"n", &mut block);
        encode_string(&[b'v'; 80], &mut block);
        decoder.decode(&block, 1 << 16).unwrap();
        assert_eq!((decoder.size, decoder.table.len()), (0, 0));
    }

    #[test]
    fn bounds_are_enforced() {
        let mut decoder = Decoder::new(4096);
        assert_eq!(
            decoder.decode(&[0x80], 1 << 16),
            Err(HpackError::BadIndex { index: 0 })
        );
        // A string longer than the block.
        assert_eq!(
            decoder.decode(&[0x00, 0x05, b'a'], 1 << 16),
            Err(HpackError::Truncated)
        );
        // The header list bound: ":method: GET" is 7 + 3 + 32 = 42 bytes.
        assert!(decoder.decode(&[0x82], 42).is_ok());
        assert_eq!(
            decoder.decode(&[0x82, 0x82], 83),
            Err(HpackError::ListTooLarge { max: 83 })
        );
    }

    #[test]
    fn literals_round_trip_with_a_fresh_decoder() {
        let fields = [
            field(":authority", "localhost"),
            HeaderField {
                never_indexed: true,
                ..field("authorization", "secret")
            },
            field("x-long", &"z".repeat(300)),
        ];
        let mut out = Vec::new();
        for f in &fields {
            encode_literal(f, &mut out);
        }
        let mut decoder = Decoder::new(4096);
        assert_eq!(decoder.decode(&out, 1 << 16).unwrap(), fields);
        assert!(decoder.table.is_empty(), "literals never touch the table");
    }
}
