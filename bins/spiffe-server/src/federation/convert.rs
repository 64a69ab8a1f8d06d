//! Stored bundles to and from SPIFFE bundle documents.

use spiffe_core::{SpiffeBundle, X509Bundle};
use spire_api_proto::convert::{bundle_from_proto, ApiBundle, ConvertError};

use crate::api::bundle::convert::{bundle_from_request, bundle_to_proto};
use crate::datastore::Bundle;

/// A stored bundle as a SPIFFE bundle document (its sequence number and refresh hint too).
pub(crate) fn to_spiffe(stored: &Bundle) -> Result<SpiffeBundle, ConvertError> {
    let mut bundle = bundle_from_proto(&bundle_to_proto(stored))?.bundle;
    bundle.set_sequence(Some(stored.sequence_number));
    bundle.set_refresh_hint(stored.refresh_hint);
    Ok(bundle)
}

/// The X.509 authorities of a stored bundle.
pub(crate) fn to_x509(stored: &Bundle) -> Result<X509Bundle, ConvertError> {
    Ok(to_spiffe(stored)?.x509_authorities().clone())
}

/// A fetched bundle in the store's shape, with the sequence number and hint it came with.
pub(crate) fn from_spiffe(fetched: &SpiffeBundle) -> Result<Bundle, ConvertError> {
    let proto = spire_api_proto::convert::bundle_to_proto(&ApiBundle::new(fetched.clone()))?;
    let mut stored = bundle_from_request(&proto)?;
    stored.sequence_number = fetched.sequence().unwrap_or(0);
    stored.refresh_hint = fetched.refresh_hint();
    Ok(stored)
}

/// Whether two stored bundles hold the same keys (order aside).
pub(crate) fn same_keys(a: &Bundle, b: &Bundle) -> bool {
    let x509 = |b: &Bundle| {
        let mut v: Vec<Vec<u8>> = b.x509_authorities.iter().map(|a| a.der.clone()).collect();
        v.sort();
        v
    };
    let jwt = |b: &Bundle| {
        let mut v: Vec<(String, Vec<u8>)> = b
            .jwt_authorities
            .iter()
            .map(|k| (k.key_id.clone(), k.public_key.clone()))
            .collect();
        v.sort();
        v
    };
    x509(a) == x509(b) && jwt(a) == jwt(b)
}
