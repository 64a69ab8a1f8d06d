//! The `file` key source: a SPIFFE bundle document on disk, re-read at every poll; only its
//! `jwt-svid` keys are served, and a file that stops parsing leaves the last keys in service.
#![allow(clippy::unwrap_used)]

mod common;

use common::{ec_jwk, eventually, free_port, get, kids, ProviderProcess};

fn bundle_document(jwt_keys: &[serde_json::Value]) -> String {
    let keys: Vec<serde_json::Value> = jwt_keys
        .iter()
        .map(|k| {
            let mut k = k.clone();
            k["use"] = "jwt-svid".into();
            k
        })
        .chain(std::iter::once(serde_json::json!({
            // Someone else's key type is ignored (BUNDLE-8), never served.
            "use": "wit-svid", "kty": "EC", "kid": "not-a-jwt-key"
        })))
        .collect();
    serde_json::json!({ "keys": keys, "spiffe_sequence": 1 }).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_source_follows_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bundle.json");
    std::fs::write(&path, bundle_document(&[ec_jwk("one")])).unwrap();
    let port = free_port();
    let _provider = ProviderProcess::start(
        dir.path(),
        &format!(
            "domains = [\"localhost\"]\ninsecure_addr = \"127.0.0.1:{port}\"\nfile {{\n    path = \"{}\"\n    poll_interval = \"200ms\"\n}}\n",
            path.display()
        ),
    );
    eventually("the file's key", || async {
        let reply = get(port, "localhost", "/keys").await;
        (reply.status == 200 && kids(&reply.json()) == ["one"]).then_some(())
    })
    .await;

    std::fs::write(&path, bundle_document(&[ec_jwk("one"), ec_jwk("two")])).unwrap();
    eventually("both keys", || async {
        (kids(&get(port, "localhost", "/keys").await.json()) == ["one", "two"]).then_some(())
    })
    .await;

    // A broken file: logged, and the keys stay.
    std::fs::write(&path, "{ not json").unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(
        kids(&get(port, "localhost", "/keys").await.json()),
        ["one", "two"]
    );
}
