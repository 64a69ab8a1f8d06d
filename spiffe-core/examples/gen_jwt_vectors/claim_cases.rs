//! Cases #82–#100 and extras: `aud`, `exp`, `nbf`, `sub`, trust domains and serializations.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;

use crate::cases::{case, es, es256, h, with_exp, Case};
use crate::tokens::{b64, claims, token, Keys, Sig, FAR, NOW};

pub(crate) fn cases(k: &Keys) -> Vec<Case> {
    let ok = claims("spiffe://td/w", r#"["svc"]"#, "");
    vec![
        case(
            "82",
            "JWT-10",
            "aud missing",
            es(k, &format!(r#"{{"sub":"spiffe://td/w","exp":{FAR}}}"#)),
        )
        .reject("MissingAudience"),
        case(
            "83",
            "JWT-10",
            "aud []",
            es(k, &claims("spiffe://td/w", "[]", "")),
        )
        .reject("MissingAudience"),
        case(
            "84",
            "JWT-10",
            "aud as a string",
            es(k, &claims("spiffe://td/w", r#""svc""#, "")),
        )
        .cross_check(),
        case(
            "85",
            "JWT-10/11",
            "aud [a, svc]",
            es(k, &claims("spiffe://td/w", r#"["a","svc"]"#, "")),
        )
        .cross_check(),
        case(
            "86",
            "JWT-10",
            "aud [a], expected svc",
            es(k, &claims("spiffe://td/w", r#"["a"]"#, "")),
        )
        .reject("AudienceMismatch"),
        case("87", "JWT-12", "exp missing", es(k, &with_exp("", ""))).reject("MissingExpiry"),
        case(
            "88",
            "JWT-13",
            "exp 10 minutes in the past",
            es(k, &with_exp(&format!(r#","exp":{}"#, NOW - 600), "")),
        )
        .reject("Expired"),
        case(
            "89",
            "JWT-13",
            "exp 5 s in the past, leeway 10 s",
            es(k, &with_exp(&format!(r#","exp":{}"#, NOW - 5), "")),
        )
        .leeway(10),
        case(
            "89-boundary",
            "JWT-13",
            "exp 5 s in the past, leeway 5 s: exp+leeway is already expired",
            es(k, &with_exp(&format!(r#","exp":{}"#, NOW - 5), "")),
        )
        .leeway(5)
        .reject("Expired"),
        case(
            "89-exact",
            "JWT-13",
            "exp equal to now, no leeway (RFC 7519: now must be before exp)",
            es(k, &with_exp(&format!(r#","exp":{NOW}"#), "")),
        )
        .reject("Expired"),
        case(
            "89-float",
            "JWT-13",
            "exp a non-integer NumericDate",
            es(k, &with_exp(&format!(r#","exp":{FAR}.5"#), "")),
        ),
        case(
            "90",
            "JWT-13",
            "exp as a string",
            es(k, &with_exp(r#","exp":"1700000000""#, "")),
        )
        .reject("InvalidNumericDate"),
        case(
            "91",
            "JWT-13",
            "nbf in the future",
            es(k, &with_exp(
                &format!(r#","exp":{FAR}"#),
                &format!(r#","nbf":{}"#, NOW + 600),
            )),
        )
        .reject("NotYetValid"),
        case(
            "91-past",
            "JWT-13",
            "nbf in the past",
            es(k, &with_exp(
                &format!(r#","exp":{FAR}"#),
                &format!(r#","nbf":{}"#, NOW - 600),
            )),
        )
        .cross_check(),
        case(
            "91-string",
            "JWT-13",
            "nbf as a string",
            es(k, &with_exp(&format!(r#","exp":{FAR}"#), r#","nbf":"0""#)),
        )
        .reject("InvalidNumericDate"),
        case(
            "92",
            "JWT-9",
            "sub missing",
            es(k, &format!(r#"{{"aud":["svc"],"exp":{FAR}}}"#)),
        )
        .reject("MissingSubject"),
        case(
            "93-web",
            "JWT-9",
            "sub web",
            es(k, &claims("web", r#"["svc"]"#, "")),
        )
        .reject("InvalidSubject"),
        case(
            "93-upper",
            "JWT-9",
            "sub spiffe://TD/w",
            es(k, &claims("spiffe://TD/w", r#"["svc"]"#, "")),
        )
        .reject("InvalidSubject"),
        case(
            "94",
            "JWT-9",
            "sub spiffe://td (no path): accepted per spec",
            es(k, &claims("spiffe://td", r#"["svc"]"#, "")),
        )
        .cross_check(),
        case(
            "95",
            "JWT-20",
            "sub in td, signed by td-b's key (kid only in td-b)",
            token(k, &h("ES256", "b-ec256"), &ok, Sig::Ec(&k.b_ec256)),
        )
        .reject("UnknownKid"),
        case(
            "95-td-b",
            "JWT-20",
            "sub in td-b, signed by td-b's key",
            token(
                k,
                &h("ES256", "b-ec256"),
                &claims("spiffe://td-b/w", r#"["svc"]"#, ""),
                Sig::Ec(&k.b_ec256),
            ),
        )
        .cross_check(),
        case(
            "96",
            "JWT-20",
            "sub in a trust domain without a JWT bundle",
            es(k, &claims("spiffe://td-c/w", r#"["svc"]"#, "")),
        )
        .reject("NoBundle"),
        case("97", "JWT-1", "JWS JSON serialization", {
            let t = es(k, &ok);
            let p: Vec<&str> = t.split('.').collect();
            json!({"payload": p[1], "signatures": [{"protected": p[0], "signature": p[2]}]})
                .to_string()
        })
        .reject("JsonSerialization"),
        case(
            "98",
            "JWT-2",
            "5-part compact JWE",
            [
                b64(br#"{"alg":"RSA-OAEP","enc":"A256GCM","kid":"ec256"}"#),
                b64(&[7; 256]),
                b64(&[1; 12]),
                b64(ok.as_bytes()),
                b64(&[2; 16]),
            ]
            .join("."),
        )
        .reject("Encrypted"),
        case(
            "99",
            "JWT-8",
            "extra private claim group=admin",
            es(k, &claims(
                "spiffe://td/w",
                r#"["svc"]"#,
                r#","group":"admin""#,
            )),
        )
        .cross_check(),
        case(
            "100-typ",
            "JWT-7",
            "issuer bug: typ JWT+foo",
            es256(k, r#"{"alg":"ES256","kid":"ec256","typ":"JWT+foo"}"#, &ok),
        )
        .reject("InvalidType"),
        case("x-tampered", "JWT-13", "claims changed after signing", {
            let t = es(k, &ok);
            let p: Vec<&str> = t.split('.').collect();
            format!(
                "{}.{}.{}",
                p[0],
                b64(claims("spiffe://td/admin", r#"["svc"]"#, "").as_bytes()),
                p[2]
            )
        })
        .reject("InvalidSignature"),
        case("x-padded", "JWT-1", "base64 with padding", {
            let t = es(k, &ok);
            let p: Vec<&str> = t.split('.').collect();
            let header = URL_SAFE_NO_PAD.decode(p[0]).unwrap();
            let padded = base64::engine::general_purpose::URL_SAFE.encode(&header);
            assert!(padded.ends_with('='), "header length must need padding");
            format!("{padded}.{}.{}", p[1], p[2])
        })
        .reject("Base64"),
        case(
            "x-dup-alg",
            "JWT-1",
            "header repeats alg",
            es256(k, r#"{"alg":"none","alg":"ES256","kid":"ec256"}"#, &ok),
        )
        .reject("MalformedHeader"),
        case(
            "x-dup-sub",
            "JWT-1",
            "claims repeat sub",
            es(k, &format!(
                r#"{{"sub":"spiffe://td/w","sub":"spiffe://td/admin","aud":["svc"],"exp":{FAR}}}"#
            )),
        )
        .reject("MalformedClaims"),
        case(
            "x-claims-array",
            "JWT-1",
            "claims are a JSON array",
            es(k, &format!(r#"["spiffe://td/w","svc",{FAR}]"#)),
        )
        .reject("MalformedClaims"),
        case(
            "x-alg-number",
            "JWT-4",
            "alg is a number",
            es256(k, r#"{"alg":256,"kid":"ec256"}"#, &ok),
        )
        .reject("UnsupportedAlgorithm"),
        case(
            "x-no-alg",
            "JWT-4",
            "alg absent",
            es256(k, r#"{"kid":"ec256"}"#, &ok),
        )
        .reject("UnsupportedAlgorithm"),
        case("x-4-parts", "JWT-1", "four parts", format!("{}.x", es(k, &ok))).reject("PartCount"),
        case(
            "x-escaped",
            "JWT-9",
            "sub and kid with JSON escapes",
            es256(
                k,
                r#"{"alg":"ES256","kid":"ec\u0032\u0035\u0036"}"#,
                r#"{"sub":"spiffe:\/\/td\/w","aud":"svc","exp":4102444800}"#,
            ),
        )
        .cross_check(),
    ]
}
