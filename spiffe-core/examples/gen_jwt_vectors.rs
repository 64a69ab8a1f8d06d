//! Generates the JWT-SVID test vectors of `SPIFFE-CONFORMANCE.md` §4.3 (cases 70–100 and a few
//! more) into `spiffe-core/tests/data/jwt/`:
//!
//! - `td.jwks.json`, `td-b.jwks.json`: plain RFC 7517 JWK Sets (as the Workload API sends them)
//!   for trust domains `td` (EC P-256/P-384/P-521 and RSA-2048 keys) and `td-b` (EC P-256);
//! - `vectors.json`: the cases, each with its token, expected audiences, leeway, verdict (`accept`
//!   or the `JwtSvidError` variant name), requirement id and, for accepted tokens, the expected
//!   `sub` and `aud`.
//!
//! Times are fixed: validation happens at `now` = 1700000000; tokens meant to be valid expire in
//! 2100 so independent validators that read the system clock accept them too. Keys are fresh on
//! every run (ECDSA and PSS signatures are randomized anyway), so rerunning rewrites every file.
//!
//! Run: `cargo run -p spiffe-core --example gen_jwt_vectors`
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::PathBuf;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use aws_lc_rs::{hmac, signature::RsaEncoding};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

const NOW: i64 = 1_700_000_000;
/// 2100-01-01T00:00:00Z.
const FAR: i64 = 4_102_444_800;

struct Keys {
    ec256: EcdsaKeyPair,
    ec384: EcdsaKeyPair,
    ec521: EcdsaKeyPair,
    rsa: RsaKeyPair,
    b_ec256: EcdsaKeyPair,
    ed25519: Ed25519KeyPair,
}

enum Sig<'a> {
    Ec(&'a EcdsaKeyPair),
    Rsa(&'static dyn RsaEncoding),
    Hmac(&'a [u8]),
    Ed25519,
    Empty,
}

fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

fn token(keys: &Keys, header: &str, claims: &str, sig: Sig<'_>) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let rng = SystemRandom::new();
    let signature = match sig {
        Sig::Ec(key) => key.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
        Sig::Rsa(encoding) => {
            let mut out = vec![0; keys.rsa.public_modulus_len()];
            keys.rsa
                .sign(encoding, &rng, input.as_bytes(), &mut out)
                .unwrap();
            out
        }
        Sig::Hmac(key) => {
            let key = hmac::Key::new(hmac::HMAC_SHA256, key);
            hmac::sign(&key, input.as_bytes()).as_ref().to_vec()
        }
        Sig::Ed25519 => keys.ed25519.sign(input.as_bytes()).as_ref().to_vec(),
        Sig::Empty => Vec::new(),
    };
    format!("{input}.{}", b64(&signature))
}

fn ec_jwk(kid: &str, crv: &str, key: &EcdsaKeyPair) -> Value {
    let point = key.public_key().as_ref();
    let len = (point.len() - 1) / 2;
    json!({
        "kty": "EC", "kid": kid, "crv": crv,
        "x": b64(&point[1..1 + len]), "y": b64(&point[1 + len..]),
    })
}

/// Reads `n` and `e` from a PKCS#1 RSAPublicKey DER (RFC 8017 A.1.1).
fn rsa_jwk(kid: &str, key: &RsaKeyPair) -> Value {
    let der = key.public_key().as_ref();
    fn read_tlv(der: &[u8]) -> (&[u8], &[u8]) {
        let (len, hdr) = match der[1] {
            l if l < 0x80 => (l as usize, 2),
            0x81 => (der[2] as usize, 3),
            0x82 => (((der[2] as usize) << 8) | der[3] as usize, 4),
            _ => panic!("unexpected DER length"),
        };
        (&der[hdr..hdr + len], &der[hdr + len..])
    }
    let (seq, _) = read_tlv(der);
    let (n, rest) = read_tlv(seq);
    let (e, _) = read_tlv(rest);
    let strip = |v: &[u8]| {
        v.iter()
            .position(|b| *b != 0)
            .map_or(vec![0], |i| v[i..].to_vec())
    };
    json!({ "kty": "RSA", "kid": kid, "n": b64(&strip(n)), "e": b64(&strip(e)) })
}

fn claims(sub: &str, aud: &str, extra: &str) -> String {
    format!(
        r#"{{"sub":"{sub}","aud":{aud},"exp":{FAR},"iat":{}{extra}}}"#,
        NOW - 60
    )
}

struct Case {
    id: &'static str,
    req: &'static str,
    desc: &'static str,
    token: String,
    audience: Vec<&'static str>,
    leeway: u64,
    expect: &'static str,
    spiffe_crate: bool,
}

fn case(id: &'static str, req: &'static str, desc: &'static str, token: String) -> Case {
    Case {
        id,
        req,
        desc,
        token,
        audience: vec!["svc"],
        leeway: 0,
        expect: "accept",
        spiffe_crate: false,
    }
}

impl Case {
    fn reject(mut self, kind: &'static str) -> Self {
        self.expect = kind;
        self
    }
    fn cross_check(mut self) -> Self {
        self.spiffe_crate = true;
        self
    }
    fn leeway(mut self, secs: u64) -> Self {
        self.leeway = secs;
        self
    }
}

fn main() {
    let keys = Keys {
        ec256: EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(),
        ec384: EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_FIXED_SIGNING).unwrap(),
        ec521: EcdsaKeyPair::generate(&signature::ECDSA_P521_SHA512_FIXED_SIGNING).unwrap(),
        rsa: RsaKeyPair::generate(KeySize::Rsa2048).unwrap(),
        b_ec256: EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(),
        ed25519: Ed25519KeyPair::generate().unwrap(),
    };
    let k = &keys;
    let ok = claims("spiffe://td/w", r#"["svc"]"#, "");
    let h = |alg: &str, kid: &str| format!(r#"{{"alg":"{alg}","kid":"{kid}","typ":"JWT"}}"#);
    let es256 = |header: &str, claims: &str| token(k, header, claims, Sig::Ec(&k.ec256));
    let es = |claims: &str| es256(&h("ES256", "ec256"), claims);
    let with_exp =
        |exp: &str, extra: &str| format!(r#"{{"sub":"spiffe://td/w","aud":["svc"]{exp}{extra}}}"#);

    let cases = vec![
        case(
            "70",
            "JWT-4..13",
            "ES256, kid, typ JWT, aud [svc], exp in the future",
            es(&ok),
        )
        .cross_check(),
        case(
            "70-rs256",
            "JWT-4",
            "RS256 with RSA-2048",
            token(
                k,
                &h("RS256", "rsa"),
                &ok,
                Sig::Rsa(&signature::RSA_PKCS1_SHA256),
            ),
        )
        .cross_check(),
        case(
            "70-rs384",
            "JWT-4",
            "RS384",
            token(
                k,
                &h("RS384", "rsa"),
                &ok,
                Sig::Rsa(&signature::RSA_PKCS1_SHA384),
            ),
        )
        .cross_check(),
        case(
            "70-rs512",
            "JWT-4",
            "RS512",
            token(
                k,
                &h("RS512", "rsa"),
                &ok,
                Sig::Rsa(&signature::RSA_PKCS1_SHA512),
            ),
        )
        .cross_check(),
        case(
            "70-ps256",
            "JWT-4",
            "PS256",
            token(
                k,
                &h("PS256", "rsa"),
                &ok,
                Sig::Rsa(&signature::RSA_PSS_SHA256),
            ),
        )
        .cross_check(),
        case(
            "70-ps384",
            "JWT-4",
            "PS384",
            token(
                k,
                &h("PS384", "rsa"),
                &ok,
                Sig::Rsa(&signature::RSA_PSS_SHA384),
            ),
        )
        .cross_check(),
        case(
            "70-ps512",
            "JWT-4",
            "PS512",
            token(
                k,
                &h("PS512", "rsa"),
                &ok,
                Sig::Rsa(&signature::RSA_PSS_SHA512),
            ),
        )
        .cross_check(),
        case(
            "70-es384",
            "JWT-4",
            "ES384 with P-384",
            token(k, &h("ES384", "ec384"), &ok, Sig::Ec(&k.ec384)),
        )
        .cross_check(),
        case(
            "71",
            "JWT-4/5",
            "alg none, empty signature",
            token(k, r#"{"alg":"none","kid":"ec256"}"#, &ok, Sig::Empty),
        )
        .reject("UnsupportedAlgorithm"),
        case(
            "72",
            "JWT-4",
            "HS256 keyed with the P-256 public key",
            token(
                k,
                &h("HS256", "ec256"),
                &ok,
                Sig::Hmac(k.ec256.public_key().as_ref()),
            ),
        )
        .reject("UnsupportedAlgorithm"),
        case(
            "73-eddsa",
            "JWT-4",
            "EdDSA",
            token(k, &h("EdDSA", "ec256"), &ok, Sig::Ed25519),
        )
        .reject("UnsupportedAlgorithm"),
        case(
            "73-es256k",
            "JWT-4",
            "ES256K",
            es256(&h("ES256K", "ec256"), &ok),
        )
        .reject("UnsupportedAlgorithm"),
        case(
            "73-rs1",
            "JWT-4",
            "RS1",
            token(
                k,
                &h("RS1", "rsa"),
                &ok,
                Sig::Rsa(&signature::RSA_PKCS1_SHA256),
            ),
        )
        .reject("UnsupportedAlgorithm"),
        case(
            "73-es256-lowercase",
            "JWT-4",
            "alg es256 (names are case-sensitive)",
            es256(&h("es256", "ec256"), &ok),
        )
        .reject("UnsupportedAlgorithm"),
        case(
            "74",
            "JWT-4",
            "ES512 with a P-521 key",
            token(k, &h("ES512", "ec521"), &ok, Sig::Ec(&k.ec521)),
        ),
        case(
            "75",
            "JWT-13",
            "ES256 but kid names the RSA key",
            es256(&h("ES256", "rsa"), &ok),
        )
        .reject("KeyAlgorithmMismatch"),
        case(
            "75-curve",
            "JWT-13",
            "ES384 but kid names the P-256 key",
            token(k, &h("ES384", "ec256"), &ok, Sig::Ec(&k.ec384)),
        )
        .reject("KeyAlgorithmMismatch"),
        case(
            "75-ps-ec",
            "JWT-13",
            "PS256 but kid names an EC key",
            token(
                k,
                &h("PS256", "ec256"),
                &ok,
                Sig::Rsa(&signature::RSA_PSS_SHA256),
            ),
        )
        .reject("KeyAlgorithmMismatch"),
        case(
            "76",
            "JWT-13",
            "RS256 header, PS256 signature",
            token(
                k,
                &h("RS256", "rsa"),
                &ok,
                Sig::Rsa(&signature::RSA_PSS_SHA256),
            ),
        )
        .reject("InvalidSignature"),
        case(
            "77-jose",
            "JWT-7",
            "typ JOSE",
            es256(r#"{"alg":"ES256","kid":"ec256","typ":"JOSE"}"#, &ok),
        )
        .cross_check(),
        case(
            "77-absent",
            "JWT-7",
            "typ absent",
            es256(r#"{"alg":"ES256","kid":"ec256"}"#, &ok),
        )
        .cross_check(),
        case(
            "78-at+jwt",
            "JWT-7",
            "typ at+jwt",
            es256(r#"{"alg":"ES256","kid":"ec256","typ":"at+jwt"}"#, &ok),
        )
        .reject("InvalidType"),
        case(
            "78-wit+jwt",
            "JWT-7",
            "typ wit+jwt",
            es256(r#"{"alg":"ES256","kid":"ec256","typ":"wit+jwt"}"#, &ok),
        )
        .reject("InvalidType"),
        case(
            "78-lowercase",
            "JWT-7",
            "typ jwt (lowercase)",
            es256(r#"{"alg":"ES256","kid":"ec256","typ":"jwt"}"#, &ok),
        )
        .reject("InvalidType"),
        case(
            "78-null",
            "JWT-7",
            "typ null",
            es256(r#"{"alg":"ES256","kid":"ec256","typ":null}"#, &ok),
        )
        .reject("InvalidType"),
        case(
            "79",
            "JWT-6",
            "kid absent (policy: reject, as go-spiffe and SPIRE)",
            es256(r#"{"alg":"ES256","typ":"JWT"}"#, &ok),
        )
        .reject("MissingKid"),
        case(
            "80",
            "JWT-17/20",
            "kid not in the bundle",
            es256(&h("ES256", "unknown"), &ok),
        )
        .reject("UnknownKid"),
        case(
            "81-jku",
            "JWT-3",
            "header with jku",
            es256(
                r#"{"alg":"ES256","kid":"ec256","jku":"https://evil.example/jwks"}"#,
                &ok,
            ),
        )
        .reject("HeaderParameterNotAllowed"),
        case(
            "81-x5u",
            "JWT-3",
            "header with x5u",
            es256(
                r#"{"alg":"ES256","kid":"ec256","x5u":"https://evil.example/c"}"#,
                &ok,
            ),
        )
        .reject("HeaderParameterNotAllowed"),
        case(
            "81-jwk",
            "JWT-3",
            "header with jwk",
            es256(r#"{"alg":"ES256","kid":"ec256","jwk":{"kty":"EC"}}"#, &ok),
        )
        .reject("HeaderParameterNotAllowed"),
        case(
            "81-crit",
            "JWT-3",
            "header with crit",
            es256(r#"{"alg":"ES256","kid":"ec256","crit":["exp"]}"#, &ok),
        )
        .reject("HeaderParameterNotAllowed"),
        case(
            "81-x5c",
            "JWT-3",
            "header with x5c",
            es256(r#"{"alg":"ES256","kid":"ec256","x5c":["AA"]}"#, &ok),
        )
        .reject("HeaderParameterNotAllowed"),
        case(
            "81-other",
            "JWT-3",
            "header with another parameter (policy: reject)",
            es256(r#"{"alg":"ES256","kid":"ec256","cty":"JWT"}"#, &ok),
        )
        .reject("HeaderParameterNotAllowed"),
        case(
            "82",
            "JWT-10",
            "aud missing",
            es(&format!(r#"{{"sub":"spiffe://td/w","exp":{FAR}}}"#)),
        )
        .reject("MissingAudience"),
        case(
            "83",
            "JWT-10",
            "aud []",
            es(&claims("spiffe://td/w", "[]", "")),
        )
        .reject("MissingAudience"),
        case(
            "84",
            "JWT-10",
            "aud as a string",
            es(&claims("spiffe://td/w", r#""svc""#, "")),
        )
        .cross_check(),
        case(
            "85",
            "JWT-10/11",
            "aud [a, svc]",
            es(&claims("spiffe://td/w", r#"["a","svc"]"#, "")),
        )
        .cross_check(),
        case(
            "86",
            "JWT-10",
            "aud [a], expected svc",
            es(&claims("spiffe://td/w", r#"["a"]"#, "")),
        )
        .reject("AudienceMismatch"),
        case("87", "JWT-12", "exp missing", es(&with_exp("", ""))).reject("MissingExpiry"),
        case(
            "88",
            "JWT-13",
            "exp 10 minutes in the past",
            es(&with_exp(&format!(r#","exp":{}"#, NOW - 600), "")),
        )
        .reject("Expired"),
        case(
            "89",
            "JWT-13",
            "exp 5 s in the past, leeway 10 s",
            es(&with_exp(&format!(r#","exp":{}"#, NOW - 5), "")),
        )
        .leeway(10),
        case(
            "89-boundary",
            "JWT-13",
            "exp 5 s in the past, leeway 5 s: exp+leeway is already expired",
            es(&with_exp(&format!(r#","exp":{}"#, NOW - 5), "")),
        )
        .leeway(5)
        .reject("Expired"),
        case(
            "89-exact",
            "JWT-13",
            "exp equal to now, no leeway (RFC 7519: now must be before exp)",
            es(&with_exp(&format!(r#","exp":{NOW}"#), "")),
        )
        .reject("Expired"),
        case(
            "89-float",
            "JWT-13",
            "exp a non-integer NumericDate",
            es(&with_exp(&format!(r#","exp":{FAR}.5"#), "")),
        ),
        case(
            "90",
            "JWT-13",
            "exp as a string",
            es(&with_exp(r#","exp":"1700000000""#, "")),
        )
        .reject("InvalidNumericDate"),
        case(
            "91",
            "JWT-13",
            "nbf in the future",
            es(&with_exp(
                &format!(r#","exp":{FAR}"#),
                &format!(r#","nbf":{}"#, NOW + 600),
            )),
        )
        .reject("NotYetValid"),
        case(
            "91-past",
            "JWT-13",
            "nbf in the past",
            es(&with_exp(
                &format!(r#","exp":{FAR}"#),
                &format!(r#","nbf":{}"#, NOW - 600),
            )),
        )
        .cross_check(),
        case(
            "91-string",
            "JWT-13",
            "nbf as a string",
            es(&with_exp(&format!(r#","exp":{FAR}"#), r#","nbf":"0""#)),
        )
        .reject("InvalidNumericDate"),
        case(
            "92",
            "JWT-9",
            "sub missing",
            es(&format!(r#"{{"aud":["svc"],"exp":{FAR}}}"#)),
        )
        .reject("MissingSubject"),
        case(
            "93-web",
            "JWT-9",
            "sub web",
            es(&claims("web", r#"["svc"]"#, "")),
        )
        .reject("InvalidSubject"),
        case(
            "93-upper",
            "JWT-9",
            "sub spiffe://TD/w",
            es(&claims("spiffe://TD/w", r#"["svc"]"#, "")),
        )
        .reject("InvalidSubject"),
        case(
            "94",
            "JWT-9",
            "sub spiffe://td (no path): accepted per spec",
            es(&claims("spiffe://td", r#"["svc"]"#, "")),
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
            es(&claims("spiffe://td-c/w", r#"["svc"]"#, "")),
        )
        .reject("NoBundle"),
        case("97", "JWT-1", "JWS JSON serialization", {
            let t = es(&ok);
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
            es(&claims(
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
            es256(r#"{"alg":"ES256","kid":"ec256","typ":"JWT+foo"}"#, &ok),
        )
        .reject("InvalidType"),
        case("x-tampered", "JWT-13", "claims changed after signing", {
            let t = es(&ok);
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
            let t = es(&ok);
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
            es256(r#"{"alg":"none","alg":"ES256","kid":"ec256"}"#, &ok),
        )
        .reject("MalformedHeader"),
        case(
            "x-dup-sub",
            "JWT-1",
            "claims repeat sub",
            es(&format!(
                r#"{{"sub":"spiffe://td/w","sub":"spiffe://td/admin","aud":["svc"],"exp":{FAR}}}"#
            )),
        )
        .reject("MalformedClaims"),
        case(
            "x-claims-array",
            "JWT-1",
            "claims are a JSON array",
            es(&format!(r#"["spiffe://td/w","svc",{FAR}]"#)),
        )
        .reject("MalformedClaims"),
        case(
            "x-alg-number",
            "JWT-4",
            "alg is a number",
            es256(r#"{"alg":256,"kid":"ec256"}"#, &ok),
        )
        .reject("UnsupportedAlgorithm"),
        case(
            "x-no-alg",
            "JWT-4",
            "alg absent",
            es256(r#"{"kid":"ec256"}"#, &ok),
        )
        .reject("UnsupportedAlgorithm"),
        case("x-4-parts", "JWT-1", "four parts", format!("{}.x", es(&ok))).reject("PartCount"),
        case(
            "x-escaped",
            "JWT-9",
            "sub and kid with JSON escapes",
            es256(
                r#"{"alg":"ES256","kid":"ec\u0032\u0035\u0036"}"#,
                r#"{"sub":"spiffe:\/\/td\/w","aud":"svc","exp":4102444800}"#,
            ),
        )
        .cross_check(),
    ];

    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/jwt");
    std::fs::create_dir_all(&dir).unwrap();
    let td = json!({"keys": [
        ec_jwk("ec256", "P-256", &keys.ec256),
        ec_jwk("ec384", "P-384", &keys.ec384),
        ec_jwk("ec521", "P-521", &keys.ec521),
        rsa_jwk("rsa", &keys.rsa),
    ]});
    let td_b = json!({"keys": [ec_jwk("b-ec256", "P-256", &keys.b_ec256)]});
    let cases: Vec<Value> = cases
        .into_iter()
        .map(|c| {
            // For accepted tokens, record what a validator must report, read here with plain
            // serde_json rather than the library under test.
            let expected = (c.expect == "accept").then(|| {
                let claims = c.token.split('.').nth(1).unwrap();
                let claims: Value =
                    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
                let aud = match &claims["aud"] {
                    Value::String(s) => json!([s]),
                    other => other.clone(),
                };
                json!({"sub": claims["sub"], "aud": aud})
            });
            json!({
                "expected": expected,
                "id": c.id, "req": c.req, "desc": c.desc, "token": c.token,
                "audience": c.audience, "leeway": c.leeway, "expect": c.expect,
                "spiffe_crate": c.spiffe_crate,
            })
        })
        .collect();
    let vectors = json!({
        "now": NOW,
        "bundles": {"td": "td.jwks.json", "td-b": "td-b.jwks.json"},
        "cases": cases,
    });
    for (name, value) in [
        ("td.jwks.json", td),
        ("td-b.jwks.json", td_b),
        ("vectors.json", vectors),
    ] {
        let mut text = serde_json::to_string_pretty(&value).unwrap();
        text.push('\n');
        std::fs::write(dir.join(name), text).unwrap();
    }
    println!("wrote {}", dir.display());
}
