//! Untrusted input never panics the JWT-SVID parser or validator.
#![allow(clippy::unwrap_used, missing_docs)]

mod jwt_common;

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jwt_common::{load_vectors, Vectors};
use proptest::prelude::*;
use spiffe_core::jwt::{JwtAuthority, JwtSvid, JwtValidationOptions, UnverifiedJwtSvid};
use spiffe_core::{JwtBundle, TrustDomain};

fn vectors() -> &'static Vectors {
    static VECTORS: OnceLock<Vectors> = OnceLock::new();
    VECTORS.get_or_init(load_vectors)
}

fn check(token: &str) {
    let v = vectors();
    let opts = JwtValidationOptions::new(v.now);
    let parsed = UnverifiedJwtSvid::parse_insecure(token);
    let validated = JwtSvid::validate(token, &v.bundles, &["svc"], &opts);
    // Validation never accepts what structural parsing rejects.
    if let Err(e) = &parsed {
        assert_eq!(validated.as_ref().err(), Some(e));
    }
    if let Ok(svid) = &parsed {
        let _ = svid.claims();
    }
}

/// A JSON fragment from a small grammar of JOSE/JWT-looking values.
fn json_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| f.to_string()),
        "[a-zA-Z0-9:/._+-]{0,12}".prop_map(|s| format!("\"{s}\"")),
        Just("\"spiffe://td/w\"".to_owned()),
        Just("\"ES256\"".to_owned()),
        Just("\"ec256\"".to_owned()),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((json_key(), inner), 0..5).prop_map(|v| {
                let members: Vec<String> =
                    v.into_iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("alg".to_owned()),
        Just("kid".to_owned()),
        Just("typ".to_owned()),
        Just("sub".to_owned()),
        Just("aud".to_owned()),
        Just("exp".to_owned()),
        Just("nbf".to_owned()),
        Just("jku".to_owned()),
        "[a-z]{1,4}",
    ]
}

proptest! {
    #[test]
    fn arbitrary_strings_never_panic(token in ".{0,300}") {
        check(&token);
    }

    #[test]
    fn arbitrary_three_part_tokens_never_panic(
        a in "[A-Za-z0-9_=+/-]{0,80}",
        b in "[A-Za-z0-9_=+/-]{0,200}",
        c in "[A-Za-z0-9_=+/-]{0,120}",
    ) {
        check(&format!("{a}.{b}.{c}"));
    }

    #[test]
    fn json_shaped_tokens_never_panic(
        header in json_value(),
        claims in json_value(),
        sig in prop::collection::vec(any::<u8>(), 0..80),
    ) {
        let token = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(&header),
            URL_SAFE_NO_PAD.encode(&claims),
            URL_SAFE_NO_PAD.encode(&sig)
        );
        check(&token);
    }

    #[test]
    fn mutated_vectors_never_panic(index in any::<prop::sample::Index>(), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let v = vectors();
        let case = &v.cases[index.index(v.cases.len())];
        let mut bytes = case.token.clone().into_bytes();
        if !bytes.is_empty() {
            let at = pos.index(bytes.len());
            bytes[at] = byte;
        }
        if let Ok(token) = String::from_utf8(bytes) {
            check(&token);
        }
    }

    #[test]
    fn arbitrary_jwks_never_panic(doc in json_value()) {
        let td = TrustDomain::new("td").unwrap();
        let _ = JwtBundle::parse_jwks(td, doc.as_bytes());
        if let Ok(jwk) = spiffe_core::json::JsonObject::from_json(doc.as_bytes()) {
            let _ = JwtAuthority::from_jwk(&jwk);
        }
    }
}
