//! The PKCS#11 key manager against a real SoftHSM2 token.
//!
//! SoftHSM2 must be installed (`softhsm2`; `scripts/test.sh` installs it): these tests fail,
//! not skip, without it. SoftHSM reads `SOFTHSM2_CONF` and scans its token directory when the
//! module is initialised, once per process, so each test process gets its own token directory
//! holding one fresh token per test, all created before the first initialisation (under
//! nextest every test is its own process, so each test has its own directory too).
#![cfg(feature = "pkcs11")]

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use aws_lc_rs::signature::{self, ParsedPublicKey, VerificationAlgorithm};
use spiffe_ca::keys::{
    KeyError, KeyManager, KeyType, PinSource, Pkcs11Config, Pkcs11KeyManager, Signer, SigningScheme,
};

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const USER_PIN: &str = "1234";
/// One token per test.
const TOKENS: &[&str] = &[
    "ec-schemes",
    "rsa-schemes",
    "rsa4096",
    "reopen",
    "delete",
    "attributes",
    "errors",
];

/// The per-process token directory, with `SOFTHSM2_CONF` pointing at its config.
fn softhsm_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        assert!(
            std::path::Path::new(MODULE).exists(),
            "SoftHSM2 is not installed ({MODULE} missing): apt-get install softhsm2 opensc"
        );
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("softhsm-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("tokens")).expect("create token dir");
        let conf = dir.join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}/tokens\nobjectstore.backend = file\nlog.level = ERROR\n",
                dir.display()
            ),
        )
        .expect("write softhsm2.conf");
        std::fs::write(dir.join("pin"), format!("{USER_PIN}\n")).expect("write PIN file");
        for label in TOKENS {
            let out = Command::new("softhsm2-util")
                .args(["--init-token", "--free", "--label", label])
                .args(["--pin", USER_PIN, "--so-pin", "5678"])
                .env("SOFTHSM2_CONF", &conf)
                .output()
                .expect("softhsm2-util must be installed (apt-get install softhsm2)");
            assert!(
                out.status.success(),
                "softhsm2-util --init-token failed: {out:?}"
            );
        }
        std::env::set_var("SOFTHSM2_CONF", &conf);
        dir
    })
}

/// The config for the test's token `label` (PIN from a file).
fn token(label: &str) -> Pkcs11Config {
    assert!(TOKENS.contains(&label), "add {label} to TOKENS");
    let dir = softhsm_dir();
    Pkcs11Config::new(MODULE, label, PinSource::File(dir.join("pin")))
        .with_key_label_prefix("spiffe-ca/")
}

fn algorithm(scheme: SigningScheme) -> &'static dyn VerificationAlgorithm {
    match scheme {
        SigningScheme::EcdsaP256Sha256Asn1 => &signature::ECDSA_P256_SHA256_ASN1,
        SigningScheme::EcdsaP256Sha256Fixed => &signature::ECDSA_P256_SHA256_FIXED,
        SigningScheme::EcdsaP384Sha384Asn1 => &signature::ECDSA_P384_SHA384_ASN1,
        SigningScheme::EcdsaP384Sha384Fixed => &signature::ECDSA_P384_SHA384_FIXED,
        SigningScheme::RsaPkcs1Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        SigningScheme::RsaPssSha256 => &signature::RSA_PSS_2048_8192_SHA256,
        _ => unreachable!("no other schemes"),
    }
}

/// Signs with `scheme` and checks the signature against the reported SPKI (and that a
/// different message does not verify).
fn sign_and_verify(signer: &dyn Signer, scheme: SigningScheme) {
    let message = b"tbsCertificate bytes";
    let sig = signer.sign(scheme, message).expect("sign");
    let key = ParsedPublicKey::new(algorithm(scheme), signer.public_key().spki_der())
        .expect("the reported SPKI parses");
    key.verify_sig(message, &sig)
        .unwrap_or_else(|_| panic!("{scheme:?} signature verifies"));
    assert!(key.verify_sig(b"other bytes", &sig).is_err());
}

#[tokio::test]
async fn ec_keys_sign_with_every_scheme() {
    let keys = Pkcs11KeyManager::open(token("ec-schemes")).expect("open");
    let p256 = keys
        .generate_key("p256", KeyType::EcP256)
        .await
        .expect("gen");
    assert_eq!(p256.public_key().key_type(), KeyType::EcP256);
    assert_eq!(p256.public_key().spki_der().len(), 91);
    sign_and_verify(&*p256, SigningScheme::EcdsaP256Sha256Asn1);
    sign_and_verify(&*p256, SigningScheme::EcdsaP256Sha256Fixed);
    let fixed = p256
        .sign(SigningScheme::EcdsaP256Sha256Fixed, b"m")
        .expect("sign");
    assert_eq!(fixed.len(), 64);

    let p384 = keys
        .generate_key("p384", KeyType::EcP384)
        .await
        .expect("gen");
    assert_eq!(p384.public_key().key_type(), KeyType::EcP384);
    assert_eq!(p384.public_key().spki_der().len(), 120);
    sign_and_verify(&*p384, SigningScheme::EcdsaP384Sha384Asn1);
    sign_and_verify(&*p384, SigningScheme::EcdsaP384Sha384Fixed);

    for (signer, scheme) in [
        (&p256, SigningScheme::EcdsaP384Sha384Asn1),
        (&p256, SigningScheme::RsaPkcs1Sha256),
        (&p384, SigningScheme::EcdsaP256Sha256Fixed),
    ] {
        assert!(matches!(
            signer.sign(scheme, b"m"),
            Err(KeyError::UnsupportedScheme { .. })
        ));
    }
}

#[tokio::test]
async fn rsa_keys_sign_pkcs1_and_pss() {
    let keys = Pkcs11KeyManager::open(token("rsa-schemes")).expect("open");
    let rsa = keys
        .generate_key("rsa", KeyType::Rsa2048)
        .await
        .expect("gen");
    assert_eq!(rsa.public_key().key_type(), KeyType::Rsa2048);
    sign_and_verify(&*rsa, SigningScheme::RsaPkcs1Sha256);
    sign_and_verify(&*rsa, SigningScheme::RsaPssSha256);
    // PKCS#1 v1.5 is deterministic, PSS is randomised (32-byte salt).
    let a = rsa.sign(SigningScheme::RsaPkcs1Sha256, b"m").expect("sign");
    let b = rsa.sign(SigningScheme::RsaPkcs1Sha256, b"m").expect("sign");
    assert_eq!(a, b);
    let a = rsa.sign(SigningScheme::RsaPssSha256, b"m").expect("sign");
    let b = rsa.sign(SigningScheme::RsaPssSha256, b"m").expect("sign");
    assert_ne!(a, b);
    assert!(matches!(
        rsa.sign(SigningScheme::EcdsaP256Sha256Asn1, b"m"),
        Err(KeyError::UnsupportedScheme { .. })
    ));
}

#[tokio::test]
async fn rsa_4096_keys() {
    let keys = Pkcs11KeyManager::open(token("rsa4096")).expect("open");
    let rsa = keys
        .generate_key("big", KeyType::Rsa4096)
        .await
        .expect("gen");
    assert_eq!(rsa.public_key().key_type(), KeyType::Rsa4096);
    sign_and_verify(&*rsa, SigningScheme::RsaPkcs1Sha256);
    let again = keys.get_key("big").await.expect("get").expect("present");
    assert_eq!(again.public_key(), rsa.public_key());
}

#[tokio::test]
async fn keys_survive_reopening() {
    let config = token("reopen");
    let (ec, rsa) = {
        let keys = Pkcs11KeyManager::open(config.clone()).expect("open");
        let ec = keys
            .generate_key("x509-ca", KeyType::EcP256)
            .await
            .expect("gen");
        let rsa = keys
            .generate_key("jwt", KeyType::Rsa2048)
            .await
            .expect("gen");
        (ec.public_key().clone(), rsa.public_key().clone())
    };
    let keys = Pkcs11KeyManager::open(config.clone()).expect("reopen");
    let got = keys.get_key("x509-ca").await.expect("get").expect("kept");
    assert_eq!(got.public_key(), &ec);
    assert_eq!(got.id(), "x509-ca");
    sign_and_verify(&*got, SigningScheme::EcdsaP256Sha256Asn1);
    let listed = keys.list_keys().await.expect("list");
    let ids: Vec<_> = listed.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(ids, ["jwt", "x509-ca"]);
    assert_eq!(listed[0].public_key, rsa);
    assert!(keys.get_key("absent").await.expect("get").is_none());

    // Another prefix on the same token sees none of these keys.
    let other = Pkcs11KeyManager::open(config.with_key_label_prefix("other/")).expect("open");
    assert!(other.list_keys().await.expect("list").is_empty());
    assert!(other.get_key("jwt").await.expect("get").is_none());
}

#[tokio::test]
async fn generate_replaces_and_delete_removes() {
    let keys = Pkcs11KeyManager::open(token("delete")).expect("open");
    let first = keys.generate_key("k", KeyType::EcP256).await.expect("gen");
    let second = keys.generate_key("k", KeyType::EcP256).await.expect("gen");
    assert_ne!(first.public_key(), second.public_key());
    let listed = keys.list_keys().await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(&listed[0].public_key, second.public_key());
    // The replaced key is gone from the token, so its handle no longer signs.
    assert!(first
        .sign(SigningScheme::EcdsaP256Sha256Asn1, b"m")
        .is_err());

    assert!(keys.delete_key("k").await.expect("delete"));
    assert!(keys.get_key("k").await.expect("get").is_none());
    assert!(!keys.delete_key("k").await.expect("delete"));
    assert!(keys.list_keys().await.expect("list").is_empty());
    assert!(second
        .sign(SigningScheme::EcdsaP256Sha256Asn1, b"m")
        .is_err());
}

#[tokio::test]
async fn private_keys_are_sensitive_token_objects() {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::object::{Attribute, AttributeType, ObjectClass};

    let config = token("attributes");
    let keys = Pkcs11KeyManager::open(config.clone()).expect("open");
    keys.generate_key("ca", KeyType::EcP256).await.expect("gen");

    // Look at the object through a separate handle on the module.
    let ctx = Pkcs11::new(MODULE).expect("load module");
    let _ = ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK));
    let slot = ctx
        .get_slots_with_token()
        .expect("slots")
        .into_iter()
        .find(|s| ctx.get_token_info(*s).expect("info").label() == "attributes")
        .expect("token");
    let session = ctx.open_ro_session(slot).expect("session");
    let found = session
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Label(b"spiffe-ca/ca".to_vec()),
        ])
        .expect("find");
    assert_eq!(found.len(), 1, "one private key labelled prefix + id");
    let attrs = session
        .get_attributes(
            found[0],
            &[
                AttributeType::Token,
                AttributeType::Sensitive,
                AttributeType::Extractable,
            ],
        )
        .expect("attributes");
    assert!(attrs.contains(&Attribute::Token(true)));
    assert!(attrs.contains(&Attribute::Sensitive(true)));
    assert!(attrs.contains(&Attribute::Extractable(false)));
}

#[tokio::test]
async fn pin_and_token_errors_are_clear() {
    let config = token("errors");
    let dir = softhsm_dir();

    std::fs::write(dir.join("wrong-pin"), "9999\n").expect("write");
    let mut wrong = config.clone();
    wrong.pin = PinSource::File(dir.join("wrong-pin"));
    let err = Pkcs11KeyManager::open(wrong).expect_err("wrong PIN");
    assert!(matches!(err, KeyError::PinIncorrect), "{err:?}");
    assert_eq!(err.to_string(), "the PKCS#11 token rejected the PIN");

    let mut missing = config.clone();
    missing.pin = PinSource::Env("SPIFFE_CA_TEST_PIN_NOT_SET".into());
    let err = Pkcs11KeyManager::open(missing).expect_err("no PIN");
    assert!(matches!(err, KeyError::PinUnavailable { .. }), "{err:?}");

    let mut from_env = config.clone();
    std::env::set_var("SPIFFE_CA_TEST_PIN", USER_PIN);
    from_env.pin = PinSource::Env("SPIFFE_CA_TEST_PIN".into());
    let keys = Pkcs11KeyManager::open(from_env).expect("PIN from the environment");
    assert!(keys.list_keys().await.expect("list").is_empty());
    let debug = format!("{keys:?}");
    assert!(
        debug.contains("errors") && !debug.contains(USER_PIN),
        "{debug}"
    );

    let mut no_token = config.clone();
    no_token.token_label = "no-such-token".into();
    let err = Pkcs11KeyManager::open(no_token).expect_err("no token");
    assert!(matches!(err, KeyError::TokenNotFound { .. }), "{err:?}");

    let keys = Pkcs11KeyManager::open(config).expect("open");
    for bad in ["", "../x", "a b", ".hidden"] {
        assert!(matches!(
            keys.generate_key(bad, KeyType::EcP256).await,
            Err(KeyError::InvalidKeyId { .. })
        ));
    }
}
