//! `x509::verify_path`: RFC 5280 path validation without the SPIFFE leaf checks.
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use spiffe_core::pki_types::UnixTime;
use spiffe_core::x509::{self, X509VerifyError};
use spiffe_core::Certificate;

fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

fn make_root() -> (Certificate, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, "root");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let cert = params.self_signed(&key).unwrap();
    (
        Certificate::from_der(cert.der().clone()).unwrap(),
        Issuer::new(params, key),
    )
}

/// A leaf with no URI SAN at all: not an X.509-SVID, yet a valid RFC 5280 path.
fn plain_leaf(issuer: &Issuer<'_, KeyPair>) -> Certificate {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["node.example".to_owned()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, "node");
    params.not_after = rcgen::date_time_ymd(2040, 1, 1);
    let cert = params.signed_by(&key, issuer).unwrap();
    Certificate::from_der(cert.der().clone()).unwrap()
}

#[test]
fn verifies_a_non_spiffe_chain_and_returns_the_path() {
    let (root, issuer) = make_root();
    let leaf = plain_leaf(&issuer);
    let path = x509::verify_path(
        std::slice::from_ref(&leaf),
        std::slice::from_ref(&root),
        at(1_800_000_000),
    )
    .unwrap();
    assert_eq!(path, vec![leaf.clone(), root.clone()]);
    // The SVID verifier rejects the same chain: the SPIFFE checks are what differ.
    assert!(matches!(
        x509::verify(
            &[leaf.der().clone()],
            &std::sync::Arc::new(spiffe_core::X509Bundle::from_authorities(
                spiffe_core::TrustDomain::new("td").unwrap(),
                vec![root]
            )),
            at(1_800_000_000)
        ),
        Err(X509VerifyError::MissingUriSan)
    ));
}

#[test]
fn rejects_other_roots_expiry_and_empty_chains() {
    let (root, issuer) = make_root();
    // Same subject name, another key: found as the issuer, its signature does not verify.
    let (other, _) = make_root();
    let leaf = plain_leaf(&issuer);
    assert!(matches!(
        x509::verify_path(std::slice::from_ref(&leaf), &[other], at(1_800_000_000)),
        Err(X509VerifyError::BadSignature { index: 0 })
    ));
    assert_eq!(
        x509::verify_path(
            std::slice::from_ref(&leaf),
            std::slice::from_ref(&root),
            at(2_300_000_000)
        ),
        Err(X509VerifyError::Expired { index: 0 })
    );
    assert_eq!(
        x509::verify_path(&[], &[root], at(1_800_000_000)),
        Err(X509VerifyError::EmptyChain)
    );
}

#[test]
fn spiffe_vector_chain_also_verifies_as_a_plain_path() {
    let chain = x509::parse_certificates(include_bytes!("data/x509/36-chain.pem")).unwrap();
    let roots = x509::parse_certificates(include_bytes!("data/x509/root-td.pem")).unwrap();
    let path = x509::verify_path(&chain, &roots, at(1_800_000_000)).unwrap();
    assert_eq!(path.first(), chain.first());
    assert!(roots.contains(path.last().unwrap()));
}
