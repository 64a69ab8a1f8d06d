//! The join token itself: a one-time secret an operator hands to a new agent.

use std::fmt;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use super::JoinTokenError;

/// The longest join token accepted, in bytes. SPIRE's tokens are UUIDs (36 bytes); operators
/// may choose their own, so the limit is generous but small enough to bound the payload.
pub const MAX_TOKEN_LEN: usize = 256;

/// A join token: a secret that lets one agent attest once.
///
/// The token becomes the last segment of the agent's SPIFFE ID
/// (`spiffe://<td>/spire/agent/join_token/<token>`), so it is restricted to the SPIFFE ID path
/// segment characters (`A-Z a-z 0-9 . - _`), may not be `.` or `..`, and is at most
/// [`MAX_TOKEN_LEN`] bytes. `Debug` does not print it; [`JoinToken::expose`] does.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinToken {
    value: String,
}

// === impl JoinToken ===

impl JoinToken {
    /// A fresh token from the system CSPRNG, in SPIRE's format: a random (version 4) UUID,
    /// 122 random bits.
    pub fn generate() -> Result<Self, JoinTokenError> {
        let mut bytes = [0u8; 16];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| JoinTokenError::Random)?;
        // RFC 9562 §5.4: version 4, variant 10.
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let mut value = String::with_capacity(36);
        for (i, b) in bytes.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                value.push('-');
            }
            value.push_str(&format!("{b:02x}"));
        }
        Ok(Self { value })
    }

    /// Checks an operator-chosen or received token. The error never contains the token.
    pub fn new(value: &str) -> Result<Self, JoinTokenError> {
        check(value.as_bytes())?;
        Ok(Self {
            value: value.to_owned(),
        })
    }

    /// Parses a token received as an attestation payload (raw UTF-8 bytes, as SPIRE sends it).
    pub fn from_payload(payload: &[u8]) -> Result<Self, JoinTokenError> {
        check(payload)?;
        // `check` admits ASCII only.
        let value = String::from_utf8(payload.to_vec()).map_err(|_| JoinTokenError::Malformed)?;
        Ok(Self { value })
    }

    /// The secret value. Handle with care: never log it.
    pub fn expose(&self) -> &str {
        &self.value
    }
}

fn check(value: &[u8]) -> Result<(), JoinTokenError> {
    if value.is_empty() {
        return Err(JoinTokenError::Empty);
    }
    if value.len() > MAX_TOKEN_LEN {
        return Err(JoinTokenError::TooLong {
            len: value.len(),
            max: MAX_TOKEN_LEN,
        });
    }
    // ID-12 (path segment characters) and ID-10 (no `.`/`..` segments): the token is a segment
    // of the agent ID.
    let segment_char = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_');
    if !value.iter().all(segment_char) || value == b"." || value == b".." {
        return Err(JoinTokenError::Malformed);
    }
    Ok(())
}

impl fmt::Debug for JoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JoinToken(<redacted>)")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_uuid_v4_and_distinct() {
        let a = JoinToken::generate().unwrap();
        let b = JoinToken::generate().unwrap();
        assert_ne!(a, b);
        let s = a.expose();
        assert_eq!(s.len(), 36);
        assert_eq!(&s[14..15], "4");
        assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(JoinToken::new(s).unwrap(), a);
    }

    #[test]
    fn rejects_bad_tokens_without_echoing_them() {
        for bad in ["", ".", "..", "a/b", "a b", "tök", "a%2f"] {
            let err = JoinToken::new(bad).unwrap_err();
            if !bad.is_empty() {
                assert!(!err.to_string().contains(bad), "{err}");
            }
        }
        assert!(matches!(
            JoinToken::new(&"a".repeat(MAX_TOKEN_LEN + 1)),
            Err(JoinTokenError::TooLong { .. })
        ));
        assert!(format!("{:?}", JoinToken::new("secret").unwrap()).contains("redacted"));
    }
}
