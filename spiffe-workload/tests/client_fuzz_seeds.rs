//! The seeds of the `wapi_response` fuzz target (`fuzz/seeds/wapi_response/`): each is a type
//! byte and an encoded response, made from the test fixtures. This test checks that every
//! seed still decodes and parses as its name says; regenerate them with
//! `SPIFFE_REGENERATE_SEEDS=1 cargo test -p spiffe-workload --test client_fuzz_seeds`.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{id, Ca};
use prost::Message;
use spiffe_core::pki_types::{PrivateKeyDer, UnixTime};
use spiffe_workload::proto;
use spiffe_workload::response;

fn seed_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/wapi_response")
}

/// The seeds: (name, type byte, encoded message). Names ending in `-bad` must be refused.
fn seeds() -> Vec<(&'static str, u8, Vec<u8>)> {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let svid = ca.svid("spiffe://example.org/workload");
    let PrivateKeyDer::Pkcs8(key) = svid.private_key() else {
        panic!("fixture keys are PKCS#8")
    };
    let wire_svid = proto::X509svid {
        spiffe_id: "spiffe://example.org/workload".into(),
        x509_svid: svid.chain().iter().flat_map(|c| c.der().to_vec()).collect(),
        x509_svid_key: key.secret_pkcs8_der().to_vec(),
        bundle: ca.x509.trust_anchor().der().to_vec(),
        hint: "main".into(),
    };
    let federated = other.x509.trust_anchor().der().to_vec();
    let x509 = proto::X509svidResponse {
        svids: vec![wire_svid.clone()],
        crl: Vec::new(),
        federated_bundles: [("spiffe://other.org".to_owned(), federated.clone())].into(),
    };
    let mut no_key = wire_svid;
    no_key.x509_svid_key.clear();
    let x509_bad = proto::X509svidResponse {
        svids: vec![no_key],
        ..Default::default()
    };
    let bundles = proto::X509BundlesResponse {
        crl: Vec::new(),
        bundles: [
            (
                "spiffe://example.org".to_owned(),
                ca.x509.trust_anchor().der().to_vec(),
            ),
            ("other.org".to_owned(), federated),
        ]
        .into(),
    };
    let token = ca
        .jwt
        .mint(
            &id("spiffe://example.org/workload"),
            &["aud"],
            Duration::from_secs(300),
            &spiffe_core::json::JsonObject::new(),
            UnixTime::now(),
        )
        .unwrap();
    let jwt = proto::JwtsvidResponse {
        svids: vec![proto::Jwtsvid {
            spiffe_id: "spiffe://example.org/workload".into(),
            svid: token,
            hint: String::new(),
        }],
    };
    let jwt_bundles = proto::JwtBundlesResponse {
        bundles: [
            (
                "spiffe://example.org".to_owned(),
                ca.jwt_bundle().to_jwks_json(),
            ),
            (
                "spiffe://other.org".to_owned(),
                other.jwt_bundle().to_jwks_json(),
            ),
        ]
        .into(),
    };
    let string = |s: &str| prost_types::Value {
        kind: Some(prost_types::value::Kind::StringValue(s.into())),
    };
    let validated = proto::ValidateJwtsvidResponse {
        spiffe_id: "spiffe://example.org/workload".into(),
        claims: Some(prost_types::Struct {
            fields: [
                ("sub".to_owned(), string("spiffe://example.org/workload")),
                (
                    "exp".to_owned(),
                    prost_types::Value {
                        kind: Some(prost_types::value::Kind::NumberValue(1.9e9)),
                    },
                ),
            ]
            .into(),
        }),
    };
    vec![
        ("x509-context", 0, x509.encode_to_vec()),
        ("x509-context-bad", 0, x509_bad.encode_to_vec()),
        ("x509-bundles", 1, bundles.encode_to_vec()),
        ("jwt-svids", 2, jwt.encode_to_vec()),
        ("jwt-bundles", 3, jwt_bundles.encode_to_vec()),
        ("validated", 4, validated.encode_to_vec()),
        (
            "validated-bad",
            4,
            proto::ValidateJwtsvidResponse::default().encode_to_vec(),
        ),
    ]
}

/// Whether the seed parses, as the fuzz target dispatches it.
fn parses(input: &[u8]) -> bool {
    let (kind, body) = input.split_first().unwrap();
    match kind % 5 {
        0 => response::x509_context(proto::X509svidResponse::decode(body).unwrap()).is_ok(),
        1 => response::x509_bundles(proto::X509BundlesResponse::decode(body).unwrap()).is_ok(),
        2 => response::jwt_svids(proto::JwtsvidResponse::decode(body).unwrap()).is_ok(),
        3 => response::jwt_bundles(proto::JwtBundlesResponse::decode(body).unwrap()).is_ok(),
        _ => response::validated_jwt_svid(proto::ValidateJwtsvidResponse::decode(body).unwrap())
            .is_ok(),
    }
}

#[test]
fn seeds_decode_and_parse_as_named() {
    let dir = seed_dir();
    let seeds = seeds();
    if std::env::var_os("SPIFFE_REGENERATE_SEEDS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, kind, body) in &seeds {
            let mut bytes = vec![*kind];
            bytes.extend_from_slice(body);
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    for (name, _, _) in &seeds {
        let bytes = std::fs::read(dir.join(name))
            .unwrap_or_else(|e| panic!("seed {name} missing ({e}); regenerate (see module doc)"));
        // The JWT seed's token has expired since, but parsing does not check the clock.
        assert_eq!(parses(&bytes), !name.ends_with("-bad"), "seed {name}");
    }
}
