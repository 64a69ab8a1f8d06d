//! JWT IDs (`jti`, RFC 7519 §4.1.7) for JWT-SVIDs that must be told apart.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::CaError;

/// A fresh JWT ID: a random (version 4) UUID's 16 bytes in base64url without padding, 22
/// characters, the form SPIRE's server gives the `jti` of JWT-SVIDs for entries with
/// `jwt_svid_include_jti`. 122 random bits make a collision between two tokens negligible.
///
/// Add it to a token as an extra claim:
///
/// ```
/// # use spiffe_core::json::JsonObject;
/// let mut claims = JsonObject::new();
/// claims.insert_str("jti", spiffe_ca::jwt::new_jti()?);
/// // issuer.mint(&id, &audience, ttl, &claims, now)
/// # Ok::<(), spiffe_ca::CaError>(())
/// ```
pub fn new_jti() -> Result<String, CaError> {
    let mut uuid = [0u8; 16];
    aws_lc_rs::rand::fill(&mut uuid).map_err(|_| CaError::Random)?;
    // RFC 9562 §5.4: version 4 in the high nibble of octet 6, variant 10 in octet 8.
    uuid[6] = (uuid[6] & 0x0f) | 0x40;
    uuid[8] = (uuid[8] & 0x3f) | 0x80;
    Ok(URL_SAFE_NO_PAD.encode(uuid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jtis_are_uuid_v4_bytes_in_base64url_and_differ() {
        let a = new_jti().expect("jti");
        let b = new_jti().expect("jti");
        assert_ne!(a, b);
        for jti in [a, b] {
            assert_eq!(jti.len(), 22);
            let bytes = URL_SAFE_NO_PAD.decode(&jti).expect("base64url");
            assert_eq!(bytes.len(), 16);
            assert_eq!(bytes[6] >> 4, 4, "version 4");
            assert_eq!(bytes[8] >> 6, 0b10, "RFC 9562 variant");
        }
    }
}
