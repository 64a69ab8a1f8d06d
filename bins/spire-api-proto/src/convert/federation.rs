//! `types::FederationRelationship` to and from [`FederationRelationship`].

use spiffe_core::{SpiffeId, TrustDomain};

use super::bundle::{bundle_from_proto, bundle_to_proto, ApiBundle};
use super::id::trust_domain_from_proto;
use super::{ConvertError, FieldPath};
use crate::types;
use crate::types::federation_relationship::BundleEndpointProfile as ProtoProfile;

/// A federation with a foreign trust domain: where its bundle is fetched and how that
/// endpoint is authenticated (SPIFFE Federation §5.2), with the bundle when one is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederationRelationship {
    /// The foreign trust domain.
    pub trust_domain: TrustDomain,
    /// The bundle endpoint's URL: `https://` (checked when read).
    pub bundle_endpoint_url: String,
    /// How the bundle endpoint is authenticated.
    pub profile: BundleEndpointProfile,
    /// The foreign trust domain's bundle, when known (required to bootstrap `https_spiffe`).
    pub trust_domain_bundle: Option<ApiBundle>,
}

/// How a bundle endpoint is authenticated (SPIFFE Federation §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BundleEndpointProfile {
    /// `https_web`: Web PKI, the server's certificate checked against public roots.
    HttpsWeb,
    /// `https_spiffe`: the server presents an X.509-SVID with this SPIFFE ID, checked against
    /// the foreign trust domain's bundle.
    HttpsSpiffe {
        /// The SPIFFE ID the endpoint must present.
        endpoint_spiffe_id: SpiffeId,
    },
}

/// Reads SPIRE's federation relationship message. Errors name the field, e.g.
/// `https_spiffe.endpoint_spiffe_id` or `trust_domain_bundle.jwt_authorities[0].public_key`.
///
/// The URL must be `https://` with a host and no user info, spaces or control characters; a
/// bundle given with the relationship must be of the relationship's trust domain.
pub fn federation_relationship_from_proto(
    relationship: &types::FederationRelationship,
) -> Result<FederationRelationship, ConvertError> {
    let trust_domain =
        trust_domain_from_proto(&relationship.trust_domain, FieldPath::new("trust_domain"))?;
    let url = &relationship.bundle_endpoint_url;
    if url.is_empty() {
        return Err(ConvertError::Missing {
            field: FieldPath::new("bundle_endpoint_url"),
        });
    }
    if !is_https_url(url) {
        return Err(ConvertError::Url {
            field: FieldPath::new("bundle_endpoint_url"),
        });
    }
    let profile = match &relationship.bundle_endpoint_profile {
        None => {
            return Err(ConvertError::Missing {
                field: FieldPath::new("bundle_endpoint_profile"),
            })
        }
        Some(ProtoProfile::HttpsWeb(_)) => BundleEndpointProfile::HttpsWeb,
        Some(ProtoProfile::HttpsSpiffe(profile)) => {
            let field = || FieldPath::new("https_spiffe").then("endpoint_spiffe_id");
            if profile.endpoint_spiffe_id.is_empty() {
                return Err(ConvertError::Missing { field: field() });
            }
            let endpoint_spiffe_id =
                SpiffeId::new(&profile.endpoint_spiffe_id).map_err(|source| {
                    ConvertError::SpiffeId {
                        field: field(),
                        source,
                    }
                })?;
            BundleEndpointProfile::HttpsSpiffe { endpoint_spiffe_id }
        }
    };
    let trust_domain_bundle = match &relationship.trust_domain_bundle {
        None => None,
        Some(bundle) => {
            let within = || FieldPath::new("trust_domain_bundle");
            let bundle = bundle_from_proto(bundle).map_err(|e| e.within(within()))?;
            if bundle.bundle.trust_domain() != &trust_domain {
                return Err(ConvertError::TrustDomainMismatch {
                    field: within().then("trust_domain"),
                });
            }
            Some(bundle)
        }
    };
    Ok(FederationRelationship {
        trust_domain,
        bundle_endpoint_url: url.clone(),
        profile,
        trust_domain_bundle,
    })
}

/// SPIRE's federation relationship message. Fails only where
/// [`bundle_to_proto`] fails for the bundle.
pub fn federation_relationship_to_proto(
    relationship: &FederationRelationship,
) -> Result<types::FederationRelationship, ConvertError> {
    let profile = match &relationship.profile {
        BundleEndpointProfile::HttpsWeb => ProtoProfile::HttpsWeb(types::HttpsWebProfile {}),
        BundleEndpointProfile::HttpsSpiffe { endpoint_spiffe_id } => {
            ProtoProfile::HttpsSpiffe(types::HttpsspiffeProfile {
                endpoint_spiffe_id: endpoint_spiffe_id.as_str().to_owned(),
            })
        }
    };
    let trust_domain_bundle = relationship
        .trust_domain_bundle
        .as_ref()
        .map(|bundle| {
            bundle_to_proto(bundle).map_err(|e| e.within(FieldPath::new("trust_domain_bundle")))
        })
        .transpose()?;
    Ok(types::FederationRelationship {
        trust_domain: relationship.trust_domain.as_str().to_owned(),
        bundle_endpoint_url: relationship.bundle_endpoint_url.clone(),
        bundle_endpoint_profile: Some(profile),
        trust_domain_bundle,
    })
}

/// `https://host[...]`: the scheme (lowercase, as SPIRE requires it), a non-empty authority
/// without user info, and no whitespace or control characters anywhere.
fn is_https_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    !authority.is_empty()
        && !authority.contains('@')
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_https_with_a_host() {
        for good in [
            "https://example.org",
            "https://example.org:8443/bundle",
            "https://[::1]:443/x?y#z",
        ] {
            assert!(is_https_url(good), "{good}");
        }
        for bad in [
            "http://example.org",
            "HTTPS://example.org",
            "https://",
            "https:///path",
            "https://user@example.org/",
            "https://example.org/a b",
            "https://example.org/\n",
            "example.org",
        ] {
            assert!(!is_https_url(bad), "{bad}");
        }
    }
}
