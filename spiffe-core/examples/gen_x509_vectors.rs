//! Generates the X.509-SVID test vectors of SPIFFE-CONFORMANCE §4.2 (#36–#65) into
//! `spiffe-core/tests/data/x509/`: PEM chains, keys, roots, and `vectors.json`, the table
//! `tests/x509_vectors.rs` runs. Validity windows and the verification time are fixed, so
//! verdicts never depend on today's date.
//!
//! Run: `cargo run -p spiffe-core --example gen_x509_vectors` (keys are random, so every run
//! changes the files; commit the result).

use std::fs;
use std::path::PathBuf;

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose as Eku, IsCa, Issuer, KeyPair, KeyUsagePurpose as Ku, SanType,
    SignatureAlgorithm,
};
use serde_json::{json, Value};

/// 2027-01-15T08:00:00Z: inside the normal validity window (2025..2035).
const VERIFY_TIME: u64 = 1_800_000_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/x509");
    fs::create_dir_all(&dir)?;
    let mut g = Gen {
        dir,
        vectors: Vec::new(),
    };
    g.run()?;
    let table = json!({ "verify_time": VERIFY_TIME, "vectors": g.vectors });
    fs::write(
        g.dir.join("vectors.json"),
        serde_json::to_string_pretty(&table)? + "\n",
    )?;
    Ok(())
}

struct Ca {
    params: CertificateParams,
    key: KeyPair,
    pem: String,
}

struct Gen {
    dir: PathBuf,
    vectors: Vec<Value>,
}

fn p256() -> KeyPair {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("P-256 key generation")
}

fn key_for(alg: &'static SignatureAlgorithm) -> KeyPair {
    KeyPair::generate_for(alg).expect("key generation")
}

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "SPIFFE test");
    dn.push(DnType::CommonName, cn);
    dn
}

fn uri(s: &str) -> SanType {
    SanType::URI(s.try_into().expect("IA5 URI"))
}

/// DER TLV with a definite, minimal length.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
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
fn ca_params(cn: &str, id: Option<&str>) -> CertificateParams {
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
fn leaf_params(id: &str) -> CertificateParams {
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
    fn write(&self, name: &str, contents: &str) -> Result<(), std::io::Error> {
        fs::write(self.dir.join(name), contents)
    }

    fn root(&self, file: &str, params: CertificateParams, key: KeyPair) -> Ca {
        let pem = params.self_signed(&key).expect("self-signed").pem();
        self.write(file, &pem).expect("write root");
        Ca { params, key, pem }
    }

    fn intermediate(&self, params: CertificateParams, key: KeyPair, issuer: &Ca) -> Ca {
        let pem = sign(&params, &key, issuer);
        Ca { params, key, pem }
    }

    /// Writes `NN-chain.pem` (leaf then intermediates) and `NN-key.pem`; returns the names.
    fn chain(&self, id: &str, leaf_pem: &str, key: &KeyPair, ints: &[&Ca]) -> (String, String) {
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
    fn vector(
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

    fn run(&mut self) -> Result<(), Box<dyn std::error::Error>> {
        let td = self.root(
            "root-td.pem",
            ca_params("td root", Some("spiffe://td")),
            p256(),
        );
        let td_a = self.root(
            "root-td-a.pem",
            ca_params("td-a root", Some("spiffe://td-a")),
            p256(),
        );
        let td_b = self.root(
            "root-td-b.pem",
            ca_params("td-b root", Some("spiffe://td-b")),
            p256(),
        );
        let td_y = self.root(
            "root-td-y.pem",
            ca_params("td-y root", Some("spiffe://td-y")),
            p256(),
        );
        let b_td = json!({ "td": "root-td.pem" });

        // Plain leaves directly under the td root.
        let leaf = |g: &mut Gen,
                    id: &str,
                    req: &str,
                    case: &str,
                    p: CertificateParams,
                    verify: Option<&str>,
                    svid: Option<&str>,
                    openssl: bool| {
            let key = p256();
            let pem = sign(&p, &key, &td);
            let files = g.chain(id, &pem, &key, &[]);
            g.vector(id, req, case, files, b_td.clone(), verify, svid, openssl);
        };

        leaf(
            self,
            "36",
            "X509-1..25",
            "conformant leaf",
            leaf_params("spiffe://td/w"),
            Some("accept"),
            Some("accept"),
            true,
        );
        let mut p = leaf_params("spiffe://td/a");
        p.subject_alt_names.push(uri("spiffe://td/b"));
        leaf(
            self,
            "37",
            "X509-2/25",
            "two spiffe URI SANs",
            p,
            Some("MultipleUriSans"),
            Some("MultipleUriSans"),
            false,
        );
        let mut p = leaf_params("spiffe://td/a");
        p.subject_alt_names.push(uri("https://x"));
        leaf(
            self,
            "38",
            "X509-2",
            "spiffe and https URI SANs",
            p,
            Some("MultipleUriSans"),
            Some("MultipleUriSans"),
            false,
        );
        let mut p = leaf_params("spiffe://td/w");
        p.subject_alt_names = vec![SanType::DnsName("w.td".try_into()?)];
        leaf(
            self,
            "39",
            "X509-1",
            "no URI SAN",
            p,
            Some("MissingUriSan"),
            Some("MissingUriSan"),
            false,
        );
        leaf(
            self,
            "40",
            "X509-23",
            "https URI SAN",
            leaf_params("https://td/w"),
            Some("InvalidSpiffeId"),
            Some("InvalidSpiffeId"),
            false,
        );
        leaf(
            self,
            "41",
            "X509-5/24",
            "ID without path",
            leaf_params("spiffe://td"),
            Some("LeafIdWithoutPath"),
            Some("LeafIdWithoutPath"),
            false,
        );
        leaf(
            self,
            "42a",
            "X509-23/ID-11",
            "trailing slash",
            leaf_params("spiffe://td/w/"),
            Some("InvalidSpiffeId"),
            Some("InvalidSpiffeId"),
            false,
        );
        leaf(
            self,
            "42b",
            "X509-23/ID-5",
            "uppercase trust domain",
            leaf_params("spiffe://TD/w"),
            Some("InvalidSpiffeId"),
            Some("InvalidSpiffeId"),
            false,
        );
        let mut p = leaf_params("spiffe://td/w");
        p.subject_alt_names.extend([
            SanType::DnsName("w.td".try_into()?),
            SanType::DnsName("*.w.td".try_into()?),
            SanType::IpAddress([10, 0, 0, 1].into()),
            SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()),
        ]);
        leaf(
            self,
            "43",
            "X509-3",
            "URI plus DNS and IP SANs",
            p,
            Some("accept"),
            Some("accept"),
            true,
        );
        let mut p = leaf_params("spiffe://td/w");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        leaf(
            self,
            "44",
            "X509-13/21",
            "leaf with cA=TRUE",
            p,
            Some("LeafIsCa"),
            Some("LeafIsCa"),
            false,
        );
        let mut p = leaf_params("spiffe://td/w");
        p.is_ca = IsCa::NoCa;
        leaf(
            self,
            "45",
            "X509-13",
            "no basicConstraints",
            p,
            Some("accept"),
            Some("accept"),
            true,
        );
        let mut p = leaf_params("spiffe://td/w");
        p.key_usages.push(Ku::KeyCertSign);
        leaf(
            self,
            "46",
            "X509-17/22",
            "leaf with keyCertSign",
            p,
            Some("LeafCanSign"),
            Some("LeafHasCertSign"),
            false,
        );
        let mut p = leaf_params("spiffe://td/w");
        p.key_usages.push(Ku::CrlSign);
        leaf(
            self,
            "47",
            "X509-17/22",
            "leaf with cRLSign",
            p,
            Some("LeafCanSign"),
            Some("LeafHasCertSign"),
            false,
        );
        let mut p = leaf_params("spiffe://td/w");
        p.key_usages = vec![Ku::KeyEncipherment];
        leaf(
            self,
            "48",
            "X509-17",
            "no digitalSignature",
            p,
            Some("accept"),
            Some("LeafMissingDigitalSignature"),
            true,
        );
        let mut p = leaf_params("spiffe://td/w");
        p.key_usages = vec![];
        leaf(
            self,
            "49a",
            "X509-15",
            "no keyUsage",
            p,
            Some("accept"),
            Some("LeafKeyUsageNotCritical"),
            true,
        );
        let mut p = leaf_params("spiffe://td/w");
        p.key_usages = vec![];
        p.custom_extensions.push(CustomExtension::from_oid_content(
            &[2, 5, 29, 15],
            vec![0x03, 0x02, 0x07, 0x80],
        ));
        leaf(
            self,
            "49b",
            "X509-15",
            "keyUsage not critical",
            p,
            Some("accept"),
            Some("LeafKeyUsageNotCritical"),
            true,
        );
        let mut p = leaf_params("spiffe://td/w");
        p.extended_key_usages = vec![Eku::ServerAuth];
        leaf(
            self,
            "50",
            "X509-18",
            "EKU serverAuth only",
            p,
            Some("accept"),
            Some("LeafExtendedKeyUsage"),
            true,
        );
        let mut p = leaf_params("spiffe://td/w");
        p.extended_key_usages = vec![];
        leaf(
            self,
            "51",
            "X509-18",
            "no EKU",
            p,
            Some("accept"),
            Some("accept"),
            true,
        );
        let mut p = leaf_params("spiffe://td/w");
        p.distinguished_name = DistinguishedName::new();
        p.subject_alt_names = vec![];
        let san = tlv(0x30, &tlv(0x86, b"spiffe://td/w"));
        p.custom_extensions
            .push(CustomExtension::from_oid_content(&[2, 5, 29, 17], san));
        leaf(
            self,
            "52",
            "X509-6",
            "empty subject, non-critical SAN",
            p,
            Some("Malformed"),
            Some("EmptySubjectNonCriticalSan"),
            false,
        );
        let mut p = ca_params("td ca", Some("spiffe://td/ca"));
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        leaf(
            self,
            "53",
            "X509-11/21",
            "CA presented as peer",
            p,
            Some("LeafIsCa"),
            Some("LeafIsCa"),
            false,
        );

        // 54/55: trust-domain selection.
        let key = p256();
        let pem = sign(&leaf_params("spiffe://td-a/w"), &key, &td_b);
        let files = self.chain("54", &pem, &key, &[]);
        self.vector(
            "54",
            "WAPI-11/X509-20",
            "td-a leaf chaining to td-b root",
            files,
            json!({ "td-a": "root-td-a.pem", "td-b": "root-td-b.pem" }),
            Some("UnknownIssuer"),
            None,
            false,
        );
        let key = p256();
        let pem = sign(&leaf_params("spiffe://td-a/w"), &key, &td_a);
        let files = self.chain("55", &pem, &key, &[]);
        self.vector(
            "55",
            "WAPI-11",
            "no bundle for td-a",
            files,
            b_td.clone(),
            Some("NoBundle"),
            None,
            false,
        );

        // 56: validity.
        let mut p = leaf_params("spiffe://td/w");
        p.not_before = date_time_ymd(2020, 1, 1);
        p.not_after = date_time_ymd(2021, 1, 1);
        leaf(
            self,
            "56a",
            "X509-20",
            "leaf expired",
            p,
            Some("Expired"),
            None,
            true,
        );
        let mut p = leaf_params("spiffe://td/w");
        p.not_before = date_time_ymd(2030, 1, 1);
        p.not_after = date_time_ymd(2031, 1, 1);
        leaf(
            self,
            "56b",
            "X509-20",
            "leaf not yet valid",
            p,
            Some("Expired"),
            None,
            true,
        );

        // 57..62: intermediates.
        let with_int = |g: &mut Gen,
                        id: &str,
                        req: &str,
                        case: &str,
                        int_params: CertificateParams,
                        root: &Ca,
                        leaf_id: &str,
                        bundles: Value,
                        verify: &str,
                        svid: Option<&str>,
                        openssl: bool| {
            let int = g.intermediate(int_params, p256(), root);
            let key = p256();
            let pem = sign(&leaf_params(leaf_id), &key, &int);
            let files = g.chain(id, &pem, &key, &[&int]);
            g.vector(id, req, case, files, bundles, Some(verify), svid, openssl);
        };
        with_int(
            self,
            "36i",
            "X509-20",
            "conformant leaf via intermediate",
            ca_params("td int", Some("spiffe://td")),
            &td,
            "spiffe://td/w",
            b_td.clone(),
            "accept",
            Some("accept"),
            true,
        );
        let mut p = ca_params("td int", Some("spiffe://td"));
        p.is_ca = IsCa::ExplicitNoCa;
        with_int(
            self,
            "57",
            "X509-12/20",
            "intermediate cA=FALSE",
            p,
            &td,
            "spiffe://td/w",
            b_td.clone(),
            "IssuerNotCa",
            Some("IntermediateNotCa"),
            true,
        );
        let mut p = ca_params("td int", Some("spiffe://td"));
        p.key_usages = vec![Ku::DigitalSignature];
        with_int(
            self,
            "58",
            "X509-16/20",
            "intermediate without keyCertSign",
            p,
            &td,
            "spiffe://td/w",
            b_td.clone(),
            "IssuerMissingKeyCertSign",
            Some("IntermediateNotCa"),
            true,
        );
        with_int(
            self,
            "60",
            "X509-9",
            "intermediate ID with a path",
            ca_params("td int", Some("spiffe://td/ca")),
            &td,
            "spiffe://td/w",
            b_td.clone(),
            "accept",
            Some("accept"),
            true,
        );
        with_int(
            self,
            "61",
            "X509-9/10",
            "td-x intermediate issuing td-y leaf",
            ca_params("td-x int", Some("spiffe://td-x")),
            &td_y,
            "spiffe://td-y/w",
            json!({ "td-y": "root-td-y.pem" }),
            "accept",
            Some("accept"),
            true,
        );
        let nc = |base: &[u8]| {
            let subtree = tlv(0x30, &tlv(0x86, base));
            let mut ext =
                CustomExtension::from_oid_content(&[2, 5, 29, 30], tlv(0x30, &tlv(0xa0, &subtree)));
            ext.set_criticality(true);
            ext
        };
        let mut p = ca_params("td-b int", Some("spiffe://td-b"));
        p.custom_extensions.push(nc(b"td-a"));
        with_int(
            self,
            "62a",
            "X509-14",
            "URI constraint td-a, leaf td-b",
            p,
            &td_b,
            "spiffe://td-b/w",
            json!({ "td-b": "root-td-b.pem" }),
            "NameConstraintViolation",
            None,
            false,
        );
        let mut p = ca_params("td-b int", Some("spiffe://td-b"));
        p.custom_extensions.push(nc(b"td-b"));
        with_int(
            self,
            "62b",
            "X509-14",
            "URI constraint td-b, leaf td-b",
            p,
            &td_b,
            "spiffe://td-b/w",
            json!({ "td-b": "root-td-b.pem" }),
            "accept",
            None,
            false,
        );
        let mut p = ca_params("td-b int", Some("spiffe://td-b"));
        p.custom_extensions.push(nc(b"spiffe://td-a"));
        with_int(
            self,
            "62c",
            "X509-14",
            "URI constraint in URI form (unsupported)",
            p,
            &td_b,
            "spiffe://td-b/w",
            json!({ "td-b": "root-td-b.pem" }),
            "UnsupportedNameConstraint",
            None,
            false,
        );

        // 59: pathLenConstraint 0 on the first intermediate, a second one below it.
        let mut p1 = ca_params("td int 1", Some("spiffe://td"));
        p1.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        let int1 = self.intermediate(p1, p256(), &td);
        let int2 = self.intermediate(ca_params("td int 2", Some("spiffe://td")), p256(), &int1);
        let key = p256();
        let pem = sign(&leaf_params("spiffe://td/w"), &key, &int2);
        let files = self.chain("59", &pem, &key, &[&int2, &int1]);
        self.vector(
            "59",
            "X509-12/20",
            "pathLenConstraint exceeded",
            files,
            b_td.clone(),
            Some("PathLenExceeded"),
            Some("accept"),
            true,
        );

        // 63: leaf not first.
        let int = self.intermediate(ca_params("td int", Some("spiffe://td")), p256(), &td);
        let key = p256();
        let leaf_pem = sign(&leaf_params("spiffe://td/w"), &key, &int);
        let files = self.chain(
            "63",
            &int.pem,
            &key,
            &[&Ca {
                params: leaf_params("x"),
                key: p256(),
                pem: leaf_pem,
            }],
        );
        self.vector(
            "63",
            "WAPI-14",
            "leaf not first",
            files,
            b_td.clone(),
            None,
            Some("LeafIdWithoutPath"),
            false,
        );

        // 64/65: keys (the DER forms are tested through X509Svid::parse_der).
        let key = p256();
        let pem = sign(&leaf_params("spiffe://td/w"), &key, &td);
        let files = self.chain("64", &pem, &key, &[]);
        self.vector(
            "64",
            "WAPI-14",
            "key not PKCS#8 DER (see test)",
            files,
            b_td.clone(),
            Some("accept"),
            Some("accept"),
            false,
        );
        let sec1 = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &key.serialize_der(),
        )?;
        let sec1_der = aws_lc_rs::encoding::AsDer::<
            aws_lc_rs::encoding::EcPrivateKeyRfc5915Der<'static>,
        >::as_der(&sec1.private_key())?;
        fs::write(self.dir.join("64-key.sec1.der"), sec1_der.as_ref())?;
        self.write(
            "64-key.sec1.pem",
            &pem_armour("EC PRIVATE KEY", sec1_der.as_ref()),
        )?;
        fs::write(self.dir.join("64-key.pkcs8.der"), key.serialize_der())?;
        let key = p256();
        let pem = sign(&leaf_params("spiffe://td/w"), &key, &td);
        let files = self.chain("65", &pem, &p256(), &[]);
        self.vector(
            "65",
            "WAPI-13",
            "key does not match leaf",
            files,
            b_td.clone(),
            Some("accept"),
            Some("KeyMismatch"),
            false,
        );

        // Algorithm coverage and CA rotation.
        for (id, alg) in [
            ("alg-p384", &rcgen::PKCS_ECDSA_P384_SHA384),
            ("alg-p521", &rcgen::PKCS_ECDSA_P521_SHA512),
            ("alg-ed25519", &rcgen::PKCS_ED25519),
            ("alg-rsa", &rcgen::PKCS_RSA_SHA256),
        ] {
            let root = self.root(
                &format!("root-{id}.pem"),
                ca_params(&format!("{id} root"), Some("spiffe://td")),
                key_for(alg),
            );
            let key = key_for(alg);
            let pem = sign(&leaf_params("spiffe://td/w"), &key, &root);
            let files = self.chain(id, &pem, &key, &[]);
            self.vector(
                id,
                "X509-20",
                "signature algorithm coverage",
                files,
                json!({ "td": format!("root-{id}.pem") }),
                Some("accept"),
                Some("accept"),
                true,
            );
        }
        // Two authorities with the same subject (rotation): the old one is tried first.
        let old = self.root(
            "root-rotation-old.pem",
            ca_params("td rotating root", Some("spiffe://td")),
            p256(),
        );
        let new = self.root(
            "root-rotation-new.pem",
            ca_params("td rotating root", Some("spiffe://td")),
            p256(),
        );
        drop(old);
        let key = p256();
        let pem = sign(&leaf_params("spiffe://td/w"), &key, &new);
        let files = self.chain("rotation", &pem, &key, &[]);
        self.vector(
            "rotation",
            "X509-20",
            "same-subject authorities during rotation",
            files,
            json!({ "td": ["root-rotation-old.pem", "root-rotation-new.pem"] }),
            Some("accept"),
            Some("accept"),
            false,
        );
        let _ = (&td.params, &td.key);
        Ok(())
    }
}

fn sign(params: &CertificateParams, key: &KeyPair, issuer: &Ca) -> String {
    let issuer = Issuer::from_params(&issuer.params, &issuer.key);
    params.signed_by(key, &issuer).expect("sign").pem()
}

fn pem_armour(label: &str, der: &[u8]) -> String {
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
