//! The JWT-SVID issuer of a trust domain: a signing key with a `kid`, minting JWT-SVIDs.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rustls_pki_types::UnixTime;
use serde_json::{Map, Value};
use spiffe_core::json::JsonObject;
use spiffe_core::jwt::JwtAlg;
use spiffe_core::{JwtAuthority, SpiffeId, TrustDomain};

use crate::keys::{KeyType, Signer, SigningScheme};
use crate::x509::issuer::{check_id, check_validity};
use crate::x509::spki;
use crate::CaError;

/// Claims the issuer sets itself; extra claims may not replace them.
const REGISTERED: [&str; 5] = ["sub", "aud", "exp", "iat", "nbf"];

/// A JWT-SVID issuer: a signer, its `kid`, the algorithm and the end of its validity. The
/// public half it publishes in the bundle is a [`spiffe_core::JwtAuthority`]
/// ([`jwt_authority`](Self::jwt_authority)): an *authority* verifies, an *issuer* signs.
///
/// ```
/// # use std::sync::Arc;
/// # use std::time::Duration;
/// # use spiffe_ca::jwt::JwtSvidIssuer;
/// # use spiffe_ca::keys::{KeyType, SoftwareSigner};
/// # use spiffe_core::jwt::{JwtSvid, JwtValidationOptions};
/// # use spiffe_core::pki_types::UnixTime;
/// # use spiffe_core::{JwtBundle, SpiffeId, TrustDomain};
/// let td = TrustDomain::new("example.org")?;
/// let now = UnixTime::now();
/// let day = UnixTime::since_unix_epoch(Duration::from_secs(now.as_secs() + 86_400));
/// let key = Arc::new(SoftwareSigner::generate("jwt", KeyType::EcP256)?);
/// let issuer = JwtSvidIssuer::new(&td, key, day)?;
///
/// let id = SpiffeId::new("spiffe://example.org/web")?;
/// let token = issuer.mint(&id, &["api"], Duration::from_secs(300), &Default::default(), now)?;
///
/// let mut bundle = JwtBundle::new(td);
/// bundle.insert(issuer.jwt_authority());
/// let svid = JwtSvid::validate(&token, &Arc::new(bundle), &["api"], &JwtValidationOptions::new(now))?;
/// assert_eq!(svid.spiffe_id(), &id);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct JwtSvidIssuer {
    trust_domain: TrustDomain,
    signer: Arc<dyn Signer>,
    kid: String,
    alg: JwtAlg,
    scheme: SigningScheme,
    not_after: UnixTime,
    /// The base64url JOSE header, `.`-terminated, encoded once.
    header: String,
    public: JwtAuthority,
}

// === impl JwtSvidIssuer ===

impl JwtSvidIssuer {
    /// An issuer for `trust_domain` signing with `signer` until `not_after`, with a random
    /// `kid` and the key's default algorithm (ES256, ES384, or RS256 for RSA keys).
    pub fn new(
        trust_domain: &TrustDomain,
        signer: Arc<dyn Signer>,
        not_after: UnixTime,
    ) -> Result<Self, CaError> {
        let mut random = [0u8; 24];
        aws_lc_rs::rand::fill(&mut random).map_err(|_| CaError::Random)?;
        let kid = URL_SAFE_NO_PAD.encode(random);
        let alg = match signer.public_key().key_type() {
            KeyType::EcP256 => JwtAlg::Es256,
            KeyType::EcP384 => JwtAlg::Es384,
            KeyType::Rsa2048 | KeyType::Rsa4096 => JwtAlg::Rs256,
        };
        Self::build(trust_domain.clone(), signer, kid, alg, not_after)
    }

    /// The same issuer with another `kid` (e.g. one reloaded from storage).
    pub fn with_kid(self, kid: impl Into<String>) -> Result<Self, CaError> {
        Self::build(
            self.trust_domain,
            self.signer,
            kid.into(),
            self.alg,
            self.not_after,
        )
    }

    /// The same issuer signing with `alg`: RS256 or PS256 for RSA keys; an EC key has
    /// exactly one algorithm.
    pub fn with_alg(self, alg: JwtAlg) -> Result<Self, CaError> {
        Self::build(
            self.trust_domain,
            self.signer,
            self.kid,
            alg,
            self.not_after,
        )
    }

    fn build(
        trust_domain: TrustDomain,
        signer: Arc<dyn Signer>,
        kid: String,
        alg: JwtAlg,
        not_after: UnixTime,
    ) -> Result<Self, CaError> {
        let key_type = signer.public_key().key_type();
        let scheme = match (alg, key_type) {
            (JwtAlg::Es256, KeyType::EcP256) => SigningScheme::EcdsaP256Sha256Fixed,
            (JwtAlg::Es384, KeyType::EcP384) => SigningScheme::EcdsaP384Sha384Fixed,
            (JwtAlg::Rs256, KeyType::Rsa2048 | KeyType::Rsa4096) => SigningScheme::RsaPkcs1Sha256,
            (JwtAlg::Ps256, KeyType::Rsa2048 | KeyType::Rsa4096) => SigningScheme::RsaPssSha256,
            _ => return Err(CaError::AlgorithmMismatch { alg, key_type }),
        };
        let public = public_jwk(&kid, signer.public_key().spki_der())?;
        let header = serde_json::json!({ "alg": alg.name(), "kid": kid, "typ": "JWT" });
        let mut header = URL_SAFE_NO_PAD.encode(header.to_string());
        header.push('.');
        Ok(Self {
            trust_domain,
            signer,
            kid,
            alg,
            scheme,
            not_after,
            header,
            public,
        })
    }

    /// The trust domain.
    pub fn trust_domain(&self) -> &TrustDomain {
        &self.trust_domain
    }

    /// The key id, in every token's header and in the published JWK.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWS algorithm of the tokens.
    pub fn alg(&self) -> JwtAlg {
        self.alg
    }

    /// The end of the issuer's validity; no token it mints outlives it.
    pub fn not_after(&self) -> UnixTime {
        self.not_after
    }

    /// The signer.
    pub fn signer(&self) -> &Arc<dyn Signer> {
        &self.signer
    }

    /// The public key as a JWK with this `kid`, for a [`spiffe_core::JwtBundle`].
    pub fn jwt_authority(&self) -> JwtAuthority {
        self.public.clone()
    }

    /// Mints a JWT-SVID for `spiffe_id` and `audiences`, valid for `ttl` from `now` (clamped
    /// to the issuer's not_after), with `extra_claims` added to `sub`, `aud`, `exp` and
    /// `iat` (e.g. `iss`, or a `jti` from [`new_jti`](super::new_jti)). The header is
    /// `{"alg", "kid", "typ": "JWT"}`.
    ///
    /// Errors: no audience, a TTL of zero, the issuer expired, an ID of another trust
    /// domain or without a path, an extra claim named like a registered one, a signer failure.
    pub fn mint(
        &self,
        spiffe_id: &SpiffeId,
        audiences: &[&str],
        ttl: Duration,
        extra_claims: &JsonObject,
        now: UnixTime,
    ) -> Result<String, CaError> {
        if audiences.is_empty() {
            return Err(CaError::NoAudience); // JWT-10
        }
        check_validity(ttl, now, 0, self.not_after.as_secs())?;
        check_id(spiffe_id, &self.trust_domain)?;
        if let Some(claim) = REGISTERED.iter().find(|c| extra_claims.contains(c)) {
            return Err(CaError::ReservedClaim { claim });
        }
        let expiry = now
            .as_secs()
            .saturating_add(ttl.as_secs())
            .min(self.not_after.as_secs());
        let mut claims: Map<String, Value> = match extra_claims.is_empty() {
            true => Map::new(),
            // Our own object's JSON: it parses back.
            false => serde_json::from_str(&extra_claims.to_json()).unwrap_or_default(),
        };
        let aud = match audiences {
            [one] => Value::from(*one),
            many => Value::from(many.iter().map(|a| Value::from(*a)).collect::<Vec<_>>()),
        };
        claims.insert("aud".into(), aud);
        claims.insert("exp".into(), Value::from(expiry));
        claims.insert("iat".into(), Value::from(now.as_secs()));
        claims.insert("sub".into(), Value::from(spiffe_id.as_str()));
        let payload = Value::Object(claims).to_string();

        let mut token = String::with_capacity(self.header.len() + payload.len() * 4 / 3 + 140);
        token.push_str(&self.header);
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let signature = self
            .signer
            .sign(self.scheme, token.as_bytes())
            .map_err(CaError::Signer)?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
        Ok(token)
    }
}

/// The JWK (RFC 7518 §6) of an SPKI, with `kid`.
fn public_jwk(kid: &str, spki_der: &[u8]) -> Result<JwtAuthority, CaError> {
    let key = spki::read(spki_der).map_err(|_| CaError::MalformedPublicKey)?;
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let mut jwk = JsonObject::new();
    jwk.insert_str("kid", kid);
    let crv = match key.key_type {
        KeyType::Rsa2048 | KeyType::Rsa4096 => {
            let rsa = key.rsa.ok_or(CaError::MalformedPublicKey)?;
            jwk.insert_str("kty", "RSA");
            jwk.insert_str("n", b64(rsa.modulus()));
            jwk.insert_str("e", b64(rsa.exponent()));
            None
        }
        KeyType::EcP256 => Some("P-256"),
        KeyType::EcP384 => Some("P-384"),
    };
    if let Some(crv) = crv {
        // An uncompressed point 04 || x || y (checked by `spki::read`).
        let coordinates = &key.key_bits[1..];
        let (x, y) = coordinates.split_at(coordinates.len() / 2);
        jwk.insert_str("kty", "EC");
        jwk.insert_str("crv", crv);
        jwk.insert_str("x", b64(x));
        jwk.insert_str("y", b64(y));
    }
    JwtAuthority::from_jwk(&jwk).map_err(|_| CaError::MalformedPublicKey)
}

impl fmt::Debug for JwtSvidIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtSvidIssuer")
            .field("trust_domain", &self.trust_domain)
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}
