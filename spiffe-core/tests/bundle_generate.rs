//! Generator of the bundle test data in `tests/data/bundle/` (certificates, JWKs, and the
//! vector documents of SPIFFE-CONFORMANCE §4.2 #66-69 and §4.4 #101-120).
//!
//! Regenerate with `cargo test -p spiffe-core --test bundle_generate -- --ignored`. The keys
//! are fresh on every run; `expectations.json` (hand-written, the verdicts of the spec) does
//! not depend on them.
#![allow(missing_docs, clippy::unwrap_used)]

use std::path::PathBuf;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, ECDSA_P256_SHA256_ASN1_SIGNING,
    ECDSA_P384_SHA384_ASN1_SIGNING,
};
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};
use serde_json::{json, Map, Value};

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/bundle")
}

fn write(name: &str, contents: impl AsRef<[u8]>) {
    std::fs::write(data_dir().join(name), contents).unwrap();
}

fn write_json(name: &str, value: &Value) {
    let mut text = serde_json::to_string_pretty(value).unwrap();
    text.push('\n');
    write(name, text);
}

struct Root {
    der: Vec<u8>,
    /// kty, crv, x, y or kty, n, e.
    key: Map<String, Value>,
}

fn root(name: &str, pkcs8: &[u8], key: Map<String, Value>) -> Root {
    let key_pair = KeyPair::try_from(pkcs8).unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, format!("example.com {name} root"));
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.subject_alt_names = vec![SanType::URI("spiffe://example.com".try_into().unwrap())];
    params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    params.not_after = rcgen::date_time_ymd(2045, 1, 1);
    let cert = params.self_signed(&key_pair).unwrap();
    write(&format!("ca-{name}.pem"), cert.pem());
    Root {
        der: cert.der().to_vec(),
        key,
    }
}

fn ec_root(
    name: &str,
    alg: &'static aws_lc_rs::signature::EcdsaSigningAlgorithm,
    crv: &str,
) -> Root {
    let key = EcdsaKeyPair::generate(alg).unwrap();
    let pkcs8 = key.to_pkcs8v1().unwrap();
    let point = &key.public_key().as_ref()[1..];
    let (x, y) = point.split_at(point.len() / 2);
    let jwk = json!({"kty": "EC", "crv": crv, "x": b64u(x), "y": b64u(y)});
    root(name, pkcs8.as_ref(), jwk.as_object().unwrap().clone())
}

fn rsa_root() -> Root {
    let key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der<'static>>::as_der(&key).unwrap();
    let jwk = rsa_members(&key);
    root("rsa", pkcs8.as_ref(), jwk)
}

fn rsa_members(key: &aws_lc_rs::rsa::KeyPair) -> Map<String, Value> {
    // `public_key()` is the PKCS#1 RSAPublicKey: SEQUENCE { n INTEGER, e INTEGER }.
    let mut seq = der_read(key.public_key().as_ref()).1;
    let mut integers = Vec::new();
    while !seq.is_empty() {
        let (tag, content, rest) = der_read(seq);
        assert_eq!(tag, 0x02);
        let leading = content.iter().take_while(|b| **b == 0).count();
        integers.push(&content[leading..]);
        seq = rest;
    }
    json!({"kty": "RSA", "n": b64u(integers[0]), "e": b64u(integers[1])})
        .as_object()
        .unwrap()
        .clone()
}

/// One DER TLV: (tag, content, rest).
fn der_read(input: &[u8]) -> (u8, &[u8], &[u8]) {
    let (tag, first) = (input[0], input[1]);
    let (len, start) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let count = usize::from(first & 0x7f);
        let len = input[2..2 + count]
            .iter()
            .fold(0, |acc, b| (acc << 8) | usize::from(*b));
        (len, 2 + count)
    };
    (tag, &input[start..start + len], &input[start + len..])
}

fn ec_jwk(
    alg: &'static aws_lc_rs::signature::EcdsaSigningAlgorithm,
    crv: &str,
    kid: &str,
) -> Value {
    let key = EcdsaKeyPair::generate(alg).unwrap();
    let point = &key.public_key().as_ref()[1..];
    let (x, y) = point.split_at(point.len() / 2);
    json!({"kty": "EC", "crv": crv, "x": b64u(x), "y": b64u(y), "kid": kid})
}

fn b64u(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The x509-svid JWK of a root, as SPIRE writes it.
fn x509_entry(root: &Root) -> Map<String, Value> {
    let mut jwk = root.key.clone();
    jwk.insert("use".into(), "x509-svid".into());
    jwk.insert("x5c".into(), json!([STANDARD.encode(&root.der)]));
    jwk
}

fn jwt_entry(jwk: &Value) -> Map<String, Value> {
    let mut jwk = jwk.as_object().unwrap().clone();
    jwk.insert("use".into(), "jwt-svid".into());
    jwk
}

fn with(mut jwk: Map<String, Value>, name: &str, value: Value) -> Value {
    jwk.insert(name.into(), value);
    Value::Object(jwk)
}

fn without(mut jwk: Map<String, Value>, name: &str) -> Value {
    jwk.remove(name);
    Value::Object(jwk)
}

#[test]
#[ignore = "regenerates checked-in test data"]
fn generate_bundle_test_data() {
    std::fs::create_dir_all(data_dir()).unwrap();

    // Root A must have `+` or `/` in its base64, so that its base64url form (#69) differs.
    let a = loop {
        let a = ec_root("p256", &ECDSA_P256_SHA256_ASN1_SIGNING, "P-256");
        let b64 = STANDARD.encode(&a.der);
        if b64.contains('+') || b64.contains('/') {
            break a;
        }
    };
    let b = ec_root("p384", &ECDSA_P384_SHA384_ASN1_SIGNING, "P-384");
    let r = rsa_root();

    let j1 = ec_jwk(&ECDSA_P256_SHA256_ASN1_SIGNING, "P-256", "ec256");
    let j3 = ec_jwk(&ECDSA_P384_SHA384_ASN1_SIGNING, "P-384", "ec384");
    let rsa = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let mut j2 = rsa_members(&rsa);
    j2.insert("kid".into(), "rsa".into());
    let j2 = Value::Object(j2);
    write_json("jwk-ec-p256.json", &j1);
    write_json("jwk-ec-p384.json", &j3);
    write_json("jwk-rsa.json", &j2);
    let ed = Ed25519KeyPair::generate().unwrap();
    let okp = json!({"kty": "OKP", "crv": "Ed25519", "x": b64u(ed.public_key().as_ref()),
        "kid": "okp", "use": "jwt-svid"});

    // A realistic complete bundle (for the cross-check and the parse bench).
    write_json(
        "full.json",
        &json!({"keys": [x509_entry(&a), x509_entry(&b), x509_entry(&r),
            jwt_entry(&j1), jwt_entry(&j2), jwt_entry(&j3)],
            "spiffe_sequence": 12, "spiffe_refresh_hint": 300}),
    );

    let bundle = |keys: Vec<Value>| json!({ "keys": keys });
    let v = |m: Map<String, Value>| Value::Object(m);

    write_json(
        "066-x509-kid.json",
        &bundle(vec![with(x509_entry(&a), "kid", "a".into())]),
    );
    write_json(
        "067-x509-x5c-missing-or-empty.json",
        &bundle(vec![
            without(x509_entry(&a), "x5c"),
            with(x509_entry(&b), "x5c", json!([])),
            v(jwt_entry(&j1)),
        ]),
    );
    write_json(
        "068-x509-x5c-two-certificates.json",
        &bundle(vec![with(
            x509_entry(&a),
            "x5c",
            json!([STANDARD.encode(&a.der), STANDARD.encode(&b.der)]),
        )]),
    );
    write_json(
        "069-x509-x5c-base64url.json",
        &bundle(vec![
            with(x509_entry(&a), "x5c", json!([URL_SAFE.encode(&a.der)])),
            v(x509_entry(&b)),
        ]),
    );
    write_json("101-empty-keys.json", &bundle(vec![]));
    write_json("102-no-keys.json", &json!({"spiffe_sequence": 1}));
    write_json(
        "103-jwk-without-use.json",
        &bundle(vec![without(jwt_entry(&j1), "use"), v(x509_entry(&a))]),
    );
    write_json(
        "104-use-case-differs.json",
        &bundle(vec![
            with(x509_entry(&a), "use", "X509-SVID".into()),
            v(jwt_entry(&j1)),
        ]),
    );
    write_json(
        "105-use-sig-and-wit-svid.json",
        &bundle(vec![
            with(jwt_entry(&j1), "use", "sig".into()),
            with(jwt_entry(&j2), "use", "wit-svid".into()),
            v(x509_entry(&a)),
        ]),
    );
    write_json(
        "106-kty-okp-and-unknown.json",
        &bundle(vec![
            okp.clone(),
            with(jwt_entry(&j3), "kty", "FOO".into()),
            v(jwt_entry(&j1)),
            v(x509_entry(&a)),
        ]),
    );
    write_json(
        "107-jwk-without-kty.json",
        &bundle(vec![
            without(jwt_entry(&j2), "kty"),
            without(x509_entry(&b), "kty"),
            v(jwt_entry(&j1)),
        ]),
    );
    write_json(
        "108-every-jwk-ignored.json",
        &bundle(vec![
            without(jwt_entry(&j1), "use"),
            with(jwt_entry(&j2), "use", "sig".into()),
            okp,
            without(x509_entry(&a), "x5c"),
        ]),
    );
    write_json(
        "109-jwt-without-kid.json",
        &bundle(vec![without(jwt_entry(&j1), "kid"), v(jwt_entry(&j2))]),
    );
    write_json(
        "110-duplicate-kid.json",
        &bundle(vec![
            v(jwt_entry(&j1)),
            with(jwt_entry(&j3), "kid", "ec256".into()),
        ]),
    );
    write_json(
        "111-sequence-u64-max.json",
        &json!({"keys": [x509_entry(&a)], "spiffe_sequence": u64::MAX}),
    );
    write_json(
        "112a-sequence-negative.json",
        &json!({"keys": [], "spiffe_sequence": -1}),
    );
    write_json(
        "112b-sequence-fraction.json",
        &json!({"keys": [], "spiffe_sequence": 1.5}),
    );
    write_json(
        "112c-sequence-string.json",
        &json!({"keys": [], "spiffe_sequence": "3"}),
    );
    write_json(
        "113-no-refresh-hint.json",
        &json!({"keys": [x509_entry(&a)], "spiffe_sequence": 1}),
    );
    write_json(
        "114-refresh-hint-string.json",
        &json!({"keys": [], "spiffe_refresh_hint": "300"}),
    );
    write_json(
        "115-unknown-member.json",
        &json!({"keys": [x509_entry(&a)], "foo": 1, "spiffe_refresh_hint": 60}),
    );

    // #116 cannot go through serde_json's map: write the duplicate key as text.
    let inner = serde_json::to_string(&bundle(vec![v(x509_entry(&a))])).unwrap();
    let other = serde_json::to_string(&bundle(vec![v(x509_entry(&b))])).unwrap();
    write(
        "116-map-duplicate-trust-domain.json",
        format!("{{\"trust_domains\": {{\"example.com\": {inner}, \"example.com\": {other}}}}}\n"),
    );
    write_json(
        "117-map-without-trust-domains.json",
        &json!({"example.com": bundle(vec![])}),
    );
    write_json("118-map-empty.json", &json!({"trust_domains": {}}));
    write_json(
        "119a-map-uppercase-key.json",
        &json!({"trust_domains": {"Example.com": bundle(vec![])}}),
    );
    write_json(
        "119b-map-spiffe-id-key.json",
        &json!({"trust_domains": {"spiffe://example.com": bundle(vec![])}}),
    );
    write_json(
        "120-map-inner-refresh-hints.json",
        &json!({"trust_domains": {
            "example.com": {"keys": [x509_entry(&a), x509_entry(&r)], "spiffe_refresh_hint": 1},
            "example.org": {"keys": [jwt_entry(&j1)], "refresh_hint": 1},
        }}),
    );
}
