//! What a [`CaManager`](super::CaManager) creates: trust domain, key types, lifetimes, upstream.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use spiffe_core::jwt::JwtAlg;
use spiffe_core::TrustDomain;

use crate::keys::KeyType;
use crate::x509::UpstreamAuthority;
use crate::CaError;

/// The default lifetime of an X.509 CA and of a JWT key (SPIRE's `ca_ttl` default).
pub const DEFAULT_CA_TTL: Duration = Duration::from_secs(24 * 3600);

/// The configuration of a [`CaManager`](super::CaManager).
///
/// ```
/// # use std::time::Duration;
/// # use spiffe_ca::keys::KeyType;
/// # use spiffe_ca::manager::CaManagerConfig;
/// # use spiffe_core::jwt::JwtAlg;
/// # use spiffe_core::TrustDomain;
/// let config = CaManagerConfig::new(TrustDomain::new("example.org")?)
///     .with_x509(KeyType::EcP384, Duration::from_secs(7 * 86_400))
///     .with_jwt(KeyType::Rsa2048, Duration::from_secs(86_400))
///     .with_jwt_alg(JwtAlg::Ps256);
/// assert_eq!(config.x509_ttl(), Duration::from_secs(7 * 86_400));
/// assert_eq!(config.jwt_alg(), JwtAlg::Ps256);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct CaManagerConfig {
    trust_domain: TrustDomain,
    x509_key_type: KeyType,
    x509_ttl: Duration,
    jwt_key_type: KeyType,
    jwt_ttl: Duration,
    jwt_alg: Option<JwtAlg>,
    upstream: Option<Arc<dyn UpstreamAuthority>>,
}

// === impl CaManagerConfig ===

impl CaManagerConfig {
    /// A self-signed CA for `trust_domain` with EC P-256 keys and 24 h lifetimes.
    pub fn new(trust_domain: TrustDomain) -> Self {
        Self {
            trust_domain,
            x509_key_type: KeyType::EcP256,
            x509_ttl: DEFAULT_CA_TTL,
            jwt_key_type: KeyType::EcP256,
            jwt_ttl: DEFAULT_CA_TTL,
            jwt_alg: None,
            upstream: None,
        }
    }

    /// The X.509 CA key type and lifetime.
    pub fn with_x509(mut self, key_type: KeyType, ttl: Duration) -> Self {
        self.x509_key_type = key_type;
        self.x509_ttl = ttl;
        self
    }

    /// The JWT key type and lifetime.
    pub fn with_jwt(mut self, key_type: KeyType, ttl: Duration) -> Self {
        self.jwt_key_type = key_type;
        self.jwt_ttl = ttl;
        self
    }

    /// The JWS algorithm of new JWT keys: ES256 for EC P-256, ES384 for EC P-384, RS256 or
    /// PS256 for RSA. Without it, the key type's default (ES256, ES384, RS256) is used. The
    /// pairing with the JWT key type is checked by
    /// [`CaManager::load_or_init`](super::CaManager::load_or_init). Each key's algorithm is
    /// journaled, so a resumed key keeps the algorithm it was created with.
    pub fn with_jwt_alg(mut self, alg: JwtAlg) -> Self {
        self.jwt_alg = Some(alg);
        self
    }

    /// Makes every X.509 CA an intermediate signed by `upstream`.
    pub fn with_upstream(mut self, upstream: Arc<dyn UpstreamAuthority>) -> Self {
        self.upstream = Some(upstream);
        self
    }

    /// The trust domain.
    pub fn trust_domain(&self) -> &TrustDomain {
        &self.trust_domain
    }

    /// The X.509 CA key type.
    pub fn x509_key_type(&self) -> KeyType {
        self.x509_key_type
    }

    /// The lifetime of each X.509 CA.
    pub fn x509_ttl(&self) -> Duration {
        self.x509_ttl
    }

    /// The JWT key type.
    pub fn jwt_key_type(&self) -> KeyType {
        self.jwt_key_type
    }

    /// The lifetime of each JWT key.
    pub fn jwt_ttl(&self) -> Duration {
        self.jwt_ttl
    }

    /// The JWS algorithm of new JWT keys: the configured one, or the JWT key type's default
    /// (ES256 for EC P-256, ES384 for EC P-384, RS256 for RSA).
    pub fn jwt_alg(&self) -> JwtAlg {
        self.jwt_alg
            .unwrap_or_else(|| default_jwt_alg(self.jwt_key_type))
    }

    /// Checks that the JWT algorithm suits the JWT key type.
    pub(super) fn check_jwt_alg(&self) -> Result<(), CaError> {
        let alg = self.jwt_alg();
        let key_type = self.jwt_key_type;
        let fits = matches!(
            (alg, key_type),
            (JwtAlg::Es256, KeyType::EcP256)
                | (JwtAlg::Es384, KeyType::EcP384)
                | (
                    JwtAlg::Rs256 | JwtAlg::Ps256,
                    KeyType::Rsa2048 | KeyType::Rsa4096
                )
        );
        if fits {
            Ok(())
        } else {
            Err(CaError::AlgorithmMismatch { alg, key_type })
        }
    }

    /// The upstream authority, if any.
    pub fn upstream(&self) -> Option<&Arc<dyn UpstreamAuthority>> {
        self.upstream.as_ref()
    }
}

impl fmt::Debug for CaManagerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaManagerConfig")
            .field("trust_domain", &self.trust_domain)
            .field("x509_key_type", &self.x509_key_type)
            .field("x509_ttl", &self.x509_ttl)
            .field("jwt_key_type", &self.jwt_key_type)
            .field("jwt_ttl", &self.jwt_ttl)
            .field("jwt_alg", &self.jwt_alg())
            .field("upstream", &self.upstream.is_some())
            .finish()
    }
}

/// The algorithm a JWT key of `key_type` signs with when none is configured or journaled.
pub(super) fn default_jwt_alg(key_type: KeyType) -> JwtAlg {
    match key_type {
        KeyType::EcP256 => JwtAlg::Es256,
        KeyType::EcP384 => JwtAlg::Es384,
        KeyType::Rsa2048 | KeyType::Rsa4096 => JwtAlg::Rs256,
    }
}
