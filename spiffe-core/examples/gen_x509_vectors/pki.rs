//! Certificate building and file writing for the X.509 vector generator.

use std::fs;
use std::path::PathBuf;

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose as Eku, IsCa, Issuer, KeyPair, KeyUsagePurpose as Ku, SanType,
    SignatureAlgorithm,
};
use serde_json::{json, Value};

use super::VERIFY_TIME;

pub(crate) struct Ca {
    pub(crate) params: CertificateParams,
    pub(crate) key: KeyPair,
    pub(crate) pem: String,
}

pub(crate) struct Gen {
    pub(crate) dir: PathBuf,
    pub(crate) vectors: Vec<Value>,
}

pub(crate) fn p256() -> KeyPair {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("P-256 key generation")
}

pub(crate) fn key_for(alg: &'static SignatureAlgorithm) -> KeyPair {
    KeyPair::generate_for(alg).expect("key generation")
}

pub(crate) fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "SPIFFE test");
    dn.push(DnType::CommonName, cn);
    dn
}

pub(crate) fn uri(s: &str) -> SanType {
    SanType::URI(s.try_into().expect("IA5 URI"))
}

/// DER TLV with a definite, minimal length.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend([0x81, len as u8]);
    } else {
        out.extend([0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(content);
    out
}

/// CA parameters: cA=TRUE, keyCertSign + cRLSign, URI SAN `id`.
pub(crate) fn ca_params(cn: &str, id: Option<&str>) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![Ku::KeyCertSign, Ku::CrlSign];
    p.subject_alt_names = id.into_iter().map(uri).collect();
    p.not_before = date_time_ymd(2025, 1, 1);
    p.not_after = date_time_ymd(2035, 1, 1);
    p
}

/// A conformant leaf: one URI SAN, cA=FALSE, KU digitalSignature (critical), EKU both.
pub(crate) fn leaf_params(id: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn("workload");
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![Ku::DigitalSignature];
    p.extended_key_usages = vec![Eku::ServerAuth, Eku::ClientAuth];
    p.subject_alt_names = vec![uri(id)];
    p.not_before = date_time_ymd(2025, 1, 1);
    p.not_after = date_time_ymd(2035, 1, 1);
    p
}

impl Gen {
    pub(crate) fn write(&self, name: &str, contents: &str) -> Result<(), std::io::Error> {
        fs::write(self.dir.join(name), contents)
    }

    pub(crate) fn root(&self, file: &str, params: CertificateParams, key: KeyPair) -> Ca {
        let pem = params.self_signed(&key).expect("self-signed").pem();
        self.write(file, &pem).expect("write root");
        Ca { params, key, pem }
    }

    pub(crate) fn intermediate(&self, params: CertificateParams, key: KeyPair, issuer: &Ca) -> Ca {
        let pem = sign(&params, &key, issuer);
        Ca { params, key, pem }
    }

    /// Writes `NN-chain.pem` (leaf then intermediates) and `NN-key.pem`; returns the names.
    pub(crate) fn chain(
        &self,
        id: &str,
        leaf_pem: &str,
        key: &KeyPair,
        ints: &[&Ca],
    ) -> (String, String) {
        let mut pem = leaf_pem.to_owned();
        for int in ints {
            pem.push_str(&int.pem);
        }
        let chain = format!("{id}-chain.pem");
        let key_file = format!("{id}-key.pem");
        self.write(&chain, &pem).expect("write chain");
        self.write(&key_file, &key.serialize_pem())
            .expect("write key");
        (chain, key_file)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn vector(
        &mut self,
        id: &str,
        req: &str,
        case: &str,
        files: (String, String),
        bundles: Value,
        verify: Option<&str>,
        svid: Option<&str>,
        openssl: bool,
    ) {
        self.vectors.push(json!({
            "id": id, "req": req, "case": case,
            "chain": files.0, "key": files.1, "bundles": bundles,
            "time": VERIFY_TIME,
            "verify": verify.unwrap_or("skip"), "svid": svid.unwrap_or("skip"),
            "openssl": openssl,
        }));
    }
}

pub(crate) fn sign(params: &CertificateParams, key: &KeyPair, issuer: &Ca) -> String {
    let issuer = Issuer::from_params(&issuer.params, &issuer.key);
    params.signed_by(key, &issuer).expect("sign").pem()
}

pub(crate) fn pem_armour(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
