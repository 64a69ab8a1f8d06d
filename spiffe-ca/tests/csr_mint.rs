//! Minting from PKCS#10 CSRs made by OpenSSL and rcgen: proof of possession checked, the CSR's
//! key certified, its subject and SANs ignored, bad CSRs rejected.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use spiffe_ca::keys::{KeyType, SoftwareSigner};
use spiffe_ca::x509::{X509SvidIssuer, X509SvidRequest};
use spiffe_ca::CaError;
use spiffe_core::pki_types::UnixTime;
use spiffe_core::x509::{CertificateRequest, PublicKeyAlgorithm};
use spiffe_core::{x509, Certificate, SpiffeId, TrustDomain, X509Bundle};

const NOW: u64 = 1_800_000_000;

fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

fn td() -> TrustDomain {
    TrustDomain::new("example.org").unwrap()
}

fn id() -> SpiffeId {
    SpiffeId::new("spiffe://example.org/db").unwrap()
}

fn ca() -> X509SvidIssuer {
    let signer = Arc::new(SoftwareSigner::generate("ca", KeyType::EcP256).unwrap());
    X509SvidIssuer::self_signed(&td(), signer, at(NOW - 3600), at(NOW + 3600)).unwrap()
}

/// A DER CSR made by `openssl req` with a new key (`newkey`, e.g. `rsa:2048`), with a subject
/// and a URI SAN that the CA must ignore.
fn openssl_csr(name: &str, newkey: &[&str]) -> Vec<u8> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new("openssl")
        .args(["req", "-new", "-nodes", "-subj", "/CN=requested"])
        .args(["-addext", "subjectAltName=URI:spiffe://evil.org/admin"])
        .args(newkey)
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .args(["-outform", "DER", "-out"])
        .arg(dir.join("csr.der"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(dir.join("csr.der")).unwrap()
}

fn mint_and_verify(csr: &[u8]) -> Certificate {
    let ca = ca();
    let svid = ca
        .mint_from_csr(csr, id(), Duration::from_secs(600), at(NOW))
        .unwrap();
    let bundle = Arc::new(X509Bundle::from_authorities(
        td(),
        vec![ca.trust_anchor().clone()],
    ));
    let verified = x509::verify(svid.chain(), &bundle, at(NOW)).unwrap();
    // The ID is the CA's choice, not the CSR's SAN; the subject is not copied either.
    assert_eq!(verified.spiffe_id(), &id());
    let leaf = verified.leaf().clone();
    assert_eq!(leaf.uri_san_count(), 1);
    assert_eq!(leaf.subject_der(), [0x30, 0x00]);
    let parsed = CertificateRequest::from_der(csr).unwrap();
    assert_eq!(
        leaf.subject_public_key_info(),
        parsed.subject_public_key_info()
    );
    leaf
}

#[test]
fn openssl_csrs_of_every_key_type() {
    let cases: [(&str, &[&str], PublicKeyAlgorithm); 3] = [
        (
            "csr-p256",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
            PublicKeyAlgorithm::EcP256,
        ),
        (
            "csr-p384",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
            PublicKeyAlgorithm::EcP384,
        ),
        (
            "csr-rsa",
            &["-newkey", "rsa:2048"],
            PublicKeyAlgorithm::Rsa { bits: 2048 },
        ),
    ];
    for (name, newkey, alg) in cases {
        let csr = openssl_csr(name, newkey);
        let parsed = CertificateRequest::from_der(&csr).unwrap();
        assert_eq!(parsed.public_key_algorithm(), alg);
        assert_eq!(parsed.subject(), "CN=requested");
        let leaf = mint_and_verify(&csr);
        assert_eq!(leaf.public_key_algorithm(), alg);
    }
}

#[test]
fn rcgen_csr_with_dns_names_from_the_caller() {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let csr = rcgen::CertificateParams::new(vec!["ignored.example".into()])
        .unwrap()
        .serialize_request(&key)
        .unwrap();
    let ca = ca();
    let request = X509SvidRequest::from_csr(id(), csr.der(), Duration::from_secs(60))
        .unwrap()
        .with_dns_names(["db.example.org"]);
    let svid = ca.mint(&request, at(NOW)).unwrap();
    let leaf = Certificate::from_der(svid.leaf().clone()).unwrap();
    assert_eq!(leaf.dns_sans().collect::<Vec<_>>(), ["db.example.org"]);
    assert_eq!(
        leaf.subject_public_key_info(),
        rcgen::PublicKeyData::subject_public_key_info(&key)
    );
}

#[test]
fn bad_signature_is_rejected() {
    let mut csr = openssl_csr(
        "csr-bad-sig",
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    let last = csr.len() - 1;
    csr[last] ^= 0x01;
    let err = ca()
        .mint_from_csr(&csr, id(), Duration::from_secs(60), at(NOW))
        .unwrap_err();
    assert!(matches!(err, CaError::CsrSignatureInvalid), "{err:?}");
    assert!(err.to_string().contains("proof of possession"));
}

#[test]
fn malformed_csr_is_rejected() {
    let csr = openssl_csr(
        "csr-malformed",
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    for bad in [&b""[..], &b"\x30\x00"[..], &csr[..csr.len() - 3]] {
        let err = ca()
            .mint_from_csr(bad, id(), Duration::from_secs(60), at(NOW))
            .unwrap_err();
        assert!(matches!(err, CaError::MalformedCsr(_)), "{err:?}");
    }
}

#[test]
fn policy_checks_still_apply() {
    let csr = openssl_csr("csr-policy", &["-newkey", "rsa:2048"]);
    let strict = ca().with_allowed_key_types(&[KeyType::EcP256]);
    assert!(matches!(
        strict
            .mint_from_csr(&csr, id(), Duration::from_secs(60), at(NOW))
            .unwrap_err(),
        CaError::KeyTypeNotAllowed {
            key_type: Some(KeyType::Rsa2048)
        }
    ));
    assert!(matches!(
        ca().mint_from_csr(&csr, id(), Duration::ZERO, at(NOW))
            .unwrap_err(),
        CaError::ZeroTtl
    ));
}
