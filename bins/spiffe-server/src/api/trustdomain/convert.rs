//! SPIRE's `types::FederationRelationship` to and from stored relationships.
//!
//! A request's relationship is read whole with the proto crate's checks (`https://` URL with
//! a host, a profile, an `https_spiffe` endpoint ID, a bundle of the relationship's trust
//! domain), as SPIRE's `ProtoToFederationRelationship` does even for updates; the bundle is
//! then stored as sent, like the Bundle service stores federated bundles.

use spire_api_proto::convert::federation_relationship_from_proto;
use spire_api_proto::types;
use spire_api_proto::types::federation_relationship::BundleEndpointProfile as ProtoProfile;
use tonic::Status;

use crate::api::bundle::convert::{bundle_from_request, bundle_to_proto};
use crate::api::status::chain;
use crate::datastore::{BundleEndpointProfile, FederationMask, FederationRelationship};

/// A relationship from a request, or INVALID_ARGUMENT naming the field at fault.
pub(super) fn relationship_from_request(
    message: &types::FederationRelationship,
) -> Result<FederationRelationship, Status> {
    let failed = |detail: String| {
        Status::invalid_argument(format!(
            "failed to convert federation relationship: {detail}"
        ))
    };
    let checked = federation_relationship_from_proto(message).map_err(|e| failed(chain(&e)))?;
    let profile = match checked.profile {
        spire_api_proto::convert::BundleEndpointProfile::HttpsSpiffe { endpoint_spiffe_id } => {
            BundleEndpointProfile::HttpsSpiffe { endpoint_spiffe_id }
        }
        _ => BundleEndpointProfile::HttpsWeb,
    };
    let mut relationship =
        FederationRelationship::new(checked.trust_domain, checked.bundle_endpoint_url, profile);
    if let Some(bundle) = &message.trust_domain_bundle {
        relationship.trust_domain_bundle = Some(
            bundle_from_request(bundle)
                .map_err(|e| failed(format!("trust_domain_bundle: {}", chain(&e))))?,
        );
    }
    Ok(relationship)
}

/// A stored relationship as SPIRE's message, through `mask` (every field without one; the
/// trust domain always).
pub(super) fn relationship_message(
    relationship: &FederationRelationship,
    mask: Option<&types::FederationRelationshipMask>,
) -> types::FederationRelationship {
    let profile = match &relationship.profile {
        BundleEndpointProfile::HttpsSpiffe { endpoint_spiffe_id } => {
            ProtoProfile::HttpsSpiffe(types::HttpsspiffeProfile {
                endpoint_spiffe_id: endpoint_spiffe_id.as_str().to_owned(),
            })
        }
        _ => ProtoProfile::HttpsWeb(types::HttpsWebProfile {}),
    };
    let mut message = types::FederationRelationship {
        trust_domain: relationship.trust_domain.as_str().to_owned(),
        bundle_endpoint_url: relationship.bundle_endpoint_url.clone(),
        trust_domain_bundle: relationship
            .trust_domain_bundle
            .as_ref()
            .map(bundle_to_proto),
        bundle_endpoint_profile: Some(profile),
    };
    if let Some(mask) = mask {
        if !mask.bundle_endpoint_url {
            message.bundle_endpoint_url.clear();
        }
        if !mask.bundle_endpoint_profile {
            message.bundle_endpoint_profile = None;
        }
        if !mask.trust_domain_bundle {
            message.trust_domain_bundle = None;
        }
    }
    message
}

/// The `input_mask` of `BatchUpdateFederationRelationship`: every field when absent.
pub(super) fn input_mask(mask: Option<&types::FederationRelationshipMask>) -> FederationMask {
    let Some(m) = mask else {
        return FederationMask::all();
    };
    FederationMask {
        bundle_endpoint_url: m.bundle_endpoint_url,
        bundle_endpoint_profile: m.bundle_endpoint_profile,
        trust_domain_bundle: m.trust_domain_bundle,
    }
}
