//! What a [`CaManager`](super::CaManager) creates: trust domain, key types, lifetimes, upstream.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use spiffe_core::TrustDomain;

use crate::keys::KeyType;
use crate::x509::UpstreamAuthority;

/// The default lifetime of an X.509 CA and of a JWT key (SPIRE's `ca_ttl` default).
pub const DEFAULT_CA_TTL: Duration = Duration::from_secs(24 * 3600);

/// The configuration of a [`CaManager`](super::CaManager).
///
/// ```
/// # use std::time::Duration;
/// # use spiffe_ca::keys::KeyType;
/// # use spiffe_ca::manager::CaManagerConfig;
/// # use spiffe_core::TrustDomain;
/// let config = CaManagerConfig::new(TrustDomain::new("example.org")?)
///     .with_x509(KeyType::EcP384, Duration::from_secs(7 * 86_400))
///     .with_jwt(KeyType::EcP256, Duration::from_secs(86_400));
/// assert_eq!(config.x509_ttl(), Duration::from_secs(7 * 86_400));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct CaManagerConfig {
    trust_domain: TrustDomain,
    x509_key_type: KeyType,
    x509_ttl: Duration,
    jwt_key_type: KeyType,
    jwt_ttl: Duration,
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
            .field("upstream", &self.upstream.is_some())
            .finish()
    }
}
