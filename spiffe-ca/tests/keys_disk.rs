//! The on-disk key manager: persistence, permissions, crash safety, id validation, `Debug`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use aws_lc_rs::signature::{self, ParsedPublicKey};
use spiffe_ca::keys::{DiskKeyManager, KeyError, KeyManager, KeyType, SigningScheme};

/// A fresh, empty directory path under the target's temp dir (not yet created).
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("keys-disk-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn keys_persist_across_reopen_with_private_modes() {
    let dir = scratch("persist");
    let (ec, rsa) = {
        let keys = DiskKeyManager::open(&dir).expect("open");
        let ec = keys
            .generate_key("x509-ca", KeyType::EcP384)
            .await
            .expect("gen");
        let rsa = keys
            .generate_key("jwt", KeyType::Rsa2048)
            .await
            .expect("gen");
        (ec.public_key().clone(), rsa.public_key().clone())
    };
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(file_names(&dir), ["jwt.key", "x509-ca.key"]);
    assert_eq!(mode(&dir.join("x509-ca.key")), 0o600);
    assert_eq!(mode(&dir.join("jwt.key")), 0o600);

    let keys = DiskKeyManager::open(&dir).expect("reopen");
    let got = keys.get_key("x509-ca").await.expect("get").expect("kept");
    assert_eq!(got.public_key(), &ec);
    let listed = keys.list_keys().await.expect("list");
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].id, "jwt");
    assert_eq!(listed[0].public_key, rsa);

    // The reloaded key signs, and the signature verifies against the original public key.
    let sig = got
        .sign(SigningScheme::EcdsaP384Sha384Asn1, b"tbs")
        .expect("sign");
    ParsedPublicKey::new(&signature::ECDSA_P384_SHA384_ASN1, ec.spki_der())
        .expect("SPKI")
        .verify_sig(b"tbs", &sig)
        .expect("verifies");
}

#[tokio::test]
async fn file_format_is_the_documented_json() {
    let dir = scratch("format");
    let keys = DiskKeyManager::open(&dir).expect("open");
    keys.generate_key("k", KeyType::EcP256).await.expect("gen");
    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("k.key")).expect("read")).expect("JSON");
    assert_eq!(json["format"], "spiffe-ca-key/1");
    assert_eq!(json["id"], "k");
    assert_eq!(json["key_type"], "ec-p256");
    assert!(json["pkcs8"].as_str().is_some_and(|s| s.len() > 100));
}

#[tokio::test]
async fn delete_removes_the_file() {
    let dir = scratch("delete");
    let keys = DiskKeyManager::open(&dir).expect("open");
    keys.generate_key("a", KeyType::EcP256).await.expect("gen");
    keys.generate_key("b", KeyType::EcP256).await.expect("gen");
    assert!(keys.delete_key("a").await.expect("delete"));
    assert!(!keys.delete_key("a").await.expect("delete"));
    assert_eq!(file_names(&dir), ["b.key"]);
    assert!(keys.get_key("a").await.expect("get").is_none());
    drop(keys);
    let keys = DiskKeyManager::open(&dir).expect("reopen");
    assert_eq!(keys.list_keys().await.expect("list").len(), 1);
}

#[tokio::test]
async fn generate_replaces_the_file_atomically() {
    let dir = scratch("replace");
    let keys = DiskKeyManager::open(&dir).expect("open");
    let first = keys.generate_key("k", KeyType::EcP256).await.expect("gen");
    let second = keys.generate_key("k", KeyType::EcP256).await.expect("gen");
    assert_ne!(first.public_key(), second.public_key());
    // Only the final file remains: no temporary files are left behind.
    assert_eq!(file_names(&dir), ["k.key"]);
    drop(keys);
    let keys = DiskKeyManager::open(&dir).expect("reopen");
    let got = keys.get_key("k").await.expect("get").expect("present");
    assert_eq!(got.public_key(), second.public_key());
}

#[tokio::test]
async fn crash_leftovers_are_cleaned_and_torn_files_reported() {
    let dir = scratch("crash");
    let original = {
        let keys = DiskKeyManager::open(&dir).expect("open");
        let k = keys.generate_key("k", KeyType::EcP256).await.expect("gen");
        k.public_key().clone()
    };
    // A crash during a rewrite of `k` leaves a half-written temporary file beside the intact
    // key file: the key survives and the temporary file is removed.
    let full = fs::read(dir.join("k.key")).expect("read");
    fs::write(dir.join(".tmp-k.0123456789abcdef"), &full[..full.len() / 2]).expect("write");
    let keys = DiskKeyManager::open(&dir).expect("reopen after crash");
    let got = keys.get_key("k").await.expect("get").expect("intact");
    assert_eq!(got.public_key(), &original);
    assert_eq!(file_names(&dir), ["k.key"]);
    drop(keys);

    // A torn key file (as a non-atomic writer could leave) is reported, not skipped and not
    // overwritten.
    fs::write(dir.join("k.key"), &full[..full.len() / 2]).expect("truncate");
    let err = DiskKeyManager::open(&dir).expect_err("torn file");
    match &err {
        KeyError::CorruptKeyFile { path, .. } => assert_eq!(path, &dir.join("k.key")),
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("k.key"), "{err}");
    assert_eq!(
        fs::read(dir.join("k.key")).expect("read"),
        &full[..full.len() / 2]
    );

    for (contents, what) in [
        (&b""[..], "empty"),
        (
            &br#"{"format":"spiffe-ca-key/1","id":"other","key_type":"ec-p256","pkcs8":"AA=="}"#[..],
            "wrong id",
        ),
        (
            &br#"{"format":"spiffe-ca-key/1","id":"k","key_type":"ec-p256","pkcs8":"AAAA"}"#[..],
            "bad key",
        ),
        (
            &br#"{"format":"spiffe-ca-key/9","id":"k","key_type":"ec-p256","pkcs8":"AAAA"}"#[..],
            "format",
        ),
    ] {
        fs::write(dir.join("k.key"), contents).expect("write");
        assert!(
            matches!(
                DiskKeyManager::open(&dir),
                Err(KeyError::CorruptKeyFile { .. })
            ),
            "{what}"
        );
    }

    // A key of one type relabelled as another is caught too.
    let p256 = String::from_utf8(full).expect("utf-8");
    fs::write(dir.join("k.key"), p256.replace("ec-p256", "ec-p384")).expect("write");
    assert!(matches!(
        DiskKeyManager::open(&dir),
        Err(KeyError::CorruptKeyFile { .. })
    ));
}

#[tokio::test]
async fn bad_ids_are_rejected() {
    let dir = scratch("ids");
    let keys = DiskKeyManager::open(&dir).expect("open");
    for bad in [
        "",
        ".",
        "..",
        "../escape",
        "/abs",
        "a/b",
        ".tmp-x",
        "nul\0",
        "ünï",
        &"x".repeat(129),
    ] {
        assert!(
            matches!(
                keys.generate_key(bad, KeyType::EcP256).await,
                Err(KeyError::InvalidKeyId { .. })
            ),
            "{bad:?} accepted"
        );
        assert!(keys.get_key(bad).await.is_err());
        assert!(keys.delete_key(bad).await.is_err());
    }
    assert!(file_names(&dir).is_empty());
    assert!(!dir.parent().expect("parent").join("escape.key").exists());
    keys.generate_key(&"x".repeat(128), KeyType::EcP256)
        .await
        .expect("128 characters are allowed");
}

#[tokio::test]
async fn debug_shows_no_key_material() {
    let dir = scratch("debug");
    let keys = DiskKeyManager::open(&dir).expect("open");
    let signer = keys.generate_key("k", KeyType::EcP256).await.expect("gen");
    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("k.key")).expect("read")).expect("JSON");
    let pkcs8 = json["pkcs8"].as_str().expect("pkcs8").to_owned();
    for debug in [
        format!("{keys:?}"),
        format!("{signer:?}"),
        format!("{keys:#?}"),
    ] {
        assert!(!debug.contains(&pkcs8[..16]), "{debug}");
        assert!(!debug.contains("pkcs8"), "{debug}");
    }
    assert!(format!("{keys:?}").contains("keys: 1"));
}

#[test]
fn insecure_directory_is_refused() {
    let dir = scratch("insecure");
    fs::create_dir_all(&dir).expect("mkdir");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod");
    assert!(matches!(
        DiskKeyManager::open(&dir),
        Err(KeyError::InsecurePermissions { mode: 0o755, .. })
    ));
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).expect("chmod");
    DiskKeyManager::open(&dir).expect("0700 is fine");

    let file = dir.join("not-a-dir");
    fs::write(&file, b"x").expect("write");
    assert!(matches!(
        DiskKeyManager::open(&file),
        Err(KeyError::Io { .. })
    ));
}

#[test]
fn disk_manager_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<DiskKeyManager>();
}

/// File I/O and key generation run on the blocking pool: on a single-threaded runtime another
/// task keeps running meanwhile (run in place, it would not run once).
#[tokio::test(flavor = "current_thread")]
async fn file_io_does_not_block_the_executor() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    let dir = scratch("blocking");
    let keys = DiskKeyManager::open(&dir).expect("open");
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
    keys.generate_key("rsa", KeyType::Rsa2048)
        .await
        .expect("generate");
    let after_generate = ticks.load(Ordering::Relaxed);
    assert!(
        after_generate > 0,
        "the executor was blocked during generate"
    );
    assert!(keys.delete_key("rsa").await.expect("delete"));
    assert!(
        ticks.load(Ordering::Relaxed) > after_generate,
        "the executor was blocked during delete"
    );
    ticker.abort();
    let _ = fs::remove_dir_all(&dir);
}
