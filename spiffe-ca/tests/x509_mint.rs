//! Minting X.509-SVIDs from a self-signed authority: the CA and leaf profiles (X509-1..26),
//! verification with spiffe-core, `openssl verify` and the `spiffe` crate, and every bad input.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use spiffe_ca::keys::{KeyType, Signer, SoftwareSigner};
use spiffe_ca::x509::{MintedX509Svid, SubjectName, X509SvidIssuer, X509SvidRequest};
use spiffe_ca::CaError;
use spiffe_core::pki_types::{CertificateDer, UnixTime};
use spiffe_core::{x509, Certificate, SpiffeId, TrustDomain, X509Bundle};

const NOW: u64 = 1_800_000_000;
const DAY: u64 = 86_400;

fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

fn td() -> TrustDomain {
    TrustDomain::new("example.org").unwrap()
}

fn id(path: &str) -> SpiffeId {
    SpiffeId::new(&format!("spiffe://example.org{path}")).unwrap()
}

fn ca(key_type: KeyType) -> X509SvidIssuer {
    let signer = Arc::new(SoftwareSigner::generate("ca", key_type).unwrap());
    X509SvidIssuer::self_signed(&td(), signer, at(NOW - DAY), at(NOW + DAY)).unwrap()
}

fn bundle(ca: &X509SvidIssuer) -> Arc<X509Bundle> {
    Arc::new(X509Bundle::from_authorities(
        td(),
        vec![ca.trust_anchor().clone()],
    ))
}

fn parse(der: &CertificateDer<'static>) -> Certificate {
    Certificate::from_der(der.clone()).unwrap()
}

fn request(key: &SoftwareSigner, path: &str, ttl: u64) -> X509SvidRequest {
    X509SvidRequest::new(id(path), key.public_key(), Duration::from_secs(ttl))
}

fn pem(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `openssl verify -attime NOW` of the minted chain against `anchor`.
fn openssl_verify(name: &str, svid: &MintedX509Svid, anchor: &Certificate) -> (bool, String) {
    let dir = temp_dir(name);
    std::fs::write(dir.join("root.pem"), pem(anchor.der())).unwrap();
    std::fs::write(dir.join("leaf.pem"), pem(svid.leaf())).unwrap();
    let untrusted: String = svid.chain()[1..].iter().map(|c| pem(c)).collect();
    std::fs::write(dir.join("untrusted.pem"), &untrusted).unwrap();
    let mut cmd = Command::new("openssl");
    cmd.arg("verify")
        .arg("-attime")
        .arg(NOW.to_string())
        .arg("-x509_strict")
        .arg("-purpose")
        .arg("sslclient")
        .arg("-CAfile")
        .arg(dir.join("root.pem"));
    if !untrusted.is_empty() {
        cmd.arg("-untrusted").arg(dir.join("untrusted.pem"));
    }
    let out = cmd.arg(dir.join("leaf.pem")).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn ca_profile() {
    for key_type in [KeyType::EcP256, KeyType::EcP384, KeyType::Rsa2048] {
        let ca = ca(key_type);
        let cert = ca.certificate();
        // X509-7/12: cA=TRUE; X509-15/16/26: keyCertSign + cRLSign only, critical.
        assert!(cert.is_ca());
        let ku = cert.key_usage().unwrap();
        assert!(ku.key_cert_sign() && ku.crl_sign());
        assert!(!ku.digital_signature() && !ku.key_encipherment());
        assert!(cert.key_usage_critical());
        // X509-8/9: URI SAN spiffe://td, no path.
        assert_eq!(cert.uri_san_count(), 1);
        assert_eq!(cert.spiffe_id().unwrap().unwrap(), td().id());
        // SKI/AKI; self-signed: AKI = SKI, anchor = itself, chain = [itself].
        let ski = cert.subject_key_id().unwrap();
        assert_eq!(ski.len(), 20);
        assert_eq!(cert.authority_key_id(), Some(ski));
        let hex: String = ski.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(ca.authority_id(), hex);
        assert!(cert.is_self_issued());
        assert_eq!(ca.trust_anchor(), cert);
        assert_eq!(ca.chain(), std::slice::from_ref(cert));
        assert_eq!(cert.not_before(), at(NOW - DAY));
        assert_eq!(ca.not_after(), at(NOW + DAY));
        assert_eq!(ca.signer().public_key().key_type(), key_type);
        assert!(cert.subject().contains("O=SPIFFE"));
    }
}

#[test]
fn leaf_profile_and_verification_for_every_key_type() {
    for ca_type in [KeyType::EcP256, KeyType::EcP384, KeyType::Rsa2048] {
        let ca = ca(ca_type);
        for leaf_type in [KeyType::EcP256, KeyType::EcP384, KeyType::Rsa2048] {
            let key = SoftwareSigner::generate("w", leaf_type).unwrap();
            let svid = ca.mint(&request(&key, "/web", 3600), at(NOW)).unwrap();
            assert_eq!(svid.chain().len(), 1, "no root in the presented chain");
            let leaf = parse(svid.leaf());

            // X509-1/5: exactly one URI SAN, the ID, with a path.
            assert_eq!(leaf.uri_san_count(), 1);
            assert_eq!(leaf.spiffe_id().unwrap().unwrap(), id("/web"));
            assert_eq!(svid.spiffe_id(), &id("/web"));
            // X509-6: empty subject, critical SAN.
            assert!(leaf.subject_der() == [0x30, 0x00] && leaf.san_critical());
            // X509-13: basicConstraints emitted, cA=FALSE.
            assert!(leaf.has_basic_constraints() && !leaf.is_ca());
            // X509-15/17.
            let ku = leaf.key_usage().unwrap();
            assert!(leaf.key_usage_critical() && ku.digital_signature());
            assert!(!ku.key_cert_sign() && !ku.crl_sign());
            assert_eq!(ku.key_encipherment(), leaf_type == KeyType::Rsa2048);
            // X509-18.
            let eku = leaf.extended_key_usage().unwrap();
            assert!(eku.server_auth() && eku.client_auth());
            // SKI/AKI, key, serial, validity (backdated 10 s).
            assert_eq!(leaf.subject_key_id().unwrap().len(), 20);
            assert_eq!(leaf.authority_key_id(), ca.certificate().subject_key_id());
            assert_eq!(leaf.subject_public_key_info(), key.public_key().spki_der());
            assert!(leaf.serial().len() <= 17 && leaf.serial()[0] & 0x80 == 0);
            assert_eq!(leaf.not_before(), at(NOW - 10));
            assert_eq!(leaf.not_after(), at(NOW + 3600));
            assert_eq!(svid.expires_at(), at(NOW + 3600));
            assert_eq!(leaf.issuer_der(), ca.certificate().subject_der());

            let verified = x509::verify(svid.chain(), &bundle(&ca), at(NOW)).unwrap();
            assert_eq!(verified.spiffe_id(), &id("/web"));
            let (ok, out) = openssl_verify(
                &format!("openssl-{ca_type:?}-{leaf_type:?}"),
                &svid,
                ca.trust_anchor(),
            );
            assert!(ok, "openssl verify: {out}");

            // The `spiffe` crate parses it with its key.
            let chain: Vec<u8> = svid.chain().iter().flat_map(|c| c.to_vec()).collect();
            let theirs =
                spiffe::X509Svid::parse_from_der(&chain, &key.to_pkcs8().unwrap()).unwrap();
            assert_eq!(theirs.spiffe_id().to_string(), "spiffe://example.org/web");
        }
    }
}

#[test]
fn openssl_rejects_a_leaf_from_another_ca() {
    let (ca, other) = (ca(KeyType::EcP256), ca(KeyType::EcP256));
    let key = SoftwareSigner::generate("w", KeyType::EcP256).unwrap();
    let svid = ca.mint(&request(&key, "/w", 60), at(NOW)).unwrap();
    let (ok, _) = openssl_verify("openssl-other-ca", &svid, other.trust_anchor());
    assert!(!ok);
    assert!(x509::verify(svid.chain(), &bundle(&other), at(NOW)).is_err());
}

#[test]
fn ttl_is_clamped_to_the_ca() {
    let ca = ca(KeyType::EcP256);
    let key = SoftwareSigner::generate("w", KeyType::EcP256).unwrap();
    let svid = ca.mint(&request(&key, "/w", 10 * DAY), at(NOW)).unwrap();
    assert_eq!(parse(svid.leaf()).not_after(), ca.not_after());
    assert_eq!(svid.expires_at(), ca.not_after());
    // Minted right after the CA was created: notBefore is not before the CA's.
    let svid = ca.mint(&request(&key, "/w", 60), at(NOW - DAY)).unwrap();
    assert_eq!(parse(svid.leaf()).not_before(), at(NOW - DAY));
}

#[test]
fn dns_names_and_subject() {
    let ca = ca(KeyType::EcP256);
    let key = SoftwareSigner::generate("w", KeyType::EcP256).unwrap();
    let req = request(&key, "/web", 60)
        .with_dns_names(["web.example.org", "*.web.example.org"])
        .with_subject(
            SubjectName::new()
                .with_country("DE")
                .with_organization("Acme")
                .with_organizational_unit("Ops")
                .with_common_name("web"),
        );
    let svid = ca.mint(&req, at(NOW)).unwrap();
    let leaf = parse(svid.leaf());
    assert_eq!(
        leaf.dns_sans().collect::<Vec<_>>(),
        ["web.example.org", "*.web.example.org"]
    );
    assert_eq!(leaf.uri_san_count(), 1);
    assert_eq!(leaf.subject(), "CN=web,OU=Ops,O=Acme,C=DE");
    assert!(!leaf.san_critical(), "subject present: SAN not critical");
    x509::verify(svid.chain(), &bundle(&ca), at(NOW)).unwrap();
    let (ok, out) = openssl_verify("openssl-dns", &svid, ca.trust_anchor());
    assert!(ok, "{out}");
}

#[test]
fn serials_are_random_and_distinct() {
    let ca = ca(KeyType::EcP256);
    let key = SoftwareSigner::generate("w", KeyType::EcP256).unwrap();
    let mut serials = std::collections::HashSet::new();
    for _ in 0..64 {
        let svid = ca.mint(&request(&key, "/w", 60), at(NOW)).unwrap();
        assert!(serials.insert(parse(svid.leaf()).serial().to_vec()));
    }
}

#[test]
fn batch_minting_keeps_positions() {
    let ca = ca(KeyType::EcP256);
    let keys: Vec<_> = (0..5)
        .map(|_| SoftwareSigner::generate("w", KeyType::EcP256).unwrap())
        .collect();
    let mut requests: Vec<_> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| request(k, &format!("/w{i}"), 60))
        .collect();
    requests[2] = request(&keys[2], "/w2", 0);
    let results = ca.mint_batch(&requests, at(NOW));
    assert_eq!(results.len(), 5);
    for (i, result) in results.iter().enumerate() {
        if i == 2 {
            assert!(matches!(result, Err(CaError::ZeroTtl)));
        } else {
            let svid = result.as_ref().unwrap();
            let verified = x509::verify(svid.chain(), &bundle(&ca), at(NOW)).unwrap();
            assert_eq!(verified.spiffe_id(), &id(&format!("/w{i}")));
        }
    }
}

#[test]
fn bad_input_is_a_clear_error() {
    let ca = ca(KeyType::EcP256);
    let key = SoftwareSigner::generate("w", KeyType::EcP256).unwrap();
    let mint = |req: &X509SvidRequest, now: u64| ca.mint(req, at(now)).unwrap_err();

    assert!(matches!(
        mint(&request(&key, "/w", 0), NOW),
        CaError::ZeroTtl
    ));
    assert!(matches!(
        mint(&request(&key, "/w", 60), NOW + DAY),
        CaError::AuthorityExpired { .. }
    ));
    assert!(matches!(
        mint(&request(&key, "/w", 60), NOW - DAY - 1),
        CaError::AuthorityNotYetValid { .. }
    ));
    let foreign = X509SvidRequest::new(
        SpiffeId::new("spiffe://other.org/w").unwrap(),
        key.public_key(),
        Duration::from_secs(60),
    );
    match mint(&foreign, NOW) {
        CaError::ForeignTrustDomain {
            trust_domain,
            expected,
        } => {
            assert_eq!(trust_domain.as_str(), "other.org");
            assert_eq!(expected, td());
        }
        other => panic!("unexpected {other:?}"),
    }
    let root = X509SvidRequest::new(td().id(), key.public_key(), Duration::from_secs(60));
    assert!(matches!(mint(&root, NOW), CaError::IdWithoutPath));
    let bad_dns = request(&key, "/w", 60).with_dns_names(["ok.example", "bad name"]);
    assert!(matches!(
        mint(&bad_dns, NOW),
        CaError::InvalidDnsName { index: 1 }
    ));
    let bad_subject =
        request(&key, "/w", 60).with_subject(SubjectName::new().with_common_name("x".repeat(65)));
    assert!(matches!(
        mint(&bad_subject, NOW),
        CaError::InvalidSubject { attribute: "CN" }
    ));
    let garbage =
        X509SvidRequest::from_spki_der(id("/w"), vec![0x30, 0x00], Duration::from_secs(60));
    assert!(matches!(mint(&garbage, NOW), CaError::MalformedPublicKey));
    // An Ed25519 key: not a key type the CA issues for.
    let mut ed = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    ed.extend([7u8; 32]);
    let ed = X509SvidRequest::from_spki_der(id("/w"), ed, Duration::from_secs(60));
    assert!(matches!(
        mint(&ed, NOW),
        CaError::KeyTypeNotAllowed { key_type: None }
    ));
    // A policy that allows P-256 only.
    let strict = ca.clone().with_allowed_key_types(&[KeyType::EcP256]);
    let rsa = SoftwareSigner::generate("r", KeyType::Rsa2048).unwrap();
    assert!(matches!(
        strict.mint(&request(&rsa, "/w", 60), at(NOW)).unwrap_err(),
        CaError::KeyTypeNotAllowed {
            key_type: Some(KeyType::Rsa2048)
        }
    ));
    assert!(strict.mint(&request(&key, "/w", 60), at(NOW)).is_ok());
    // Messages are clear and name the problem.
    assert!(mint(&request(&key, "/w", 0), NOW)
        .to_string()
        .contains("TTL"));
}

#[test]
fn self_signed_rejects_an_empty_validity() {
    let signer = Arc::new(SoftwareSigner::generate("ca", KeyType::EcP256).unwrap());
    assert!(matches!(
        X509SvidIssuer::self_signed(&td(), signer, at(NOW), at(NOW)).unwrap_err(),
        CaError::EmptyValidity
    ));
}

#[test]
fn from_parts_checks_signer_and_certificate() {
    let ca = ca(KeyType::EcP256);
    let cert = ca.certificate().clone();
    // Reloaded with its own key: mints SVIDs that verify against the original anchor.
    let again =
        X509SvidIssuer::from_parts(td(), ca.signer().clone(), vec![cert.clone()], cert.clone())
            .unwrap();
    let key = SoftwareSigner::generate("w", KeyType::EcP256).unwrap();
    let svid = again.mint(&request(&key, "/w", 60), at(NOW)).unwrap();
    x509::verify(svid.chain(), &bundle(&ca), at(NOW)).unwrap();
    // Another key: refused.
    let other: Arc<dyn Signer> = Arc::new(SoftwareSigner::generate("x", KeyType::EcP256).unwrap());
    assert!(matches!(
        X509SvidIssuer::from_parts(td(), other, vec![cert.clone()], cert.clone()).unwrap_err(),
        CaError::SignerMismatch
    ));
    // A leaf is not a CA; a CA of another trust domain is not this one's.
    let leaf = parse(svid.leaf());
    let leaf_signer: Arc<dyn Signer> = Arc::new(key);
    assert!(matches!(
        X509SvidIssuer::from_parts(td(), leaf_signer, vec![leaf.clone()], leaf).unwrap_err(),
        CaError::NotACa
    ));
    assert!(matches!(
        X509SvidIssuer::from_parts(
            TrustDomain::new("other.org").unwrap(),
            ca.signer().clone(),
            vec![cert.clone()],
            cert
        )
        .unwrap_err(),
        CaError::NotACa
    ));
}
