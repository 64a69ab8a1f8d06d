use spiffe_core::{SpiffeId, TrustDomain};

use super::Bundle;

/// How the server authenticates a federated trust domain's bundle endpoint (SPIRE's
/// `bundle_endpoint_profile`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BundleEndpointProfile {
    /// `https_web`: Web PKI (the system's roots).
    HttpsWeb,
    /// `https_spiffe`: the endpoint presents an X.509-SVID for `endpoint_spiffe_id`, checked
    /// against the trust domain's stored bundle.
    HttpsSpiffe {
        /// The endpoint server's SPIFFE ID.
        endpoint_spiffe_id: SpiffeId,
    },
}

/// A federation relationship with a foreign trust domain (SPIRE's
/// `spire.api.types.FederationRelationship`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FederationRelationship {
    /// The foreign trust domain.
    pub trust_domain: TrustDomain,
    /// Where its bundle is fetched (`https://…`).
    pub bundle_endpoint_url: String,
    /// How the endpoint is authenticated.
    pub profile: BundleEndpointProfile,
    /// The trust domain's bundle as stored (read), or a bundle to store with the relationship
    /// (create, update); it lives in the bundle store, so it outlives the relationship.
    pub trust_domain_bundle: Option<Bundle>,
}

impl FederationRelationship {
    /// A relationship with no bundle.
    pub fn new(
        trust_domain: TrustDomain,
        bundle_endpoint_url: impl Into<String>,
        profile: BundleEndpointProfile,
    ) -> Self {
        Self {
            trust_domain,
            bundle_endpoint_url: bundle_endpoint_url.into(),
            profile,
            trust_domain_bundle: None,
        }
    }
}

/// Which fields of a federation relationship an update replaces (SPIRE's
/// `FederationRelationshipMask`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct FederationMask {
    /// `bundle_endpoint_url`.
    pub bundle_endpoint_url: bool,
    /// `bundle_endpoint_profile`.
    pub bundle_endpoint_profile: bool,
    /// `trust_domain_bundle` (stored when given; an absent bundle leaves the stored one).
    pub trust_domain_bundle: bool,
}

impl FederationMask {
    /// Every field.
    pub fn all() -> Self {
        Self {
            bundle_endpoint_url: true,
            bundle_endpoint_profile: true,
            trust_domain_bundle: true,
        }
    }
}
