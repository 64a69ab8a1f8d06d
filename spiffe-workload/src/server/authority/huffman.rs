//! The HPACK Huffman code (RFC 7541 §5.2, Appendix B), decoding only.
//!
//! The code is canonical: codes of one length are consecutive integers in symbol order, and
//! each length's first code follows from the counts of the shorter ones. So the table below
//! holds only each symbol's code length (Appendix B's "len in bits" column), and the codes are
//! derived from it at compile time; `tests::known_codes` checks a few against the RFC. Decoding
//! reads one bit at a time (at most 30 per symbol): header strings are short, and a reader this
//! simple is easy to check.

/// The code length of each symbol 0..=255 and of EOS (256), from RFC 7541 Appendix B.
const CODE_LENGTHS: [u8; 257] = [
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28,
    28, 28, 28, 28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5,
    5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6,
    6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22,
    23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22,
    21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20,
    22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19,
    21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22,
    22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
];

/// The longest code (EOS and a few control characters).
const MAX_LEN: usize = 30;

/// The symbol of EOS, which must never appear in a string (RFC 7541 §5.2).
const EOS: u16 = 256;

/// The canonical decoding tables: for each length, its first code, the number of codes of that
/// length, and where its symbols start in `symbols` (sorted by length, then symbol).
struct Canonical {
    first: [u32; MAX_LEN + 1],
    count: [u16; MAX_LEN + 1],
    offset: [u16; MAX_LEN + 1],
    symbols: [u16; 257],
}

const TABLES: Canonical = canonical();

const fn canonical() -> Canonical {
    let mut count = [0u16; MAX_LEN + 1];
    let mut i = 0;
    while i < 257 {
        count[CODE_LENGTHS[i] as usize] += 1;
        i += 1;
    }
    let mut first = [0u32; MAX_LEN + 1];
    let mut offset = [0u16; MAX_LEN + 1];
    let mut code = 0u32;
    let mut position = 0u16;
    let mut len = 1;
    while len <= MAX_LEN {
        first[len] = code;
        offset[len] = position;
        code = (code + count[len] as u32) << 1;
        position += count[len];
        len += 1;
    }
    let mut symbols = [0u16; 257];
    let mut next = offset;
    let mut symbol = 0;
    while symbol < 257 {
        let len = CODE_LENGTHS[symbol] as usize;
        symbols[next[len] as usize] = symbol as u16;
        next[len] += 1;
        symbol += 1;
    }
    Canonical {
        first,
        count,
        offset,
        symbols,
    }
}

/// Why a Huffman-coded string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HuffmanError {
    /// The string contains the EOS symbol.
    #[error("Huffman string contains EOS")]
    Eos,
    /// The padding is longer than 7 bits or not a prefix of EOS (all ones).
    #[error("Huffman string has invalid padding")]
    Padding,
}

/// Decodes `input` and appends the octets to `out`.
pub(crate) fn decode(input: &[u8], out: &mut Vec<u8>) -> Result<(), HuffmanError> {
    let tables = &TABLES;
    let mut code = 0u32;
    let mut len = 0usize;
    // Whether every bit of the pending code is 1 (a valid padding so far).
    let mut all_ones = true;
    for byte in input {
        for shift in (0..8).rev() {
            let bit = u32::from((byte >> shift) & 1);
            code = (code << 1) | bit;
            all_ones &= bit == 1;
            len += 1;
            // Codes of length `len` are first[len] .. first[len] + count[len].
            let index = code.wrapping_sub(tables.first[len]);
            if code >= tables.first[len] && index < u32::from(tables.count[len]) {
                let symbol = tables.symbols[usize::from(tables.offset[len]) + index as usize];
                if symbol == EOS {
                    return Err(HuffmanError::Eos);
                }
                out.push(symbol as u8);
                code = 0;
                len = 0;
                all_ones = true;
            }
            // Unreachable for a complete code: every 30-bit string has a prefix that is a code.
            if len >= MAX_LEN {
                return Err(HuffmanError::Eos);
            }
        }
    }
    // RFC 7541 §5.2: padding shorter than 8 bits, the most significant bits of EOS (ones).
    if len > 7 || !all_ones {
        return Err(HuffmanError::Padding);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn decoded(input: &[u8]) -> Result<Vec<u8>, HuffmanError> {
        let mut out = Vec::new();
        decode(input, &mut out).map(|()| out)
    }

    /// The code of `symbol` as the canonical construction derives it.
    fn code_of(symbol: u16) -> (u32, usize) {
        let len = usize::from(CODE_LENGTHS[usize::from(symbol)]);
        let start = usize::from(TABLES.offset[len]);
        let rank = TABLES.symbols[start..start + usize::from(TABLES.count[len])]
            .iter()
            .position(|s| *s == symbol)
            .expect("symbol in its length's range");
        (TABLES.first[len] + rank as u32, len)
    }

    #[test]
    fn known_codes() {
        // RFC 7541 Appendix B, a few rows: '0' 00000 (5), 'a' 00011 (5), ' ' 010100 (6),
        // 'z' 1111011 (7), 0x00 1111111111000 (13), EOS 3fffffff (30).
        assert_eq!(code_of(u16::from(b'0')), (0x0, 5));
        assert_eq!(code_of(u16::from(b'a')), (0x3, 5));
        assert_eq!(code_of(u16::from(b' ')), (0x14, 6));
        assert_eq!(code_of(u16::from(b'z')), (0x7b, 7));
        assert_eq!(code_of(0), (0x1ff8, 13));
        assert_eq!(code_of(EOS), (0x3fff_ffff, 30));
        // Kraft equality: the code is complete.
        let total: u64 = CODE_LENGTHS.iter().map(|l| 1u64 << (30 - l)).sum();
        assert_eq!(total, 1 << 30);
    }

    #[test]
    fn rfc_examples_decode() {
        // RFC 7541 C.4.1: "www.example.com".
        let www = [
            0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
        ];
        assert_eq!(decoded(&www).unwrap(), b"www.example.com");
        // C.4.2: "no-cache".
        let no_cache = [0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf];
        assert_eq!(decoded(&no_cache).unwrap(), b"no-cache");
        // C.6.1: "Mon, 21 Oct 2013 20:13:21 GMT".
        let date = [
            0xd0, 0x7a, 0xbe, 0x94, 0x10, 0x54, 0xd4, 0x44, 0xa8, 0x20, 0x05, 0x95, 0x04, 0x0b,
            0x81, 0x66, 0xe0, 0x82, 0xa6, 0x2d, 0x1b, 0xff,
        ];
        assert_eq!(decoded(&date).unwrap(), b"Mon, 21 Oct 2013 20:13:21 GMT");
        assert_eq!(decoded(&[]).unwrap(), b"");
    }

    #[test]
    fn every_symbol_round_trips() {
        for symbol in 0..=255u16 {
            let (code, len) = code_of(symbol);
            // The code, then padding ones to the byte boundary.
            let pad = (8 - len % 8) % 8;
            let bits = (u64::from(code) << pad) | ((1u64 << pad) - 1);
            let bytes = (len + pad) / 8;
            let input: Vec<u8> = (0..bytes).rev().map(|i| (bits >> (8 * i)) as u8).collect();
            assert_eq!(decoded(&input).unwrap(), [symbol as u8], "{symbol}");
        }
    }

    #[test]
    fn bad_padding_and_eos_are_refused() {
        // 'a' (00011) then 000 padding: not ones.
        assert_eq!(decoded(&[0b0001_1000]), Err(HuffmanError::Padding));
        // A whole byte of ones after a complete symbol: padding of 8 bits.
        assert_eq!(decoded(&[0b0001_1111, 0xff]), Err(HuffmanError::Padding));
        // EOS itself (30 ones) followed by padding.
        assert_eq!(decoded(&[0xff, 0xff, 0xff, 0xff]), Err(HuffmanError::Eos));
    }
}
