//! The in-memory key manager.

use std::sync::Arc;

use aws_lc_rs::signature::{self, ParsedPublicKey};
use spiffe_ca::keys::{
    KeyError, KeyManager, KeyType, MemoryKeyManager, Signer, SigningScheme, SoftwareSigner,
};

#[tokio::test]
async fn generate_get_list_delete() {
    let keys = MemoryKeyManager::new();
    assert!(keys.list_keys().await.expect("list").is_empty());

    let ca = keys
        .generate_key("x509-ca", KeyType::EcP256)
        .await
        .expect("gen");
    let jwt = keys
        .generate_key("jwt-a", KeyType::EcP384)
        .await
        .expect("gen");
    assert_eq!(ca.id(), "x509-ca");
    assert_eq!(jwt.public_key().key_type(), KeyType::EcP384);

    let got = keys
        .get_key("x509-ca")
        .await
        .expect("get")
        .expect("present");
    assert!(Arc::ptr_eq(&got, &ca), "the same signer comes back");
    assert!(keys.get_key("nope").await.expect("get").is_none());

    let listed = keys.list_keys().await.expect("list");
    let ids: Vec<_> = listed.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(ids, ["jwt-a", "x509-ca"]);
    assert_eq!(&listed[1].public_key, ca.public_key());

    assert!(keys.delete_key("x509-ca").await.expect("delete"));
    assert!(!keys.delete_key("x509-ca").await.expect("delete"));
    assert!(keys.get_key("x509-ca").await.expect("get").is_none());
    assert_eq!(keys.list_keys().await.expect("list").len(), 1);
}

#[tokio::test]
async fn generate_replaces_a_key() {
    let keys = MemoryKeyManager::new();
    let first = keys.generate_key("k", KeyType::EcP256).await.expect("gen");
    let second = keys.generate_key("k", KeyType::Rsa2048).await.expect("gen");
    assert_ne!(first.public_key(), second.public_key());
    let got = keys.get_key("k").await.expect("get").expect("present");
    assert_eq!(got.public_key().key_type(), KeyType::Rsa2048);
    assert_eq!(keys.list_keys().await.expect("list").len(), 1);
}

#[tokio::test]
async fn signatures_verify_against_the_listed_key() {
    let keys = MemoryKeyManager::new();
    let signer = keys.generate_key("k", KeyType::EcP256).await.expect("gen");
    let sig = signer
        .sign(SigningScheme::EcdsaP256Sha256Asn1, b"tbs")
        .expect("sign");
    let info = keys.list_keys().await.expect("list").remove(0);
    let key = ParsedPublicKey::new(
        &signature::ECDSA_P256_SHA256_ASN1,
        info.public_key.spki_der(),
    )
    .expect("SPKI parses");
    key.verify_sig(b"tbs", &sig).expect("verifies");
    assert!(key.verify_sig(b"tbx", &sig).is_err());
}

#[tokio::test]
async fn insert_existing_keys_and_reject_bad_ids() {
    let keys = MemoryKeyManager::new();
    let imported = SoftwareSigner::generate("imported", KeyType::EcP256).expect("gen");
    let spki = imported.public_key().clone();
    keys.insert(imported).expect("insert");
    let got = keys
        .get_key("imported")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(got.public_key(), &spki);

    for bad in ["", "../etc/passwd", "a/b", ".x", "sp ace", &"x".repeat(129)] {
        assert!(
            matches!(
                keys.generate_key(bad, KeyType::EcP256).await,
                Err(KeyError::InvalidKeyId { .. })
            ),
            "{bad:?} accepted"
        );
    }
    let bad = SoftwareSigner::generate("a/b", KeyType::EcP256).expect("gen");
    assert!(keys.insert(bad).is_err());
}

#[tokio::test]
async fn debug_shows_no_key_material() {
    let keys = MemoryKeyManager::new();
    let signer = keys
        .generate_key("secret-ish", KeyType::EcP256)
        .await
        .expect("gen");
    assert_eq!(format!("{keys:?}"), "MemoryKeyManager { keys: 1 }");
    let debug = format!("{signer:?}");
    assert!(debug.starts_with("SoftwareSigner") && debug.contains("EcP256"));
    assert!(debug.len() < 80, "{debug}");
}

#[test]
fn managers_are_object_safe_and_shareable() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<MemoryKeyManager>();
    let _boxed: Box<dyn KeyManager> = Box::new(MemoryKeyManager::new());
}

/// Key generation runs on the blocking pool: on a single-threaded runtime, another task keeps
/// running while an RSA key is generated. Run in place, the generation would finish within the
/// first poll and the other task would not have run once.
#[tokio::test(flavor = "current_thread")]
async fn generation_does_not_block_the_executor() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    let ticks = Arc::new(AtomicU64::new(0));
    let ticker = tokio::spawn({
        let ticks = ticks.clone();
        async move {
            loop {
                ticks.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        }
    });
    let keys = MemoryKeyManager::new();
    keys.generate_key("rsa", KeyType::Rsa2048)
        .await
        .expect("generate");
    let during = ticks.load(Ordering::Relaxed);
    ticker.abort();
    assert!(during > 0, "the executor was blocked during key generation");
}
