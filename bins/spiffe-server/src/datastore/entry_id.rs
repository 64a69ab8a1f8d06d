use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use spiffe_attest::EntryId;

use super::DataStoreError;

/// A fresh entry id as SPIRE makes one when the operator gives none: a random (version 4) UUID
/// in its lowercase hyphenated form.
pub fn new_entry_id() -> Result<EntryId, DataStoreError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| DataStoreError::Random)?;
    // RFC 9562 §5.4: version 4, variant 10.
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut text = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        text.push(char::from(HEX[usize::from(b >> 4)]));
        text.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    // Hex digits and hyphens are in the entry id alphabet, and 36 bytes is under its limit.
    Ok(EntryId::new(&text).expect("a UUID is a valid entry id"))
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_v4_shape_and_uniqueness() {
        let a = new_entry_id().expect("random");
        let b = new_entry_id().expect("random");
        assert_ne!(a, b);
        let text = a.as_str();
        assert_eq!(text.len(), 36);
        let groups: Vec<&str> = text.split('-').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(groups[2].starts_with('4'), "{text}");
        assert!(matches!(&groups[3][..1], "8" | "9" | "a" | "b"), "{text}");
    }
}
