//! Requirements about signing authorities and what makes an SVID valid (SPIFFE-CONFORMANCE
//! §1.1 ID-18..ID-23 and §1.2 X509-26), asserted against what this library's verifier does.
//!
//! Most of these rules bind the party that issues SVIDs (SPIRE, a CA); a consumer library can
//! only show that it accepts what the rules allow and rejects what they forbid. Every
//! certificate is generated here with rcgen, so each test states its whole PKI.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose as Eku,
    IsCa, Issuer, KeyPair, KeyUsagePurpose as Ku, PublicKeyData as _, SanType,
};
use spiffe_core::pki_types::{CertificateDer, UnixTime};
use spiffe_core::x509::{self, X509VerifyError};
use spiffe_core::{BundleSet, Certificate, SpiffeId, TrustDomain, UnverifiedJwtSvid, X509Bundle};

/// 2027-01-15, inside every validity window below.
fn now() -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(1_800_000_000))
}

/// A CA: its parameters and key (to issue with) and the certificate.
struct Ca {
    params: CertificateParams,
    key: KeyPair,
    cert: Certificate,
}

fn key() -> KeyPair {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap()
}

fn ca_params(cn: &str, id: Option<&str>, usages: Vec<Ku>) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = usages;
    p.subject_alt_names = id
        .map(|id| SanType::URI(id.try_into().unwrap()))
        .into_iter()
        .collect();
    p.not_before = date_time_ymd(2025, 1, 1);
    p.not_after = date_time_ymd(2035, 1, 1);
    p
}

fn leaf_params(id: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, "workload");
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![Ku::DigitalSignature];
    p.extended_key_usages = vec![Eku::ServerAuth, Eku::ClientAuth];
    p.subject_alt_names = vec![SanType::URI(id.try_into().unwrap())];
    p.not_before = date_time_ymd(2025, 1, 1);
    p.not_after = date_time_ymd(2035, 1, 1);
    p
}

fn parse(der: &[u8]) -> Certificate {
    Certificate::from_der(CertificateDer::from(der.to_vec())).unwrap()
}

/// A self-signed root with the usual CA key usages.
fn root(cn: &str, id: Option<&str>) -> Ca {
    root_with(ca_params(cn, id, vec![Ku::KeyCertSign, Ku::CrlSign]))
}

fn root_with(params: CertificateParams) -> Ca {
    let key = key();
    let cert = parse(params.self_signed(&key).unwrap().der());
    Ca { params, key, cert }
}

/// `params` signed by `issuer`, with a fresh key.
fn issue(params: &CertificateParams, issuer: &Ca) -> (Certificate, KeyPair) {
    let key = key();
    let issuer = Issuer::from_params(&issuer.params, &issuer.key);
    (parse(params.signed_by(&key, &issuer).unwrap().der()), key)
}

fn intermediate(cn: &str, id: Option<&str>, issuer: &Ca) -> Ca {
    let params = ca_params(cn, id, vec![Ku::KeyCertSign, Ku::CrlSign]);
    let (cert, key) = issue(&params, issuer);
    Ca { params, key, cert }
}

fn bundle(td: &str, authorities: &[&Ca]) -> Arc<X509Bundle> {
    let td = TrustDomain::new(td).unwrap();
    Arc::new(X509Bundle::from_authorities(
        td,
        authorities.iter().map(|ca| ca.cert.clone()).collect(),
    ))
}

/// ID-18: a trust domain's own ID (`spiffe://td`) is a valid SPIFFE ID without a path, and a
/// self-signed CA holding it as its SVID identity anchors leaves of that trust domain.
#[test]
fn id_18_authority_holds_trust_domain_id() {
    let td = TrustDomain::new("td").unwrap();
    let td_id = td.id();
    assert_eq!(td_id, SpiffeId::new("spiffe://td").unwrap());
    assert_eq!(td_id.path(), "");
    assert!(td_id.is_member_of(&td));

    let ca = root("td root", Some("spiffe://td"));
    assert_eq!(ca.cert.spiffe_id().unwrap(), Some(td_id.clone()));
    assert!(ca.cert.is_ca());

    let (leaf, _) = issue(&leaf_params("spiffe://td/w"), &ca);
    let verified = x509::verify_parsed(&[leaf], &bundle("td", &[&ca]), now()).unwrap();
    assert_eq!(verified.spiffe_id().as_str(), "spiffe://td/w");

    // The authority's path-less ID is an authority's, never a workload's (X509-24).
    let (leaf, _) = issue(&leaf_params("spiffe://td"), &ca);
    assert_eq!(
        x509::verify_parsed(&[leaf], &bundle("td", &[&ca]), now()).unwrap_err(),
        X509VerifyError::LeafIdWithoutPath
    );
}

/// ID-19: an authority's SVID is self-signed, or (MAY) signed by a foreign trust domain's
/// authority. The intermediate `spiffe://td` signed by the root of `other` anchors `td`'s
/// leaves when the bundle of `td` holds that root.
#[test]
fn id_19_authority_signed_by_foreign_trust_domain() {
    let foreign = root("other root", Some("spiffe://other"));
    let td_ca = intermediate("td ca", Some("spiffe://td"), &foreign);
    assert_eq!(
        td_ca.cert.spiffe_id().unwrap().unwrap().as_str(),
        "spiffe://td"
    );
    assert!(!td_ca.cert.is_self_issued());

    let (leaf, _) = issue(&leaf_params("spiffe://td/w"), &td_ca);
    let chain = [leaf.clone(), td_ca.cert.clone()];
    let verified = x509::verify_parsed(&chain, &bundle("td", &[&foreign]), now()).unwrap();
    assert_eq!(verified.spiffe_id().as_str(), "spiffe://td/w");

    // Without the intermediate the foreign root alone cannot anchor the leaf.
    assert_eq!(
        x509::verify_parsed(&[leaf], &bundle("td", &[&foreign]), now()).unwrap_err(),
        X509VerifyError::UnknownIssuer { index: 0 }
    );
}

/// Replaces the first occurrence of `from` in `der` by `to` (same length).
fn patch(der: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = der
        .windows(from.len())
        .position(|w| w == from)
        .expect("pattern in DER");
    let mut out = der.to_vec();
    out[at..at + to.len()].copy_from_slice(to);
    out
}

/// ID-20: the SPIFFE ID and the public key are in the signed part (tbsCertificate): changing
/// either after signing breaks the signature, so no one can re-label or re-key an SVID.
#[test]
fn id_20_id_and_key_are_signed() {
    let ca = root("td root", Some("spiffe://td"));
    let (leaf, _) = issue(&leaf_params("spiffe://td/alice"), &ca);
    let bundles = bundle("td", &[&ca]);
    assert!(x509::verify_parsed(std::slice::from_ref(&leaf), &bundles, now()).is_ok());

    let relabelled = parse(&patch(
        leaf.der(),
        b"spiffe://td/alice",
        b"spiffe://td/admin",
    ));
    assert_eq!(
        relabelled.spiffe_id().unwrap().unwrap().as_str(),
        "spiffe://td/admin"
    );
    assert_eq!(
        x509::verify_parsed(&[relabelled], &bundles, now()).unwrap_err(),
        X509VerifyError::BadSignature { index: 0 }
    );

    // Swap the leaf's public key for another P-256 key (same encoding length).
    let spki = leaf.subject_public_key_info();
    let other = key();
    let rekeyed = parse(&patch(leaf.der(), spki, &other.subject_public_key_info()));
    assert_ne!(rekeyed.subject_public_key_info(), spki);
    assert_eq!(
        x509::verify_parsed(&[rekeyed], &bundles, now()).unwrap_err(),
        X509VerifyError::BadSignature { index: 0 }
    );
}

/// ID-21: only document types with a SPIFFE spec are SVIDs. The core library reads X.509
/// certificates and JWS compact tokens; a JWE (5 parts) or a JWS JSON serialization is not a
/// JWT-SVID, and a token is not a certificate (nor a certificate a token).
#[test]
fn id_21_only_specified_document_types() {
    let ca = root("td root", Some("spiffe://td"));
    let (leaf, _) = issue(&leaf_params("spiffe://td/w"), &ca);
    let header = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0"; // {"alg":"ES256","kid":"k1"}
    let jwe = format!("{header}.a.b.c.d");
    assert!(UnverifiedJwtSvid::parse_insecure(&jwe).is_err());
    let json_jws = r#"{"payload":"e30","signatures":[{"protected":"e30","signature":"AA"}]}"#;
    assert!(UnverifiedJwtSvid::parse_insecure(json_jws).is_err());

    assert!(x509::parse_certificates(jwe.as_bytes()).is_err());
    let pem = leaf_pem(&leaf);
    assert!(UnverifiedJwtSvid::parse_insecure(&pem).is_err());
    assert!(x509::parse_certificates(pem.as_bytes()).is_ok());
}

fn leaf_pem(cert: &Certificate) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(cert.der());
    format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n")
}

/// ID-22: an SVID is valid only if an authority of the trust domain named in its own ID
/// signed it. With both bundles loaded, a `td` leaf signed by `td-b`'s authority fails, and
/// the same leaf signed by `td`'s authority passes.
#[test]
fn id_22_signed_by_own_trust_domain() {
    let td = root("td root", Some("spiffe://td"));
    let td_b = root("td-b root", Some("spiffe://td-b"));
    let mut set = BundleSet::new();
    set.insert_x509(bundle("td", &[&td]));
    set.insert_x509(bundle("td-b", &[&td_b]));

    let (forged, _) = issue(&leaf_params("spiffe://td/w"), &td_b);
    assert_eq!(
        x509::verify_parsed(&[forged], &set, now()).unwrap_err(),
        X509VerifyError::UnknownIssuer { index: 0 }
    );
    let (genuine, _) = issue(&leaf_params("spiffe://td/w"), &td);
    assert_eq!(
        x509::verify_parsed(&[genuine], &set, now())
            .unwrap()
            .spiffe_id()
            .as_str(),
        "spiffe://td/w"
    );
    let (b_leaf, _) = issue(&leaf_params("spiffe://td-b/w"), &td_b);
    assert_eq!(
        x509::verify_parsed(&[b_leaf], &set, now())
            .unwrap()
            .spiffe_id()
            .trust_domain()
            .as_str(),
        "td-b"
    );
}

/// ID-23 (advisory): assertions in an SVID are scoped to its issuing trust domain. A `td-b`
/// leaf cannot also claim a `td` identity (a second URI SAN is rejected, X509-2), so
/// whatever else it asserts stays attached to its `td-b` ID.
#[test]
fn id_23_assertions_scoped_to_issuing_trust_domain() {
    let td_b = root("td-b root", Some("spiffe://td-b"));
    let mut params = leaf_params("spiffe://td-b/w");
    params
        .subject_alt_names
        .push(SanType::URI("spiffe://td/admin".try_into().unwrap()));
    let (leaf, _) = issue(&params, &td_b);
    let mut set = BundleSet::new();
    set.insert_x509(bundle("td-b", &[&td_b]));
    assert_eq!(
        x509::verify_parsed(&[leaf], &set, now()).unwrap_err(),
        X509VerifyError::MultipleUriSans { count: 2 }
    );
}

/// X509-26: the field table implies a CA should not set digitalSignature, but §4.3 does not
/// forbid it; this verifier follows §4.3 and accepts a CA with digitalSignature, keyCertSign
/// and cRLSign as a root and as an intermediate.
#[test]
fn x509_26_ca_with_digital_signature_still_issues() {
    let usages = vec![Ku::DigitalSignature, Ku::KeyCertSign, Ku::CrlSign];
    let ca = root_with(ca_params("td root", Some("spiffe://td"), usages.clone()));
    let ku = ca.cert.key_usage().expect("keyUsage present");
    assert!(ku.digital_signature() && ku.key_cert_sign());

    let params = ca_params("td int", Some("spiffe://td"), usages);
    let (int_cert, int_key) = issue(&params, &ca);
    assert!(int_cert.key_usage().unwrap().digital_signature());
    let int = Ca {
        params,
        key: int_key,
        cert: int_cert,
    };
    let (leaf, _) = issue(&leaf_params("spiffe://td/w"), &int);
    let chain = [leaf, int.cert.clone()];
    let verified = x509::verify_parsed(&chain, &bundle("td", &[&ca]), now()).unwrap();
    // leaf, intermediate, then the bundle authority that anchors the path.
    assert_eq!(verified.chain().len(), 3);
    assert_eq!(verified.chain()[2].der(), ca.cert.der());
    assert_eq!(verified.spiffe_id().as_str(), "spiffe://td/w");
}
