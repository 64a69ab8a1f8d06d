//! Cases #70–#81: algorithms, keys, `typ`, `kid` and header parameters.

use aws_lc_rs::signature::{self, KeyPair};

use crate::cases::{case, es, es256, h, Case};
use crate::tokens::{claims, token, Keys, Sig};

pub(crate) fn cases(k: &Keys) -> Vec<Case> {
    let ok = claims("spiffe://td/w", r#"["svc"]"#, "");
    vec![
        case(
            "70",
            "JWT-4..13",
            "ES256, kid, typ JWT, aud [svc], exp in the future",
            es(k, &ok),
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
            es256(k, &h("ES256K", "ec256"), &ok),
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
            es256(k, &h("es256", "ec256"), &ok),
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
            es256(k, &h("ES256", "rsa"), &ok),
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
            es256(k, r#"{"alg":"ES256","kid":"ec256","typ":"JOSE"}"#, &ok),
        )
        .cross_check(),
        case(
            "77-absent",
            "JWT-7",
            "typ absent",
            es256(k, r#"{"alg":"ES256","kid":"ec256"}"#, &ok),
        )
        .cross_check(),
        case(
            "78-at+jwt",
            "JWT-7",
            "typ at+jwt",
            es256(k, r#"{"alg":"ES256","kid":"ec256","typ":"at+jwt"}"#, &ok),
        )
        .reject("InvalidType"),
        case(
            "78-wit+jwt",
            "JWT-7",
            "typ wit+jwt",
            es256(k, r#"{"alg":"ES256","kid":"ec256","typ":"wit+jwt"}"#, &ok),
        )
        .reject("InvalidType"),
        case(
            "78-lowercase",
            "JWT-7",
            "typ jwt (lowercase)",
            es256(k, r#"{"alg":"ES256","kid":"ec256","typ":"jwt"}"#, &ok),
        )
        .reject("InvalidType"),
        case(
            "78-null",
            "JWT-7",
            "typ null",
            es256(k, r#"{"alg":"ES256","kid":"ec256","typ":null}"#, &ok),
        )
        .reject("InvalidType"),
        case(
            "79",
            "JWT-6",
            "kid absent (policy: reject, as go-spiffe and SPIRE)",
            es256(k, r#"{"alg":"ES256","typ":"JWT"}"#, &ok),
        )
        .reject("MissingKid"),
        case(
            "80",
            "JWT-17/20",
            "kid not in the bundle",
            es256(k, &h("ES256", "unknown"), &ok),
        )
        .reject("UnknownKid"),
        case(
            "81-jku",
            "JWT-3",
            "header with jku",
            es256(
                k,
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
                k,
                r#"{"alg":"ES256","kid":"ec256","x5u":"https://evil.example/c"}"#,
                &ok,
            ),
        )
        .reject("HeaderParameterNotAllowed"),
        case(
            "81-jwk",
            "JWT-3",
            "header with jwk",
            es256(
                k,
                r#"{"alg":"ES256","kid":"ec256","jwk":{"kty":"EC"}}"#,
                &ok,
            ),
        )
        .reject("HeaderParameterNotAllowed"),
        case(
            "81-crit",
            "JWT-3",
            "header with crit",
            es256(k, r#"{"alg":"ES256","kid":"ec256","crit":["exp"]}"#, &ok),
        )
        .reject("HeaderParameterNotAllowed"),
        case(
            "81-x5c",
            "JWT-3",
            "header with x5c",
            es256(k, r#"{"alg":"ES256","kid":"ec256","x5c":["AA"]}"#, &ok),
        )
        .reject("HeaderParameterNotAllowed"),
        case(
            "81-other",
            "JWT-3",
            "header with another parameter (policy: reject)",
            es256(k, r#"{"alg":"ES256","kid":"ec256","cty":"JWT"}"#, &ok),
        )
        .reject("HeaderParameterNotAllowed"),
    ]
}
