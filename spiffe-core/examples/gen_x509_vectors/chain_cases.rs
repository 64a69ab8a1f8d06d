//! X.509 vector cases #57–#65, algorithm coverage and CA rotation: intermediates, keys, authorities.

use std::fs;

use rcgen::{BasicConstraints, CertificateParams, CustomExtension, IsCa, KeyUsagePurpose as Ku};
use serde_json::{json, Value};

use super::pki::{ca_params, key_for, leaf_params, p256, pem_armour, sign, tlv, Ca, Gen};
use super::Roots;

impl Gen {
    pub(crate) fn chain_cases(&mut self, roots: &Roots) -> Result<(), Box<dyn std::error::Error>> {
        let Roots { td, td_b, td_y, .. } = roots;
        let b_td = json!({ "td": "root-td.pem" });

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
            td,
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
            td,
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
            td,
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
            td,
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
            td_y,
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
            td_b,
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
            td_b,
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
            td_b,
            "spiffe://td-b/w",
            json!({ "td-b": "root-td-b.pem" }),
            "UnsupportedNameConstraint",
            None,
            false,
        );

        // 59: pathLenConstraint 0 on the first intermediate, a second one below it.
        let mut p1 = ca_params("td int 1", Some("spiffe://td"));
        p1.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        let int1 = self.intermediate(p1, p256(), td);
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
        let int = self.intermediate(ca_params("td int", Some("spiffe://td")), p256(), td);
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
        let pem = sign(&leaf_params("spiffe://td/w"), &key, td);
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
        let pem = sign(&leaf_params("spiffe://td/w"), &key, td);
        let other = p256();
        let files = self.chain("65", &pem, &other, &[]);
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
        // 65b: another key's scalar carrying the leaf's public point (RFC 5915 `publicKey`):
        // a matcher that trusts the carried point is fooled.
        let files = self.chain("65b", &pem, &key, &[]);
        self.write(
            &files.1,
            &pem_armour("PRIVATE KEY", &forged_pkcs8(&other, &key)?),
        )?;
        self.vector(
            "65b",
            "WAPI-13",
            "key carries the leaf's public point but another scalar",
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

/// A P-256 PKCS#8 key (RFC 5208 / RFC 5915) with the scalar of `secret` and the public point of
/// `public`.
fn forged_pkcs8(
    secret: &rcgen::KeyPair,
    public: &rcgen::KeyPair,
) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &secret.serialize_der())?;
    let scalar =
        aws_lc_rs::encoding::AsBigEndian::<aws_lc_rs::encoding::EcPrivateKeyBin<'_>>::as_be_bytes(
            &pair.private_key(),
        )?;
    let point = public.public_key_raw();
    assert_eq!(point.len(), 65, "uncompressed P-256 point");
    let mut bits = vec![0];
    bits.extend_from_slice(point);
    let mut ec = tlv(0x02, &[1]);
    ec.extend(tlv(0x04, scalar.as_ref()));
    ec.extend(tlv(0xa1, &tlv(0x03, &bits)));
    // id-ecPublicKey, prime256v1.
    let mut alg = tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]);
    alg.extend(tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]));
    let mut info = tlv(0x02, &[0]);
    info.extend(tlv(0x30, &alg));
    info.extend(tlv(0x04, &tlv(0x30, &ec)));
    Ok(tlv(0x30, &info))
}
