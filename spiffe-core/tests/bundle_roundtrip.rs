//! Round trips: `parse(to_json(b)) == b` for SPIFFE bundles and Bundle Maps, keeping unknown
//! top-level members, JWK members and other-use keys (property tests), and PEM <-> bundle.
#![allow(missing_docs, clippy::unwrap_used)]

mod bundle_common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bundle_common::{data, json, jwk, jwt_bundle, roots, td};
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use spiffe_core::bundle::{BundleError, BundleMap, SpiffeBundle};
use spiffe_core::jwt::JwtBundleError;
use spiffe_core::X509Bundle;

const ROOTS: [&str; 3] = ["p256", "p384", "rsa"];
const JWKS: [&str; 3] = ["ec-p256", "ec-p384", "rsa"];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Members no reader interprets: `ext_`-prefixed names.
fn extra_members() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map("ext_[a-z]{1,5}", json_value(), 0..3)
        .prop_map(|m| m.into_iter().collect())
}

fn top_level_members() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map("[a-z_]{1,10}", json_value(), 0..3).prop_map(|m| {
        m.into_iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "keys" | "spiffe_sequence" | "spiffe_refresh_hint"
                )
            })
            .collect()
    })
}

/// A document built from the checked-in roots and JWKs with arbitrary additions.
fn document() -> impl Strategy<Value = Value> {
    (
        prop::sample::subsequence(ROOTS.to_vec(), 0..=3).prop_shuffle(),
        prop::sample::subsequence(JWKS.to_vec(), 0..=3),
        prop::collection::vec(extra_members(), 6),
        prop::collection::vec(extra_members(), 0..3),
        prop::option::of(any::<u64>()),
        prop::option::of(any::<u64>()),
        top_level_members(),
        any::<bool>(),
    )
        .prop_map(
            |(roots_, jwks, jwk_extras, other_keys, sequence, hint, top, with_key_members)| {
                let mut keys = Vec::new();
                for (i, name) in roots_.iter().enumerate() {
                    let der = roots(&td("example.com"), &[name]).authorities()[0]
                        .der()
                        .to_vec();
                    let mut entry = jwk_extras[i].clone();
                    entry.insert("use".into(), "x509-svid".into());
                    entry.insert(
                        "kty".into(),
                        if *name == "rsa" { "RSA" } else { "EC" }.into(),
                    );
                    entry.insert("x5c".into(), json!([STANDARD.encode(der)]));
                    if with_key_members {
                        // SPIRE-style: also the key's own members.
                        entry.insert("ext_note".into(), "from-spire".into());
                    }
                    keys.push(Value::Object(entry));
                }
                for (i, name) in jwks.iter().enumerate() {
                    let mut entry = jwk(name);
                    entry.extend(jwk_extras[3 + i].clone());
                    entry.insert("use".into(), "jwt-svid".into());
                    keys.push(Value::Object(entry));
                }
                for mut other in other_keys {
                    other.insert("use".into(), "wit-svid".into());
                    other.insert("kty".into(), "EC".into());
                    keys.push(Value::Object(other));
                }
                let mut doc = top;
                doc.insert("keys".into(), Value::Array(keys));
                if let Some(sequence) = sequence {
                    doc.insert("spiffe_sequence".into(), sequence.into());
                }
                if let Some(hint) = hint {
                    doc.insert("spiffe_refresh_hint".into(), hint.into());
                }
                Value::Object(doc)
            },
        )
}

/// Every member of `original` appears with the same value in `written`, except those the
/// writer owns (`x5c` normalised to one certificate; `kty`).
fn assert_members_kept(original: &Value, written: &Value) {
    for (name, value) in original.as_object().unwrap() {
        if name == "keys" {
            continue;
        }
        assert_eq!(&written[name], value, "top-level member {name}");
    }
    let written_keys = written["keys"].as_array().unwrap();
    for key in original["keys"].as_array().unwrap() {
        let found = written_keys.iter().any(|w| {
            key.as_object()
                .unwrap()
                .iter()
                .filter(|(n, _)| n.starts_with("ext_") || *n == "kid" || *n == "use")
                .all(|(n, v)| &w[n] == v)
        });
        assert!(found, "JWK members kept: {key}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn spiffe_bundle_round_trip(doc in document()) {
        let t = td("example.com");
        let bundle = SpiffeBundle::parse(t.clone(), doc.to_string().as_bytes()).unwrap();
        let written = bundle.to_json();
        let again = SpiffeBundle::parse(t.clone(), &written).unwrap();
        prop_assert_eq!(&again, &bundle);
        prop_assert_eq!(again.to_json(), written.clone());
        prop_assert_eq!(
            SpiffeBundle::parse(t, &bundle.to_json_compact()).unwrap(),
            bundle
        );
        assert_members_kept(&doc, &json(&written));
    }

    #[test]
    fn spiffe_bundle_from_parts_round_trip(
        roots_ in prop::sample::subsequence(ROOTS.to_vec(), 0..=3).prop_shuffle(),
        jwks in prop::sample::subsequence(JWKS.to_vec(), 0..=3),
        sequence in prop::option::of(any::<u64>()),
        hint in prop::option::of(any::<u64>()),
    ) {
        let t = td("example.org");
        let mut bundle =
            SpiffeBundle::from_parts(roots(&t, &roots_), jwt_bundle(&t, &jwks)).unwrap();
        bundle.set_sequence(sequence);
        bundle.set_refresh_hint(hint.map(std::time::Duration::from_secs));
        prop_assert_eq!(SpiffeBundle::parse(t, &bundle.to_json()).unwrap(), bundle);
    }

    #[test]
    fn bundle_map_round_trip(
        docs in prop::collection::btree_map("[a-z]{1,8}\\.example", document(), 0..4),
        top in top_level_members(),
    ) {
        let mut map_doc = Map::new();
        map_doc.insert(
            "trust_domains".into(),
            Value::Object(docs.clone().into_iter().collect()),
        );
        for (k, v) in top {
            if k != "trust_domains" {
                map_doc.insert(k, v);
            }
        }
        let map = BundleMap::parse(Value::Object(map_doc).to_string().as_bytes()).unwrap();
        prop_assert_eq!(map.len(), docs.len());
        let written = map.to_json();
        let again = BundleMap::parse(&written).unwrap();
        prop_assert_eq!(&again, &map);
        prop_assert_eq!(again.to_json(), written);
        for (name, doc) in &docs {
            let bundle = map.get(name).unwrap();
            let alone = SpiffeBundle::parse(td(name), doc.to_string().as_bytes()).unwrap();
            prop_assert_eq!(bundle, &alone);
        }
    }
}

#[test]
fn written_x509_key_members_match_the_generated_keys() {
    // full.json's x509 entries carry the key members the generator computed from the keys
    // themselves; the ones written from the certificates must be the same.
    let t = td("example.com");
    let original = json(&data("full.json"));
    let bundle = SpiffeBundle::from_parts(roots(&t, &ROOTS), jwt_bundle(&t, &[])).unwrap();
    let written = json(&bundle.to_json());
    for i in 0..3 {
        assert_eq!(written["keys"][i], original["keys"][i], "x509 entry {i}");
    }
}

#[test]
fn pem_round_trip_and_conversion() {
    let t = td("example.com");
    let x509 = roots(&t, &ROOTS);
    assert_eq!(x509.len(), 3);
    let pem = x509.to_pem();
    assert_eq!(pem.matches("-----BEGIN CERTIFICATE-----").count(), 3);
    assert!(pem.lines().all(|l| l.len() <= 64));
    assert_eq!(
        X509Bundle::parse_pem(t.clone(), pem.as_bytes()).unwrap(),
        x509
    );
    // DER. (Concatenated DER is `x509::parse_certificates`' job; one certificate here.)
    let one = roots(&t, &["rsa"]);
    let from_der = X509Bundle::parse_pem(t.clone(), &one.to_der()).unwrap();
    assert_eq!(from_der, one);
    assert_eq!(
        X509Bundle::parse_pem(t.clone(), b" \n"),
        Err(BundleError::NoCertificates)
    );
    // PEM -> SPIFFE bundle -> PEM.
    let bundle = SpiffeBundle::from_parts(x509.clone(), jwt_bundle(&t, &[])).unwrap();
    let back = SpiffeBundle::parse(t.clone(), &bundle.to_json()).unwrap();
    assert_eq!(back.x509_authorities().to_pem(), pem);
}

#[test]
fn pem_with_other_blocks() {
    let t = td("example.com");
    let cert = data("ca-p256.pem");
    let mut with_key = cert.clone();
    with_key.extend_from_slice(
        b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n-----END PRIVATE KEY-----\n",
    );
    assert_eq!(
        X509Bundle::parse_pem(t.clone(), &with_key),
        Err(BundleError::PemPrivateKey)
    );
    let mut with_public = b"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n-----END PUBLIC KEY-----\n".to_vec();
    with_public.extend_from_slice(&cert);
    assert_eq!(
        X509Bundle::parse_pem(t.clone(), &with_public)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        X509Bundle::parse_pem(t.clone(), b"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n-----END PUBLIC KEY-----\n"),
        Err(BundleError::NoCertificates)
    );
    assert_eq!(
        X509Bundle::parse_pem(
            t,
            b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"
        ),
        Err(BundleError::MalformedPem)
    );
}

#[test]
fn from_parts_needs_one_trust_domain() {
    let (a, b) = (td("a.example"), td("b.example"));
    assert_eq!(
        SpiffeBundle::from_parts(roots(&a, &["p256"]), jwt_bundle(&b, &[])),
        Err(BundleError::TrustDomainMismatch {
            expected: a.clone(),
            found: b.clone()
        })
    );
    let mut bundle = SpiffeBundle::new(a);
    assert!(bundle
        .set_jwt_authorities(jwt_bundle(&b, &["rsa"]))
        .is_err());
    assert!(bundle.jwt_authorities().is_empty());
}

#[test]
fn plain_jwks_and_any_format() {
    use spiffe_core::bundle::BundleFormat;
    use spiffe_core::JwtBundle;
    let t = td("example.com");
    // A Workload API style JWKS: no `use`, no `spiffe_*` (trap 6).
    // A key without `kid` can never be selected: the set is refused, as go-spiffe does.
    let no_kid = json!({"keys": [jwk("ec-p256"), {"kty": "EC", "crv": "P-256"}]}).to_string();
    assert!(JwtBundle::parse_jwks(t.clone(), no_kid.as_bytes()).is_err());
    let jwks = json!({"keys": [jwk("ec-p256"), jwk("rsa"), {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "AA"}]});
    let text = jwks.to_string();
    let jwt = JwtBundle::parse_jwks(t.clone(), text.as_bytes()).unwrap();
    assert_eq!(jwt.len(), 2);
    let (bundle, format) = SpiffeBundle::parse_any(t.clone(), text.as_bytes()).unwrap();
    assert_eq!(format, BundleFormat::Jwks);
    assert_eq!(bundle.jwt_authorities().len(), 2);
    // The same keys read as a SPIFFE bundle would all be ignored (BUNDLE-13).
    assert!(SpiffeBundle::parse(t.clone(), text.as_bytes())
        .unwrap()
        .jwt_authorities()
        .is_empty());
    // A SPIFFE bundle's x509-svid entries never become JWT keys, even with a `kid`.
    let mut full = json(&data("full.json"));
    full["keys"][0]["kid"] = json!("x");
    let jwt = JwtBundle::parse_jwks(t.clone(), full.to_string().as_bytes()).unwrap();
    assert_eq!(jwt.len(), 3);
    let dup = json!({"keys": [jwk("rsa"), jwk("rsa")]}).to_string();
    assert!(matches!(
        JwtBundle::parse_jwks(t.clone(), dup.as_bytes()),
        Err(JwtBundleError::DuplicateKid { index: 1 })
    ));

    let (bundle, format) = SpiffeBundle::parse_any(t.clone(), &data("full.json")).unwrap();
    assert_eq!(format, BundleFormat::SpiffeBundle);
    assert_eq!(
        (
            bundle.x509_authorities().len(),
            bundle.jwt_authorities().len()
        ),
        (3, 3)
    );
    let (bundle, format) = SpiffeBundle::parse_any(t.clone(), &data("ca-rsa.pem")).unwrap();
    assert_eq!(format, BundleFormat::Pem);
    assert_eq!(bundle.x509_authorities().len(), 1);
    let der = roots(&t, &["p256"]).to_der();
    let (bundle, format) = SpiffeBundle::parse_any(t, &der).unwrap();
    assert_eq!(format, BundleFormat::Der);
    assert_eq!(bundle.x509_authorities().len(), 1);
}
