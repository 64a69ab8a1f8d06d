//! The X.509-SVID fixture of the X.509 benches: a P-256 leaf (one SPIFFE ID URI SAN, keyUsage
//! digitalSignature + keyEncipherment + keyAgreement, extendedKeyUsage serverAuth +
//! clientAuth) signed by a P-256 CA, made with rcgen.

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose as Eku, IsCa, Issuer, KeyPair, KeyUsagePurpose as Ku, SanType,
};

use super::{TRUST_DOMAIN, WORKLOAD_ID};

pub(crate) struct Fixture {
    /// The leaf's DER (the whole chain: the leaf is signed by the bundle's CA directly).
    pub(crate) leaf_der: Vec<u8>,
    /// The leaf's PKCS#8 key.
    pub(crate) key_der: Vec<u8>,
    /// The leaf's public point (uncompressed).
    pub(crate) leaf_point: Vec<u8>,
    /// The CA's DER.
    pub(crate) ca_der: Vec<u8>,
    /// The CA's public point (uncompressed), for the raw check.
    pub(crate) ca_point: Vec<u8>,
}

fn dn(o: &str, cn: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "US");
    dn.push(DnType::OrganizationName, o);
    if let Some(cn) = cn {
        dn.push(DnType::CommonName, cn);
    }
    dn
}

fn leaf_params() -> CertificateParams {
    let mut leaf = CertificateParams::default();
    leaf.distinguished_name = dn("SPIRE", Some("web"));
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![Ku::DigitalSignature, Ku::KeyEncipherment, Ku::KeyAgreement];
    leaf.extended_key_usages = vec![Eku::ServerAuth, Eku::ClientAuth];
    leaf.subject_alt_names = vec![SanType::URI(WORKLOAD_ID.try_into().unwrap())];
    leaf.not_before = date_time_ymd(2025, 1, 1);
    leaf.not_after = date_time_ymd(2045, 1, 1);
    leaf
}

fn ca() -> (CertificateParams, KeyPair) {
    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca = CertificateParams::default();
    ca.distinguished_name = dn("SPIFFE", None);
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![Ku::KeyCertSign, Ku::CrlSign];
    ca.subject_alt_names = vec![SanType::URI(
        format!("spiffe://{TRUST_DOMAIN}").try_into().unwrap(),
    )];
    ca.not_before = date_time_ymd(2025, 1, 1);
    ca.not_after = date_time_ymd(2045, 1, 1);
    (ca, ca_key)
}

pub(crate) fn fixture() -> Fixture {
    let (ca, ca_key) = ca();
    let ca_der = ca.self_signed(&ca_key).unwrap().der().to_vec();
    let leaf_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let issuer = Issuer::from_params(&ca, &ca_key);
    let leaf_der = leaf_params()
        .signed_by(&leaf_key, &issuer)
        .unwrap()
        .der()
        .to_vec();
    Fixture {
        leaf_der,
        key_der: leaf_key.serialize_der(),
        leaf_point: leaf_key.public_key_raw().to_vec(),
        ca_der,
        ca_point: ca_key.public_key_raw().to_vec(),
    }
}

/// `count` leaves like the fixture's, each with its own key: (leaf DER, PKCS#8 key).
pub(crate) fn fresh_svids(f: &Fixture, count: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    let (ca, ca_key) = ca();
    let issuer = Issuer::from_params(&ca, &ca_key);
    let svids: Vec<_> = (0..count)
        .map(|_| {
            let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
            let leaf = leaf_params().signed_by(&key, &issuer).unwrap();
            (leaf.der().to_vec(), key.serialize_der())
        })
        .collect();
    assert_eq!(
        svids[0].1.len(),
        f.key_der.len(),
        "same key encoding as the fixture"
    );
    svids
}
