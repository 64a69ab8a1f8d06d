//! Stored bundles ([`crate::datastore::Bundle`]) to and from SPIRE's `types::Bundle`, the
//! output mask, and trust domain names as SPIRE's requests give them.
//!
//! A bundle from a request is first read with [`bundle_from_proto`] (certificates parse, JWT
//! keys are usable SPKIs with key ids, none repeated, the trust domain is valid), then stored
//! as sent: X.509 authorities once each, tainted if any copy is.

use spiffe_core::pki_types::UnixTime;
use spiffe_core::{IdError, SpiffeId, TrustDomain};
use spire_api_proto::convert::{bundle_from_proto, ConvertError};
use spire_api_proto::types;

use crate::datastore::{Bundle, JwtAuthority, X509Authority};

/// A stored bundle as SPIRE's message.
pub(crate) fn bundle_to_proto(bundle: &Bundle) -> types::Bundle {
    types::Bundle {
        trust_domain: bundle.trust_domain.as_str().to_owned(),
        x509_authorities: bundle
            .x509_authorities
            .iter()
            .map(|a| types::X509Certificate {
                asn1: a.der.clone(),
                tainted: a.tainted,
            })
            .collect(),
        jwt_authorities: bundle
            .jwt_authorities
            .iter()
            .map(|k| types::JwtKey {
                public_key: k.public_key.clone(),
                key_id: k.key_id.clone(),
                expires_at: k.expires_at.map_or(0, secs),
                tainted: k.tainted,
            })
            .collect(),
        refresh_hint: bundle
            .refresh_hint
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        sequence_number: bundle.sequence_number,
        wit_authorities: Vec::new(),
    }
}

/// A bundle from a request, checked; errors name the field.
pub(crate) fn bundle_from_request(message: &types::Bundle) -> Result<Bundle, ConvertError> {
    let checked = bundle_from_proto(message)?;
    let mut bundle = Bundle::new(checked.bundle.trust_domain().clone());
    for authority in &message.x509_authorities {
        match bundle
            .x509_authorities
            .iter_mut()
            .find(|a| a.der == authority.asn1)
        {
            Some(existing) => existing.tainted |= authority.tainted,
            None => {
                let mut stored = X509Authority::new(authority.asn1.clone());
                stored.tainted = authority.tainted;
                bundle.x509_authorities.push(stored);
            }
        }
    }
    for key in &message.jwt_authorities {
        let state = checked.jwt_state(&key.key_id);
        let mut stored =
            JwtAuthority::new(key.key_id.clone(), key.public_key.clone(), state.expires_at);
        stored.tainted = state.tainted;
        bundle.jwt_authorities.push(stored);
    }
    bundle.refresh_hint = checked.bundle.refresh_hint();
    bundle.sequence_number = message.sequence_number;
    Ok(bundle)
}

/// SPIRE's `applyBundleMask`: without a mask every field is returned; with one, the fields it
/// leaves unset are cleared (the trust domain is always returned).
pub(crate) fn apply_mask(bundle: &mut types::Bundle, mask: Option<&types::BundleMask>) {
    let Some(mask) = mask else {
        return;
    };
    if !mask.refresh_hint {
        bundle.refresh_hint = 0;
    }
    if !mask.sequence_number {
        bundle.sequence_number = 0;
    }
    if !mask.x509_authorities {
        bundle.x509_authorities.clear();
    }
    if !mask.jwt_authorities {
        bundle.jwt_authorities.clear();
    }
    if !mask.wit_authorities {
        bundle.wit_authorities.clear();
    }
}

/// SPIRE's `TrustDomainFromString`: a trust domain name, or a `spiffe://` ID whose trust
/// domain is taken.
pub(crate) fn trust_domain_from_string(text: &str) -> Result<TrustDomain, IdError> {
    if text.contains(":/") {
        return SpiffeId::new(text).map(|id| id.trust_domain());
    }
    TrustDomain::new(text)
}

fn secs(time: UnixTime) -> i64 {
    i64::try_from(time.as_secs()).unwrap_or(i64::MAX)
}
