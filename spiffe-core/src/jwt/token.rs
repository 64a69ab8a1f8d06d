//! The structural half of JWT-SVID checking: splitting the compact JWS, decoding its parts into
//! caller-provided buffers, and reading the header and claims into borrowed structs. Nothing
//! here looks at keys or time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::claims::{RawAudience, RawClaims, RawHeader};
use super::{JwtAlg, JwtSvidError, TokenPart};
use crate::SpiffeId;

/// The longest token accepted (64 KiB); a JWT-SVID is normally well under 2 KiB.
pub(super) const MAX_TOKEN_LEN: usize = 64 * 1024;

/// Reusable decode buffers: typical headers, claims and signatures (up to RSA-4096) decode on
/// the stack; larger ones spill to the vectors. The arrays are zeroed on every validation, so
/// they are sized for common tokens, not the largest (a JWT-SVID header is ~60 bytes, its
/// claims ~200).
pub(super) struct Scratch {
    header: [u8; 128],
    claims: [u8; 512],
    signature: [u8; 512],
    header_heap: Vec<u8>,
    claims_heap: Vec<u8>,
    signature_heap: Vec<u8>,
}

/// A token that passed every structural rule, borrowing from the token and the scratch space.
pub(super) struct Decoded<'t, 's> {
    pub(super) alg: JwtAlg,
    pub(super) kid: std::borrow::Cow<'s, str>,
    pub(super) typ: Option<&'static str>,
    pub(super) spiffe_id: SpiffeId,
    pub(super) audience: RawAudience<'s>,
    /// `exp`, whole seconds, rounded down (earlier is stricter).
    pub(super) expiry: i64,
    /// `nbf`, whole seconds, rounded up (later is stricter).
    pub(super) not_before: Option<i64>,
    /// `header.claims`, the JWS signing input (RFC 7515 §5.2).
    pub(super) signing_input: &'t str,
    pub(super) signature: &'s [u8],
}

// === impl Scratch ===

impl Scratch {
    pub(super) fn new() -> Self {
        Self {
            header: [0; 128],
            claims: [0; 512],
            signature: [0; 512],
            header_heap: Vec::new(),
            claims_heap: Vec::new(),
            signature_heap: Vec::new(),
        }
    }

    /// Checks every rule that needs no key and no clock, in the order of §1.3 steps 1–4:
    /// JWT-1/2 (shape), JWT-4/5 (`alg` first), JWT-7 (`typ`), JWT-3 (extra parameters),
    /// JWT-6 (`kid`), then the claims JWT-9 (`sub`), JWT-10 (`aud`), JWT-12/13 (`exp`, `nbf`).
    pub(super) fn decode<'t, 's>(
        &'s mut self,
        token: &'t str,
    ) -> Result<Decoded<'t, 's>, JwtSvidError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(JwtSvidError::TooLong {
                len: token.len(),
                max: MAX_TOKEN_LEN,
            });
        }
        // JWT-1: the JSON serialization is an object; compact never starts with `{`.
        if token.trim_start().starts_with('{') {
            return Err(JwtSvidError::JsonSerialization);
        }
        let Parts {
            header: header_b64,
            claims: claims_b64,
            signature: signature_b64,
            signing_input,
        } = split(token)?;

        let header_json = decode_part(header_b64, &mut self.header, &mut self.header_heap).ok_or(
            JwtSvidError::Base64 {
                part: TokenPart::Header,
            },
        )?;
        let header: RawHeader<'_> =
            serde_json::from_slice(header_json).map_err(|_| JwtSvidError::MalformedHeader)?;
        if header.duplicate {
            return Err(JwtSvidError::MalformedHeader);
        }
        // JWT-5: the allowlist is checked before anything else is used.
        let alg = header
            .alg
            .as_ref()
            .and_then(|alg| alg.as_deref())
            .and_then(JwtAlg::from_name)
            .ok_or(JwtSvidError::UnsupportedAlgorithm)?; // JWT-4
        let typ = match &header.typ {
            None => None,
            // JWT-7: exact, case-sensitive.
            Some(Some(t)) if t == "JWT" => Some("JWT"),
            Some(Some(t)) if t == "JOSE" => Some("JOSE"),
            Some(_) => return Err(JwtSvidError::InvalidType),
        };
        // JWT-3: no parameter besides alg, kid, typ; in particular none that names a key.
        if let Some(parameter) = header.extra {
            return Err(JwtSvidError::HeaderParameterNotAllowed { parameter });
        }
        // JWT-6: required, as go-spiffe and SPIRE do; trying every key is not supported.
        let kid = match header.kid {
            Some(Some(kid)) if !kid.is_empty() => kid,
            Some(None) => return Err(JwtSvidError::MalformedHeader),
            _ => return Err(JwtSvidError::MissingKid),
        };

        let claims_json = decode_part(claims_b64, &mut self.claims, &mut self.claims_heap).ok_or(
            JwtSvidError::Base64 {
                part: TokenPart::Claims,
            },
        )?;
        // RFC 7519 §7.2: the claims set is a JSON object (serde would also take an array).
        if claims_json.trim_ascii_start().first() != Some(&b'{') {
            return Err(JwtSvidError::MalformedClaims);
        }
        let claims: RawClaims<'_> =
            serde_json::from_slice(claims_json).map_err(|_| JwtSvidError::MalformedClaims)?;
        // JWT-9: sub is a SPIFFE ID under the strict ID rules.
        let sub = claims.sub.ok_or(JwtSvidError::MissingSubject)?;
        let spiffe_id =
            SpiffeId::new(&sub).map_err(|source| JwtSvidError::InvalidSubject { source })?;
        // JWT-10: aud present with at least one value.
        let audience = claims.aud.ok_or(JwtSvidError::MissingAudience)?;
        if audience.is_empty() {
            return Err(JwtSvidError::MissingAudience);
        }
        // JWT-12: exp is required; JWT-13: it and nbf are NumericDates.
        let expiry = claims
            .exp
            .ok_or(JwtSvidError::MissingExpiry)?
            .floor_secs()
            .ok_or(JwtSvidError::InvalidNumericDate { claim: "exp" })?;
        let not_before = match claims.nbf {
            None => None,
            Some(nbf) => Some(
                nbf.ceil_secs()
                    .ok_or(JwtSvidError::InvalidNumericDate { claim: "nbf" })?,
            ),
        };

        let signature = decode_part(signature_b64, &mut self.signature, &mut self.signature_heap)
            .ok_or(JwtSvidError::Base64 {
            part: TokenPart::Signature,
        })?;
        Ok(Decoded {
            alg,
            kid,
            typ,
            spiffe_id,
            audience,
            expiry,
            not_before,
            signing_input,
            signature,
        })
    }
}

/// The three base64url parts of a compact JWS and its signing input.
struct Parts<'t> {
    header: &'t [u8],
    claims: &'t [u8],
    signature: &'t [u8],
    signing_input: &'t str,
}

/// Splits `header.claims.signature` (JWT-1, JWT-2).
fn split(token: &str) -> Result<Parts<'_>, JwtSvidError> {
    // `str::find` on a char runs a word-at-a-time search: the token is scanned once.
    let first = token.find('.');
    let second = first.and_then(|f| token[f + 1..].find('.').map(|s| f + 1 + s));
    let (Some(first), Some(second)) = (first, second) else {
        return Err(JwtSvidError::PartCount {
            parts: token.bytes().filter(|b| *b == b'.').count() + 1,
        });
    };
    if token[second + 1..].contains('.') {
        let parts = token.bytes().filter(|b| *b == b'.').count() + 1;
        if parts == 5 {
            return Err(JwtSvidError::Encrypted); // JWT-2: a compact JWE
        }
        return Err(JwtSvidError::PartCount { parts }); // JWT-1
    }
    let bytes = token.as_bytes();
    Ok(Parts {
        header: &bytes[..first],
        claims: &bytes[first + 1..second],
        signature: &bytes[second + 1..],
        signing_input: &token[..second],
    })
}

/// Decodes unpadded, canonical base64url (RFC 7515 §2) into `stack` when it fits, else into
/// `heap`. An empty part decodes to nothing (the signature of `alg: none` is caught earlier).
fn decode_part<'s>(input: &[u8], stack: &'s mut [u8], heap: &'s mut Vec<u8>) -> Option<&'s [u8]> {
    let len = decoded_len(input.len())?;
    if len <= stack.len() {
        let n = URL_SAFE_NO_PAD.decode_slice(input, stack).ok()?;
        stack.get(..n)
    } else {
        heap.clear();
        URL_SAFE_NO_PAD.decode_vec(input, heap).ok()?;
        Some(heap.as_slice())
    }
}

/// The exact decoded length of `len` unpadded base64 characters, `None` if impossible.
fn decoded_len(len: usize) -> Option<usize> {
    let tail = match len % 4 {
        0 => 0,
        2 => 1,
        3 => 2,
        _ => return None,
    };
    Some(len / 4 * 3 + tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoded_len_matches_base64() {
        for n in 0..40usize {
            let data = vec![0xa5u8; n];
            let enc = URL_SAFE_NO_PAD.encode(&data);
            assert_eq!(decoded_len(enc.len()), Some(n));
            let mut stack = [0u8; 16];
            let mut heap = Vec::new();
            assert_eq!(
                decode_part(enc.as_bytes(), &mut stack, &mut heap),
                Some(&data[..])
            );
        }
        assert_eq!(decoded_len(5), None);
    }

    #[test]
    fn padded_and_standard_alphabet_rejected() {
        let mut stack = [0u8; 16];
        let mut heap = Vec::new();
        assert!(decode_part(b"YQ==", &mut stack, &mut heap).is_none());
        assert!(decode_part(b"+/8", &mut stack, &mut heap).is_none());
        // Non-canonical trailing bits: `YR` decodes to `a` with leftover bits set.
        assert!(decode_part(b"YR", &mut stack, &mut heap).is_none());
        assert_eq!(
            decode_part(b"-_8", &mut stack, &mut heap),
            Some(&[0xfb, 0xff][..])
        );
    }

    /// Parts larger than the stack buffers (RSA-8192 signatures, long claims) spill to the heap;
    /// parts of exactly the buffer size (RSA-4096 signatures) stay on the stack.
    #[test]
    fn large_parts_decode_on_the_heap() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"k"}"#);
        let extra = "x".repeat(600);
        let claims = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"sub":"spiffe://td/w","aud":"a","exp":1,"note":"{extra}"}}"#
        ));
        for len in [256, 511, 512, 513, 1024] {
            let signature: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let token = format!("{header}.{claims}.{}", URL_SAFE_NO_PAD.encode(&signature));
            let mut scratch = Scratch::new();
            let decoded = scratch.decode(&token).expect("decodes");
            assert_eq!(decoded.signature, &signature[..], "{len}-byte signature");
            assert_eq!(decoded.spiffe_id.as_str(), "spiffe://td/w");
        }
    }

    #[test]
    fn split_counts_parts() {
        assert!(split("a.b.c").is_ok());
        assert_eq!(
            split("a.b").err(),
            Some(JwtSvidError::PartCount { parts: 2 })
        );
        assert_eq!(split("a.b.c.d.e").err(), Some(JwtSvidError::Encrypted));
        assert_eq!(
            split("abc").err(),
            Some(JwtSvidError::PartCount { parts: 1 })
        );
        assert_eq!(
            split("a.b.c.d").err(),
            Some(JwtSvidError::PartCount { parts: 4 })
        );
    }
}
