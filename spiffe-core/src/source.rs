//! Where verifiers get their material: the source traits other crates implement.
//!
//! A source always answers with its newest material; rotating implementations (the Workload
//! API client's sources in `spiffe-workload`) swap what they hold behind these calls, so a
//! verifier or TLS resolver built on a source never needs rebuilding. Answers are `Arc`s so that
//! a caller keeps a consistent snapshot while the source moves on.

use std::sync::Arc;

use crate::{JwtBundle, TrustDomain, X509Bundle, X509Svid};

/// Gives the X.509 bundle of a trust domain (WAPI-11: one trust domain's authorities, never a
/// pool of all of them).
pub trait X509BundleSource {
    /// The X.509 authorities of `trust_domain`, or `None` when the source has none: SVIDs of
    /// that trust domain are then untrusted.
    fn x509_bundle_for(&self, trust_domain: &TrustDomain) -> Option<Arc<X509Bundle>>;
}

/// Gives the JWT bundle of a trust domain (JWT-20: tokens are checked only against the bundle
/// of the trust domain in their `sub`).
pub trait JwtBundleSource {
    /// The JWT authorities of `trust_domain`, or `None` when the source has none.
    fn jwt_bundle_for(&self, trust_domain: &TrustDomain) -> Option<Arc<JwtBundle>>;
}

/// Gives this workload's own X.509-SVID (the default identity, WAPI-24).
pub trait X509SvidSource {
    /// The current default X.509-SVID, or `None` when none is held yet.
    fn x509_svid(&self) -> Option<Arc<X509Svid>>;
}

impl<T: X509BundleSource + ?Sized> X509BundleSource for Arc<T> {
    fn x509_bundle_for(&self, trust_domain: &TrustDomain) -> Option<Arc<X509Bundle>> {
        (**self).x509_bundle_for(trust_domain)
    }
}

impl<T: X509BundleSource + ?Sized> X509BundleSource for &T {
    fn x509_bundle_for(&self, trust_domain: &TrustDomain) -> Option<Arc<X509Bundle>> {
        (**self).x509_bundle_for(trust_domain)
    }
}

impl<T: JwtBundleSource + ?Sized> JwtBundleSource for Arc<T> {
    fn jwt_bundle_for(&self, trust_domain: &TrustDomain) -> Option<Arc<JwtBundle>> {
        (**self).jwt_bundle_for(trust_domain)
    }
}

impl<T: JwtBundleSource + ?Sized> JwtBundleSource for &T {
    fn jwt_bundle_for(&self, trust_domain: &TrustDomain) -> Option<Arc<JwtBundle>> {
        (**self).jwt_bundle_for(trust_domain)
    }
}

impl<T: X509SvidSource + ?Sized> X509SvidSource for Arc<T> {
    fn x509_svid(&self) -> Option<Arc<X509Svid>> {
        (**self).x509_svid()
    }
}

/// A single bundle answers for its own trust domain only.
impl X509BundleSource for Arc<X509Bundle> {
    fn x509_bundle_for(&self, trust_domain: &TrustDomain) -> Option<Arc<X509Bundle>> {
        (self.trust_domain() == trust_domain).then(|| self.clone())
    }
}

/// A single bundle answers for its own trust domain only.
impl JwtBundleSource for Arc<JwtBundle> {
    fn jwt_bundle_for(&self, trust_domain: &TrustDomain) -> Option<Arc<JwtBundle>> {
        (self.trust_domain() == trust_domain).then(|| self.clone())
    }
}

/// A fixed SVID, for tests and static configurations.
impl X509SvidSource for Arc<X509Svid> {
    fn x509_svid(&self) -> Option<Arc<X509Svid>> {
        Some(self.clone())
    }
}
