//! Join tokens: stored hashed, consumed once, expiry, pruning, and the attestor's store.

use std::sync::Arc;

use spiffe_attest::node::attest_in_process;
use spiffe_attest::node::join_token::{JoinToken, JoinTokenAgent, JoinTokenServer};
use spiffe_server::datastore::{
    DataStore, DataStoreError, DataStoreJoinTokens, JoinTokenUse, Record,
};

use crate::both_backends;
use crate::harness::{self, at, td, Backend};

both_backends!(
    tokens_are_used_once,
    concurrent_uses_of_one_token,
    tokens_are_stored_hashed,
    attestor_on_the_datastore,
);

fn token(text: &str) -> JoinToken {
    JoinToken::new(text).expect("token")
}

async fn tokens_are_used_once(backend: Backend) {
    let t = harness::open(backend).await;
    let store = &t.store;
    let a = token("token-a");
    store.create_join_token(&a, at(1000)).await.expect("create");
    let error = store
        .create_join_token(&a, at(2000))
        .await
        .expect_err("duplicate");
    assert!(matches!(
        error,
        DataStoreError::AlreadyExists {
            record: Record::JoinToken,
            ..
        }
    ));
    assert_eq!(
        store
            .consume_join_token(&a, at(1000))
            .await
            .expect("consume"),
        JoinTokenUse::Valid {
            expires_at: at(1000)
        }
    );
    // A replay fails.
    assert_eq!(
        store.consume_join_token(&a, at(500)).await.expect("replay"),
        JoinTokenUse::Unknown
    );

    let b = token("token-b");
    store.create_join_token(&b, at(1000)).await.expect("create");
    assert_eq!(
        store
            .consume_join_token(&b, at(1001))
            .await
            .expect("consume"),
        JoinTokenUse::Expired {
            expires_at: at(1000)
        }
    );
    assert_eq!(
        store.consume_join_token(&b, at(10)).await.expect("consume"),
        JoinTokenUse::Unknown,
        "an expired token is gone too"
    );
    assert_eq!(
        store
            .consume_join_token(&token("never"), at(10))
            .await
            .expect("consume"),
        JoinTokenUse::Unknown
    );

    for (name, expiry) in [("old-1", 100), ("old-2", 199), ("fresh", 200)] {
        store
            .create_join_token(&token(name), at(expiry))
            .await
            .expect("create");
    }
    assert_eq!(store.prune_join_tokens(at(200)).await.expect("prune"), 2);
    assert_eq!(
        store
            .consume_join_token(&token("old-1"), at(0))
            .await
            .expect("consume"),
        JoinTokenUse::Unknown
    );
    assert_eq!(
        store
            .consume_join_token(&token("fresh"), at(0))
            .await
            .expect("consume"),
        JoinTokenUse::Valid {
            expires_at: at(200)
        }
    );
}

async fn concurrent_uses_of_one_token(backend: Backend) {
    let t = harness::open(backend).await;
    let store = t.dyn_store();
    for round in 0..5 {
        let tok = token(&format!("shared-{round}"));
        store
            .create_join_token(&tok, at(10_000))
            .await
            .expect("create");
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                let tok = tok.clone();
                tokio::spawn(async move { store.consume_join_token(&tok, at(1)).await })
            })
            .collect();
        let mut valid = 0;
        for task in tasks {
            match task.await.expect("task").expect("consume") {
                JoinTokenUse::Valid { .. } => valid += 1,
                JoinTokenUse::Unknown => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(valid, 1, "exactly one use succeeds");
    }
}

async fn tokens_are_stored_hashed(backend: Backend) {
    let t = harness::open(backend).await;
    let secret = "s3cr3t-join-token-value";
    t.store
        .create_join_token(&token(secret), at(1000))
        .await
        .expect("create");
    // Read the raw table: only the SHA-256 digest of the token is there.
    let rows: Vec<(Vec<u8>, i64)> = match backend {
        Backend::Sqlite => {
            let url = format!("sqlite://{}", t.settings.connection_string);
            let pool = sqlx::SqlitePool::connect(&url).await.expect("raw sqlite");
            sqlx::query_as("SELECT token_hash, expires_at FROM join_tokens")
                .fetch_all(&pool)
                .await
                .expect("rows")
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&t.settings.connection_string)
                .await
                .expect("raw postgres");
            sqlx::query_as("SELECT token_hash, expires_at FROM join_tokens")
                .fetch_all(&pool)
                .await
                .expect("rows")
        }
    };
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes());
    assert_eq!(rows, vec![(digest.as_ref().to_vec(), 1000)]);
    // Nor in the error text of a duplicate.
    let error = t
        .store
        .create_join_token(&token(secret), at(1000))
        .await
        .expect_err("duplicate");
    assert!(!format!("{error} {error:?}").contains(secret));
}

async fn attestor_on_the_datastore(backend: Backend) {
    let t = harness::open(backend).await;
    let tokens = Arc::new(DataStoreJoinTokens::new(t.dyn_store()));
    let attestor = JoinTokenServer::new(td("example.org"), tokens);
    let tok = attestor
        .create_token(std::time::Duration::from_secs(600))
        .await
        .expect("create token");
    let agent = JoinTokenAgent::new(tok.clone());
    let node = attest_in_process(&agent, &attestor).await.expect("attest");
    assert!(node.agent_id.as_str().ends_with(tok.expose()));
    assert!(
        attest_in_process(&agent, &attestor).await.is_err(),
        "a replayed join token fails"
    );
    // Another server on the same database sees the token as used.
    let other = t.reopen().await;
    assert_eq!(
        other
            .consume_join_token(&tok, at(0))
            .await
            .expect("consume"),
        JoinTokenUse::Unknown
    );
}
