//! The client's checks on a fetched bundle document, which is untrusted input.

use spiffe_core::{SpiffeBundle, TrustDomain};

use super::FederationError;

/// The largest document accepted: far above any real bundle (a few dozen keys), small enough
/// that a hostile endpoint cannot make us hold much.
pub const MAX_DOCUMENT_SIZE: usize = 512 * 1024;

/// Reads the bundle document fetched for `trust_domain`.
///
/// In order: the size cap, strict JSON and the SPIFFE bundle rules of `spiffe-core`
/// (BUNDLE-3..17: duplicate members, `use`, key types), at least one key, and no X.509
/// authority naming another trust domain in its URI SAN (FED-7: the bundle stays bound to the
/// trust domain the relationship names; the document itself names none, FED-32).
pub fn parse_bundle_document(
    trust_domain: &TrustDomain,
    document: &[u8],
) -> Result<SpiffeBundle, FederationError> {
    if document.len() > MAX_DOCUMENT_SIZE {
        return Err(FederationError::TooLarge {
            limit: MAX_DOCUMENT_SIZE,
        });
    }
    // FED-17: the body is UTF-8 JSON; strict parsing rejects anything else.
    let bundle =
        SpiffeBundle::parse(trust_domain.clone(), document).map_err(FederationError::Document)?;
    if bundle.x509_authorities().is_empty() && bundle.jwt_authorities().is_empty() {
        return Err(FederationError::Empty(trust_domain.clone()));
    }
    for authority in bundle.x509_authorities().authorities() {
        // A CA certificate of a SPIFFE issuer usually carries its trust domain's ID; one that
        // names another trust domain means the endpoint serves someone else's bundle.
        if let Ok(Some(id)) = authority.spiffe_id() {
            let found = id.trust_domain();
            if &found != trust_domain {
                return Err(FederationError::WrongTrustDomain {
                    expected: trust_domain.clone(),
                    found,
                });
            }
        }
    }
    Ok(bundle)
}
