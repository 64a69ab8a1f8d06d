use serde_json::{Map, Value};

use super::JwkError;

/// One JWT-SVID signing key of a trust domain, from a JWK (RFC 7517).
///
/// STUB: to be replaced by the real key parser.
#[derive(Debug, Clone)]
pub struct JwtAuthority {
    kid: String,
    jwk: Map<String, Value>,
}

impl JwtAuthority {
    /// Parses a JWK object.
    pub fn from_jwk(jwk: &Map<String, Value>) -> Result<Self, JwkError> {
        let kid = jwk
            .get("kid")
            .and_then(Value::as_str)
            .ok_or(JwkError::MissingKid)?;
        Ok(Self {
            kid: kid.to_owned(),
            jwk: jwk.clone(),
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWK, with every member it was parsed from.
    pub fn to_jwk(&self) -> Map<String, Value> {
        self.jwk.clone()
    }
}

impl PartialEq for JwtAuthority {
    fn eq(&self, other: &Self) -> bool {
        self.kid == other.kid && self.jwk == other.jwk
    }
}
impl Eq for JwtAuthority {}
