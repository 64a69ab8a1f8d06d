//! Test material minted on the fly with rcgen: CA certificates and public keys of every type a
//! bundle can hold.

#![allow(dead_code, clippy::unwrap_used)]

use rcgen::{
    BasicConstraints, CertificateParams, IsCa, KeyPair, PublicKeyData, SignatureAlgorithm,
};

/// A fresh key pair of `alg`.
pub(crate) fn key(alg: &'static SignatureAlgorithm) -> KeyPair {
    KeyPair::generate_for(alg).unwrap()
}

/// The DER SubjectPublicKeyInfo of a fresh key of `alg`.
pub(crate) fn spki(alg: &'static SignatureAlgorithm) -> Vec<u8> {
    key(alg).subject_public_key_info()
}

/// A self-signed CA certificate (DER) with a fresh key of `alg`.
pub(crate) fn ca_der(alg: &'static SignatureAlgorithm, name: &str) -> Vec<u8> {
    let key = key(alg);
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.self_signed(&key).unwrap().der().to_vec()
}
