//! Downstream CAs (nested servers): a root CA signs a downstream CA for another server's key
//! with `X509SvidIssuer::mint_downstream_ca`; the downstream, built as an intermediate from
//! that chain, mints SVIDs that verify against the root alone.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use spiffe_ca::keys::{KeyType, Signer, SoftwareSigner};
use spiffe_ca::x509::{X509SvidIssuer, X509SvidRequest};
use spiffe_ca::CaError;
use spiffe_core::pki_types::UnixTime;
use spiffe_core::{x509, Certificate, SpiffeId, TrustDomain, X509Bundle};

const NOW: u64 = 1_800_000_000;
const DAY: u64 = 86_400;

fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

fn root() -> X509SvidIssuer {
    let td = TrustDomain::new("example.org").unwrap();
    let key = Arc::new(SoftwareSigner::generate("root", KeyType::EcP256).unwrap());
    X509SvidIssuer::self_signed(&td, key, at(NOW - 60), at(NOW + DAY)).unwrap()
}

#[test]
fn downstream_ca_has_the_ca_profile_and_chains_to_the_root() {
    let root = root();
    let key: Arc<dyn Signer> = Arc::new(SoftwareSigner::generate("ds", KeyType::EcP256).unwrap());
    let chain = root
        .mint_downstream_ca(
            key.public_key().spki_der(),
            Duration::from_secs(3600),
            at(NOW),
        )
        .unwrap();
    // A self-signed root presents nothing: the chain is the downstream CA alone.
    assert_eq!(chain.len(), 1);
    let ca = Certificate::from_der(chain[0].clone()).unwrap();
    assert!(ca.is_ca());
    // X509-10: no pathLenConstraint, as SPIRE's downstream CAs.
    assert_eq!(ca.path_len_constraint(), None);
    assert!(ca.key_usage().is_some_and(|ku| ku.key_cert_sign()));
    assert_eq!(
        ca.spiffe_id().unwrap().unwrap().as_str(),
        "spiffe://example.org"
    );
    assert_eq!(ca.not_after().as_secs(), NOW + 3600);
    assert_eq!(ca.issuer_der(), root.certificate().subject_der());

    // The downstream mints; its SVIDs verify against the root bundle alone.
    let td = root.trust_domain().clone();
    let downstream =
        X509SvidIssuer::from_parts(td.clone(), key, vec![ca], root.trust_anchor().clone()).unwrap();
    let leaf = SoftwareSigner::generate("w", KeyType::EcP256).unwrap();
    let id = SpiffeId::new("spiffe://example.org/workload").unwrap();
    let svid = downstream
        .mint(
            &X509SvidRequest::new(id, leaf.public_key(), Duration::from_secs(60)),
            at(NOW),
        )
        .unwrap();
    let bundle = Arc::new(X509Bundle::from_authorities(
        td,
        vec![root.trust_anchor().clone()],
    ));
    let verified = x509::verify(svid.chain(), &bundle, at(NOW)).unwrap();
    assert_eq!(
        verified.spiffe_id().as_str(),
        "spiffe://example.org/workload"
    );
}

#[test]
fn downstream_ca_lifetime_is_capped_by_the_root() {
    let root = root();
    let key = SoftwareSigner::generate("ds", KeyType::EcP256).unwrap();
    let chain = root
        .mint_downstream_ca(
            key.public_key().spki_der(),
            Duration::from_secs(30 * DAY),
            at(NOW),
        )
        .unwrap();
    let ca = Certificate::from_der(chain[0].clone()).unwrap();
    assert_eq!(ca.not_after().as_secs(), NOW + DAY);
}

#[test]
fn downstream_ca_refuses_bad_keys_and_an_expired_root() {
    let root = root();
    assert!(matches!(
        root.mint_downstream_ca(b"not a key", Duration::from_secs(60), at(NOW)),
        Err(CaError::MalformedPublicKey)
    ));
    let key = SoftwareSigner::generate("ds", KeyType::EcP256).unwrap();
    let spki = key.public_key().spki_der().to_vec();
    assert!(matches!(
        root.mint_downstream_ca(&spki, Duration::from_secs(60), at(NOW + 2 * DAY)),
        Err(CaError::AuthorityExpired { .. })
    ));
    assert!(matches!(
        root.mint_downstream_ca(&spki, Duration::ZERO, at(NOW)),
        Err(CaError::ZeroTtl)
    ));
}
