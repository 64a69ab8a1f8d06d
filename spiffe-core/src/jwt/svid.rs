use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::token::{Decoded, Scratch};
use super::{JwtAlg, JwtSvidError};
use crate::json::JsonObject;
use crate::pki_types::UnixTime;
use crate::{JwtBundleSource, SpiffeId};

/// A JWT-SVID whose signature, trust domain, lifetime and audience were checked by
/// [`JwtSvid::validate`], the only way to build one.
///
/// ```
/// use spiffe_core::jwt::{JwtSvid, JwtSvidError, JwtValidationOptions};
/// use spiffe_core::pki_types::UnixTime;
/// use spiffe_core::{JwtBundle, TrustDomain};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let bundle = Arc::new(JwtBundle::new(TrustDomain::new("example.org")?));
/// let opts = JwtValidationOptions::new(UnixTime::now()).with_leeway(Duration::from_secs(5));
/// // An ES256 token whose `sub` is in example.org; the bundle is empty, so it is untrusted.
/// let token = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJzcGlmZmU6Ly9leGFtcGxlLm9yZy93\
///              IiwiYXVkIjoic3ZjIiwiZXhwIjo0MTAyNDQ0ODAwfQ.c2ln";
/// let err = JwtSvid::validate(token, &bundle, &["svc"], &opts).unwrap_err();
/// assert!(matches!(err, JwtSvidError::UnknownKid { .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct JwtSvid {
    inner: Svid,
}

/// A JWT-SVID read with [`parse_insecure`](Self::parse_insecure): structurally valid
/// (JWT-1..JWT-12 except what needs a key or a clock), but its signature, lifetime and audience
/// are **not** checked. For inspection and for tokens trusted by construction.
#[derive(Clone)]
pub struct UnverifiedJwtSvid {
    inner: Svid,
}

/// The time and clock leeway used by [`JwtSvid::validate`]. The time has no default: callers
/// pass it (usually `UnixTime::now()`), which keeps validation a pure function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwtValidationOptions {
    now: UnixTime,
    leeway: Duration,
}

/// What both SVID types hold.
#[derive(Clone)]
struct Svid {
    token: Box<str>,
    alg: JwtAlg,
    kid: Box<str>,
    typ: Option<&'static str>,
    spiffe_id: SpiffeId,
    audience: Vec<String>,
    expiry: UnixTime,
    not_before: Option<UnixTime>,
    claims: OnceLock<JsonObject>,
}

// === impl JwtSvid ===

impl JwtSvid {
    /// Validates `token` as a JWT-SVID for one of `audiences`, with the key from the JWT bundle
    /// of the trust domain of its `sub` (JWT-20).
    ///
    /// Checks, in the order of §1.3: three base64url parts (JWT-1, JWT-2); `alg` on the
    /// allowlist before anything else (JWT-4, JWT-5); `typ` absent, `JWT` or `JOSE` (JWT-7); no
    /// header parameter besides `alg`, `kid`, `typ` (JWT-3: `jku`, `jwk`, `x5u`, `x5c`, `crit`
    /// and any other are rejected); `kid` present (JWT-6, as go-spiffe and SPIRE); `sub` a
    /// SPIFFE ID (JWT-9); `aud` with a value (JWT-10); `exp` a NumericDate (JWT-12); the bundle
    /// of `sub`'s trust domain and the key by `kid` (JWT-17, JWT-20); the key type fits `alg`
    /// (JWT-13); the signature; `now < exp + leeway` and `nbf <= now + leeway` (JWT-13); an
    /// expected audience in `aud` (JWT-10). An empty `audiences` is an error.
    pub fn validate(
        token: &str,
        bundles: &impl JwtBundleSource,
        audiences: &[&str],
        opts: &JwtValidationOptions,
    ) -> Result<Self, JwtSvidError> {
        if audiences.is_empty() {
            return Err(JwtSvidError::NoExpectedAudience); // audiences configured in advance
        }
        let mut scratch = Scratch::new();
        let decoded = scratch.decode(token)?;

        // JWT-20: only the bundle of sub's trust domain.
        let trust_domain = decoded.spiffe_id.trust_domain();
        let Some(bundle) = bundles.jwt_bundle_for(&trust_domain) else {
            return Err(JwtSvidError::NoBundle { trust_domain });
        };
        // JWT-17: the key by kid; the bundle holds only JWT-SVID keys.
        let Some(authority) = bundle.get(&decoded.kid) else {
            return Err(JwtSvidError::UnknownKid { trust_domain });
        };
        // JWT-13: RSA for RS*/PS*, the exact curve for ES*.
        let Some(key) = authority.verifier(decoded.alg) else {
            return Err(JwtSvidError::KeyAlgorithmMismatch {
                alg: decoded.alg,
                key_algorithm: authority.public_key_algorithm(),
            });
        };
        key.verify_sig(decoded.signing_input.as_bytes(), decoded.signature)
            .map_err(|_| JwtSvidError::InvalidSignature)?;

        // JWT-13 (RFC 7519 §4.1.4, §4.1.5): the lifetime, with the configured leeway.
        let now = Duration::from_secs(opts.now.as_secs());
        let expiry = unix_time(decoded.expiry);
        if now >= expiry.saturating_add(opts.leeway) {
            return Err(JwtSvidError::Expired {
                expiry: UnixTime::since_unix_epoch(expiry),
                now: opts.now,
            });
        }
        if let Some(nbf) = decoded.not_before.map(unix_time) {
            if now.saturating_add(opts.leeway) < nbf {
                return Err(JwtSvidError::NotYetValid {
                    not_before: UnixTime::since_unix_epoch(nbf),
                    now: opts.now,
                });
            }
        }
        // JWT-10: any expected audience in aud.
        if !decoded.audience.iter().any(|aud| audiences.contains(&aud)) {
            return Err(JwtSvidError::AudienceMismatch);
        }
        Ok(Self {
            inner: Svid::new(token, decoded),
        })
    }

    /// [`validate`](Self::validate) at the current time with no clock leeway: the common case
    /// of checking a token as it arrives.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use spiffe_core::jwt::{JwtSvid, JwtSvidError};
    /// use spiffe_core::{JwtBundle, TrustDomain};
    ///
    /// let bundle = Arc::new(JwtBundle::new(TrustDomain::new("example.org")?));
    /// // An ES256 token whose `sub` is in example.org; the bundle is empty, so it is untrusted.
    /// let token = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJzcGlmZmU6Ly9leGFtcGxlLm9yZy93\
    ///              IiwiYXVkIjoic3ZjIiwiZXhwIjo0MTAyNDQ0ODAwfQ.c2ln";
    /// let err = JwtSvid::validate_now(token, &bundle, &["svc"]).unwrap_err();
    /// assert!(matches!(err, JwtSvidError::UnknownKid { .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn validate_now(
        token: &str,
        bundles: &impl JwtBundleSource,
        audiences: &[&str],
    ) -> Result<Self, JwtSvidError> {
        Self::validate(
            token,
            bundles,
            audiences,
            &JwtValidationOptions::new(UnixTime::now()),
        )
    }

    /// The SPIFFE ID in `sub`.
    pub fn spiffe_id(&self) -> &SpiffeId {
        &self.inner.spiffe_id
    }

    /// The values of `aud` (a single string becomes one value).
    pub fn audience(&self) -> &[String] {
        &self.inner.audience
    }

    /// `exp`, rounded down to whole seconds.
    pub fn expiry(&self) -> UnixTime {
        self.inner.expiry
    }

    /// `nbf` if present, rounded up to whole seconds.
    pub fn not_before(&self) -> Option<UnixTime> {
        self.inner.not_before
    }

    /// The header's `alg`.
    pub fn alg(&self) -> JwtAlg {
        self.inner.alg
    }

    /// The header's `kid`.
    pub fn kid(&self) -> &str {
        &self.inner.kid
    }

    /// Every claim of the token, built on first use. Claims other than `sub`, `aud`, `exp` and
    /// `nbf` were not checked; a claim from a foreign trust domain deserves no trust (JWT-8).
    pub fn claims(&self) -> &JsonObject {
        self.inner.claims()
    }

    /// The token as validated.
    pub fn token(&self) -> &str {
        &self.inner.token
    }
}

impl fmt::Debug for JwtSvid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.debug("JwtSvid", f)
    }
}

// === impl UnverifiedJwtSvid ===

impl UnverifiedJwtSvid {
    /// Decodes `token` and checks its structure (JWT-1..JWT-10, JWT-12 and the NumericDate
    /// types, as in [`JwtSvid::validate`]) without a key or a clock: the signature, `exp`,
    /// `nbf` and the audience are **not** checked.
    pub fn parse_insecure(token: &str) -> Result<Self, JwtSvidError> {
        let mut scratch = Scratch::new();
        let decoded = scratch.decode(token)?;
        Ok(Self {
            inner: Svid::new(token, decoded),
        })
    }

    /// The header's `alg`.
    pub fn alg(&self) -> JwtAlg {
        self.inner.alg
    }

    /// The header's `kid`.
    pub fn kid(&self) -> &str {
        &self.inner.kid
    }

    /// The header's `typ`: `Some("JWT")`, `Some("JOSE")` or `None`.
    pub fn typ(&self) -> Option<&'static str> {
        self.inner.typ
    }

    /// The SPIFFE ID in `sub` (not authenticated).
    pub fn spiffe_id(&self) -> &SpiffeId {
        &self.inner.spiffe_id
    }

    /// The values of `aud`.
    pub fn audience(&self) -> &[String] {
        &self.inner.audience
    }

    /// `exp`, rounded down to whole seconds.
    pub fn expiry(&self) -> UnixTime {
        self.inner.expiry
    }

    /// `nbf` if present, rounded up to whole seconds.
    pub fn not_before(&self) -> Option<UnixTime> {
        self.inner.not_before
    }

    /// Every claim of the token (not authenticated), built on first use.
    pub fn claims(&self) -> &JsonObject {
        self.inner.claims()
    }

    /// The token.
    pub fn token(&self) -> &str {
        &self.inner.token
    }
}

impl fmt::Debug for UnverifiedJwtSvid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.debug("UnverifiedJwtSvid", f)
    }
}

// === impl JwtValidationOptions ===

impl JwtValidationOptions {
    /// Options validating at `now`, with no leeway.
    pub fn new(now: UnixTime) -> Self {
        Self {
            now,
            leeway: Duration::ZERO,
        }
    }

    /// Allows `exp` and `nbf` to be off by up to `leeway` (JWT-13: a small leeway is allowed).
    /// A token is accepted while `now < exp + leeway` and once `nbf <= now + leeway`.
    #[must_use]
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The validation time.
    pub fn now(&self) -> UnixTime {
        self.now
    }

    /// The clock leeway.
    pub fn leeway(&self) -> Duration {
        self.leeway
    }
}

// === impl Svid ===

impl Svid {
    fn new(token: &str, decoded: Decoded<'_, '_>) -> Self {
        Self {
            token: token.into(),
            alg: decoded.alg,
            kid: decoded.kid.as_ref().into(),
            typ: decoded.typ,
            spiffe_id: decoded.spiffe_id,
            audience: decoded.audience.iter().map(str::to_owned).collect(),
            expiry: UnixTime::since_unix_epoch(unix_time(decoded.expiry)),
            not_before: decoded
                .not_before
                .map(|nbf| UnixTime::since_unix_epoch(unix_time(nbf))),
            claims: OnceLock::new(),
        }
    }

    fn claims(&self) -> &JsonObject {
        self.claims.get_or_init(|| {
            // The claims decoded and parsed as an object when the token was read; this only
            // fails for JSON nested deeper than serde_json's limit, which gives an empty map.
            let mut parts = self.token.split('.');
            let claims_b64 = parts.nth(1).unwrap_or_default();
            URL_SAFE_NO_PAD
                .decode(claims_b64)
                .ok()
                .and_then(|json| JsonObject::from_json(&json).ok())
                .unwrap_or_default()
        })
    }

    /// Debug without the token (a bearer credential).
    fn debug(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(name)
            .field("spiffe_id", &self.spiffe_id)
            .field("audience", &self.audience)
            .field("expiry", &self.expiry.as_secs())
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// A NumericDate as a time since the epoch; dates before the epoch become the epoch.
fn unix_time(secs: i64) -> Duration {
    Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}
