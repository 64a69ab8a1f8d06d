//! join_token node attestation: one-time use, expiry, agent ID form, no token in errors.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use spiffe_attest::node::join_token::{
    InMemoryJoinTokenStore, JoinToken, JoinTokenAgent, JoinTokenError, JoinTokenServer,
    JoinTokenStore,
};
use spiffe_attest::node::{attest_in_process, NodeAttestorServer, ServerStep};
use spiffe_attest::AttestError;
use spiffe_core::pki_types::UnixTime;
use spiffe_core::TrustDomain;

fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

/// A server whose clock the test moves.
fn server(store: Arc<InMemoryJoinTokenStore>) -> (JoinTokenServer, Arc<AtomicU64>) {
    let now = Arc::new(AtomicU64::new(1_000_000));
    let clock = now.clone();
    let server = JoinTokenServer::new(TrustDomain::new("example.org").unwrap(), store)
        .with_clock(move || at(clock.load(Ordering::SeqCst)));
    (server, now)
}

fn source(err: AttestError) -> JoinTokenError {
    match err {
        AttestError::Plugin { plugin, source } => {
            assert_eq!(plugin, "join_token");
            source.downcast_ref::<JoinTokenError>().unwrap().clone()
        }
        other => panic!("expected a plugin error, got {other:?}"),
    }
}

#[tokio::test]
async fn attests_once_with_spire_agent_id() {
    let store = Arc::new(InMemoryJoinTokenStore::new());
    let (server, _) = server(store.clone());
    let token = server.create_token(Duration::from_secs(60)).await.unwrap();
    assert_eq!(store.len(), 1);

    let agent = JoinTokenAgent::new(token.clone());
    let node = attest_in_process(&agent, &server).await.unwrap();
    assert_eq!(
        node.agent_id.as_str(),
        format!(
            "spiffe://example.org/spire/agent/join_token/{}",
            token.expose()
        )
    );
    assert!(node.selectors.is_empty());
    assert!(!node.can_reattest);
    assert!(store.is_empty());

    let err = attest_in_process(&agent, &server).await.unwrap_err();
    assert_eq!(source(err), JoinTokenError::UnknownOrUsed);
}

#[tokio::test]
async fn operator_chosen_token_works() {
    let store = Arc::new(InMemoryJoinTokenStore::new());
    let (server, _) = server(store.clone());
    let token = JoinToken::new("my-node_1.token").unwrap();
    store.insert(&token, at(2_000_000)).await.unwrap();
    let node = attest_in_process(&JoinTokenAgent::new(token), &server)
        .await
        .unwrap();
    assert_eq!(
        node.agent_id.as_str(),
        "spiffe://example.org/spire/agent/join_token/my-node_1.token"
    );
}

#[tokio::test]
async fn expired_token_is_rejected_and_consumed() {
    let store = Arc::new(InMemoryJoinTokenStore::new());
    let (server, now) = server(store.clone());
    let token = server.create_token(Duration::from_secs(60)).await.unwrap();
    let agent = JoinTokenAgent::new(token);

    now.fetch_add(61, Ordering::SeqCst);
    let err = attest_in_process(&agent, &server).await.unwrap_err();
    assert_eq!(source(err), JoinTokenError::Expired);
    // Consumed all the same: a retry does not learn whether the token existed.
    let err = attest_in_process(&agent, &server).await.unwrap_err();
    assert_eq!(source(err), JoinTokenError::UnknownOrUsed);
}

#[tokio::test]
async fn token_valid_until_its_expiry_second() {
    let store = Arc::new(InMemoryJoinTokenStore::new());
    let (server, now) = server(store);
    let token = server.create_token(Duration::from_secs(60)).await.unwrap();
    now.fetch_add(60, Ordering::SeqCst);
    attest_in_process(&JoinTokenAgent::new(token), &server)
        .await
        .unwrap();
}

#[tokio::test]
async fn unknown_token_rejected_and_errors_never_contain_the_token() {
    let store = Arc::new(InMemoryJoinTokenStore::new());
    let (server, _) = server(store);
    let guess = JoinToken::new("c0ffee-guess-1234").unwrap();
    let err = attest_in_process(&JoinTokenAgent::new(guess.clone()), &server)
        .await
        .unwrap_err();
    let rendered = format!("{err} {err:?} {:?}", std::error::Error::source(&err));
    assert!(!rendered.contains(guess.expose()), "{rendered}");
    assert_eq!(source(err), JoinTokenError::UnknownOrUsed);
}

#[tokio::test]
async fn malformed_payloads_rejected() {
    let store = Arc::new(InMemoryJoinTokenStore::new());
    let (server, _) = server(store);
    let cases: [(&[u8], JoinTokenError); 4] = [
        (b"", JoinTokenError::Empty),
        (b"../x", JoinTokenError::Malformed),
        (b"tok\nen", JoinTokenError::Malformed),
        (&[b'a'; 257], JoinTokenError::TooLong { len: 257, max: 256 }),
    ];
    for (payload, expected) in cases {
        let err = server.begin().step(payload).await.unwrap_err();
        assert_eq!(source(err), expected);
    }
}

#[tokio::test]
async fn second_message_is_out_of_order() {
    let store = Arc::new(InMemoryJoinTokenStore::new());
    let (server, _) = server(store);
    let token = server.create_token(Duration::from_secs(60)).await.unwrap();
    let mut attempt = server.begin();
    assert!(matches!(
        attempt.step(token.expose().as_bytes()).await.unwrap(),
        ServerStep::Attested(_)
    ));
    assert!(matches!(
        attempt.step(b"again").await,
        Err(AttestError::OutOfOrder(_))
    ));
}

#[tokio::test]
async fn two_open_attempts_with_one_token_succeed_once() {
    let store = Arc::new(InMemoryJoinTokenStore::new());
    let (server, _) = server(store);
    let token = server.create_token(Duration::from_secs(60)).await.unwrap();
    let mut a = server.begin();
    let mut b = server.begin();
    let ra = a.step(token.expose().as_bytes()).await;
    let rb = b.step(token.expose().as_bytes()).await;
    assert_eq!(ra.is_ok() as u8 + rb.is_ok() as u8, 1);
}

#[test]
fn purge_drops_only_expired_tokens() {
    let store = InMemoryJoinTokenStore::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        store
            .insert(&JoinToken::new("old").unwrap(), at(10))
            .await
            .unwrap();
        store
            .insert(&JoinToken::new("new").unwrap(), at(30))
            .await
            .unwrap();
    });
    assert_eq!(store.purge_expired(at(20)), 1);
    assert_eq!(store.len(), 1);
}
