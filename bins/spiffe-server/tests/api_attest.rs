//! `Agent.AttestAgent`, `Agent.RenewAgent` and `Agent.PostStatus` through a real tonic client,
//! behind the authorization layer: join_token and x509pop attestation over the stream, every
//! bad first message, limits, banned and already-attested agents, renewal and promotion.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod api_support;

use std::sync::Arc;
use std::time::Duration;

use api_support::*;
use spiffe_attest::node::join_token::JoinTokenAgent;
use spiffe_attest::node::x509pop::{X509PopAgent, X509PopServer};
use spiffe_attest::node::{
    AttestedNode as Attested, NodeAttestorAgent, NodeAttestorServer, ServerAttestation, ServerStep,
};
use spiffe_attest::{AttestError, Selector};
use spiffe_ca::keys::{KeyType, Signer, SoftwareSigner};
use spiffe_ca::x509::{X509SvidIssuer, X509SvidRequest};
use spiffe_core::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use spiffe_core::BoxFuture;
use spiffe_core::{Certificate, SpiffeId, TrustDomain};
use spiffe_server::context::ServerContext;
use spiffe_server::testing;
use spire_api_proto::server::agent::v1::agent_client::AgentClient;
use spire_api_proto::server::agent::v1::attest_agent_request::{Params, Step as RequestStep};
use spire_api_proto::server::agent::v1::attest_agent_response::Step as ResponseStep;
use spire_api_proto::server::agent::v1::{
    AgentX509svidParams, AttestAgentRequest, PostStatusRequest, RenewAgentRequest,
};
use spire_api_proto::types::AttestationData;
use tonic::Code;

// === join_token ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_token_attestation_issues_the_agent_svid_and_records_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    let token = join_token(&ctx).await;
    let channel = testing::serve_as(ctx.clone(), dir.path(), unauthenticated()).await;

    let result = attest(channel, &JoinTokenAgent::new(token.clone()), csr())
        .await
        .expect("attested");

    let agent_id = format!(
        "spiffe://example.org/spire/agent/join_token/{}",
        token.expose()
    );
    assert!(!result.reattestable);
    let svid = result.svid.expect("svid");
    assert_eq!(
        svid.id.as_ref().map(|i| i.path.as_str()),
        agent_id.strip_prefix("spiffe://example.org")
    );
    let leaf = leaf(&svid.cert_chain);
    assert_eq!(leaf.spiffe_id().unwrap(), Some(id(&agent_id)));
    assert_eq!(svid.expires_at as u64, leaf.not_after().as_secs());
    // The default agent TTL (default_x509_svid_ttl, 1 h).
    let ttl = leaf.not_after().as_secs() - UnixTime::now().as_secs();
    assert!((3500..=3600).contains(&ttl), "{ttl}");

    let node = ctx
        .datastore
        .get_node(&id(&agent_id))
        .await
        .unwrap()
        .expect("node");
    assert_eq!(node.attestation_type, "join_token");
    assert_eq!(
        node.cert_serial_number.as_deref(),
        Some(&*leaf.serial_decimal())
    );
    assert_eq!(node.cert_not_after, Some(leaf.not_after()));
    assert!(!node.can_reattest && !node.banned);
    assert!(node.selectors.is_empty());
    assert!(ctx.cache.node(&id(&agent_id)).is_some(), "cache refreshed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_join_token_fails() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    let token = join_token(&ctx).await;
    let channel = testing::serve_as(ctx.clone(), dir.path(), unauthenticated()).await;
    let agent = JoinTokenAgent::new(token);
    attest(channel.clone(), &agent, csr())
        .await
        .expect("first use");
    let err = attest(channel, &agent, csr()).await.expect_err("replay");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        err.message(),
        "failed to attest: join token does not exist or has already been used"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_or_unknown_join_token_fails_and_is_consumed() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    let token = spiffe_attest::node::join_token::JoinToken::generate().unwrap();
    ctx.datastore
        .create_join_token(&token, in_secs(-10))
        .await
        .unwrap();
    let channel = testing::serve_as(ctx.clone(), dir.path(), unauthenticated()).await;
    let agent = JoinTokenAgent::new(token);
    let err = attest(channel.clone(), &agent, csr())
        .await
        .expect_err("expired");
    assert_eq!(
        (err.code(), err.message()),
        (Code::InvalidArgument, "join token expired")
    );
    let err = attest(channel.clone(), &agent, csr())
        .await
        .expect_err("gone");
    assert!(err
        .message()
        .contains("does not exist or has already been used"));
    let unknown =
        JoinTokenAgent::new(spiffe_attest::node::join_token::JoinToken::generate().unwrap());
    let err = attest(channel, &unknown, csr()).await.expect_err("unknown");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(ctx.cache.node_count(), 0);
}

/// A first message with these parts.
fn first(data: Option<(&str, Vec<u8>)>, csr: Option<Vec<u8>>) -> AttestAgentRequest {
    AttestAgentRequest {
        step: Some(RequestStep::Params(Params {
            data: data.map(|(r#type, payload)| AttestationData {
                r#type: r#type.into(),
                payload,
            }),
            params: csr.map(|csr| AgentX509svidParams { csr }),
        })),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_first_messages_get_spires_errors_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    let token = join_token(&ctx).await;
    let channel = testing::serve_as(ctx.clone(), dir.path(), unauthenticated()).await;
    let payload = token.expose().as_bytes().to_vec();
    let data = |r#type: &'static str| Some((r#type, payload.clone()));
    let cases: Vec<(AttestAgentRequest, Code, &str)> = vec![
        (
            AttestAgentRequest {
                step: Some(RequestStep::ChallengeResponse(vec![1])),
            },
            Code::InvalidArgument,
            "malformed param: missing params",
        ),
        (
            AttestAgentRequest { step: None },
            Code::InvalidArgument,
            "malformed param: missing params",
        ),
        (
            first(None, Some(csr())),
            Code::InvalidArgument,
            "malformed param: missing attestation data",
        ),
        (
            first(data("join_token"), None),
            Code::InvalidArgument,
            "malformed param: missing X509-SVID parameters",
        ),
        (
            first(data("join_token"), Some(Vec::new())),
            Code::InvalidArgument,
            "malformed param: missing CSR",
        ),
        (
            first(data(""), Some(csr())),
            Code::InvalidArgument,
            "malformed param: missing attestation data type",
        ),
        (
            first(Some(("join_token", Vec::new())), Some(csr())),
            Code::InvalidArgument,
            "malformed param: missing attestation data payload",
        ),
        (
            first(Some(("join_token", vec![b'a'; 64 * 1024 + 1])), Some(csr())),
            Code::InvalidArgument,
            "malformed param: attestation data payload is 65537 bytes, the limit is 65536",
        ),
        (
            first(data("aws_iid"), Some(csr())),
            Code::FailedPrecondition,
            "error getting node attestor: could not find node attestor type \"aws_iid\"",
        ),
        (
            first(data("join_token"), Some(b"not a csr".to_vec())),
            Code::InvalidArgument,
            "failed to parse CSR: malformed certificate request",
        ),
        (
            first(data("join_token"), Some(bad_signature_csr())),
            Code::InvalidArgument,
            "failed to parse CSR: certificate request signature does not verify",
        ),
    ];
    for (message, code, text) in cases {
        let err = attest_raw(channel.clone(), message).await.expect_err(text);
        assert_eq!(err.code(), code, "{text}: {err:?}");
        assert!(err.message().starts_with(text), "{text}: {err:?}");
    }
    // None of them consumed the token: it still attests.
    assert_eq!(ctx.cache.node_count(), 0);
    attest(channel, &JoinTokenAgent::new(token), csr())
        .await
        .expect("the token is still usable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_closed_before_its_first_message_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    let channel = testing::serve_as(ctx, dir.path(), unauthenticated()).await;
    let err = AgentClient::new(channel)
        .attest_agent(tokio_stream::iter(Vec::<AttestAgentRequest>::new()))
        .await
        .expect_err("refused");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(err.message(), "failed to receive request from stream: EOF");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_id_already_attested_by_one_time_evidence_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    let token = join_token(&ctx).await;
    let agent_id = format!(
        "spiffe://example.org/spire/agent/join_token/{}",
        token.expose()
    );
    attested_agent(&ctx, &agent_id, "7", &[]).await;
    let channel = testing::serve_as(ctx.clone(), dir.path(), unauthenticated()).await;
    let err = attest(channel, &JoinTokenAgent::new(token), csr())
        .await
        .expect_err("refused");
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(
        err.message(),
        "attestation data has already been used to attest an agent"
    );
    let node = ctx
        .datastore
        .get_node(&id(&agent_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(node.cert_serial_number.as_deref(), Some("7"), "unchanged");
}

// === x509pop, challenge and response ===

/// A CA made with spiffe-ca and an x509pop agent whose certificate it signed.
struct X509Pop {
    ca: Certificate,
    agent: X509PopAgent,
    leaf: Certificate,
}

fn x509pop() -> X509Pop {
    let td = TrustDomain::new("nodes.test").unwrap();
    let now = UnixTime::now();
    let ca_key: Arc<dyn Signer> =
        Arc::new(SoftwareSigner::generate("node-ca", KeyType::EcP256).unwrap());
    let ca = X509SvidIssuer::self_signed(&td, ca_key, now, in_secs(3600)).unwrap();
    let node_key = SoftwareSigner::generate("node", KeyType::EcP256).unwrap();
    let request = X509SvidRequest::new(
        SpiffeId::new("spiffe://nodes.test/node-1").unwrap(),
        node_key.public_key(),
        Duration::from_secs(600),
    );
    let minted = ca.mint(&request, now).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(node_key.to_pkcs8().unwrap()));
    let leaf_der: CertificateDer<'static> = minted.leaf().clone();
    X509Pop {
        ca: ca.certificate().clone(),
        agent: X509PopAgent::new(minted.into_chain(), &key).unwrap(),
        leaf: Certificate::from_der(leaf_der).unwrap(),
    }
}

async fn x509pop_context(dir: &std::path::Path, pop: &X509Pop) -> Arc<ServerContext> {
    let mut ctx = context(dir).await;
    let attestor =
        X509PopServer::new(ctx.settings.trust_domain.clone(), vec![pop.ca.clone()]).unwrap();
    ctx.node_attestors
        .insert("x509pop".into(), Arc::new(attestor));
    Arc::new(ctx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x509pop_attests_over_a_challenge_and_can_reattest() {
    let dir = tempfile::tempdir().unwrap();
    let pop = x509pop();
    let ctx = x509pop_context(dir.path(), &pop).await;
    let channel = testing::serve_as(ctx.clone(), dir.path(), unauthenticated()).await;

    let first = attest(channel.clone(), &pop.agent, csr())
        .await
        .expect("attested");
    assert!(first.reattestable);
    let svid = first.svid.unwrap();
    let agent_id = leaf(&svid.cert_chain).spiffe_id().unwrap().unwrap();
    assert!(
        agent_id.path().starts_with("/spire/agent/x509pop/"),
        "{agent_id}"
    );
    let node = ctx.datastore.get_node(&agent_id).await.unwrap().unwrap();
    assert_eq!(node.attestation_type, "x509pop");
    assert!(node.can_reattest);
    let serial = pop.leaf.serial_hex();
    let expected: Vec<Selector> = vec![
        Selector::new(
            "x509pop",
            &format!("ca:fingerprint:{}", sha1_hex(pop.ca.der())),
        )
        .unwrap(),
        Selector::new(
            "x509pop",
            &format!("serialnumber:{}", serial.trim_start_matches('0')),
        )
        .unwrap(),
    ];
    let mut recorded = node.selectors.clone();
    recorded.sort();
    let mut expected_sorted = expected;
    expected_sorted.sort();
    assert_eq!(recorded, expected_sorted);

    // Re-attestation: a new SVID, recorded as the current one.
    let second = attest(channel, &pop.agent, csr())
        .await
        .expect("re-attested");
    let second_leaf = leaf(&second.svid.unwrap().cert_chain);
    let node = ctx.datastore.get_node(&agent_id).await.unwrap().unwrap();
    assert_eq!(
        node.cert_serial_number.as_deref(),
        Some(&*second_leaf.serial_decimal())
    );
    assert_eq!(ctx.cache.node_count(), 1);
}

fn sha1_hex(der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_banned_agent_cannot_attest_again() {
    let dir = tempfile::tempdir().unwrap();
    let pop = x509pop();
    let ctx = x509pop_context(dir.path(), &pop).await;
    let channel = testing::serve_as(ctx.clone(), dir.path(), unauthenticated()).await;
    let result = attest(channel.clone(), &pop.agent, csr())
        .await
        .expect("attested");
    let agent_id = leaf(&result.svid.unwrap().cert_chain)
        .spiffe_id()
        .unwrap()
        .unwrap();
    ctx.datastore.ban_node(&agent_id).await.unwrap();
    let err = attest(channel, &pop.agent, csr())
        .await
        .expect_err("banned");
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(err.message(), "failed to attest: agent is banned");
    let node = ctx.datastore.get_node(&agent_id).await.unwrap().unwrap();
    assert!(
        node.banned && node.cert_serial_number.is_none(),
        "still banned"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_challenge_response_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let pop = x509pop();
    let ctx = x509pop_context(dir.path(), &pop).await;
    let channel = testing::serve_as(ctx.clone(), dir.path(), unauthenticated()).await;
    let payload = pop.agent.begin().unwrap().payload().unwrap();
    let first = || params("x509pop", payload.clone(), csr());
    let err = answer_once(channel.clone(), first(), |_| b"{}".to_vec())
        .await
        .expect_err("refused");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let err = answer_once(channel.clone(), first(), |_| vec![b' '; 64 * 1024 + 1])
        .await
        .expect_err("refused");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(
        err.message().contains("challenge response is 65537 bytes"),
        "{err:?}"
    );
    // A proper answer to another nonce: the signature does not verify for this one.
    let agent = &pop.agent;
    let err = answer_once(channel, first(), |challenge| {
        let mut other = String::from_utf8(challenge.to_vec()).unwrap();
        let at = other.find("\"nonce\":\"").unwrap() + 9;
        let replaced = if other.as_bytes()[at] == b'A' {
            "B"
        } else {
            "A"
        };
        other.replace_range(at..at + 1, replaced);
        let mut attempt = agent.begin().unwrap();
        attempt.payload().unwrap();
        attempt.respond(other.as_bytes()).unwrap()
    })
    .await
    .expect_err("refused");
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(
        err.message().starts_with("nodeattestor(x509pop): "),
        "{err:?}"
    );
    assert_eq!(ctx.cache.node_count(), 0);
}

/// Sends `first`, waits for a challenge, answers what `respond` makes of it, returns the
/// outcome.
async fn answer_once(
    channel: tonic::transport::Channel,
    first: AttestAgentRequest,
    respond: impl FnOnce(&[u8]) -> Vec<u8>,
) -> Result<(), tonic::Status> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(first).await.unwrap();
    let mut responses = AgentClient::new(channel)
        .attest_agent(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await?
        .into_inner();
    let challenge = match responses.message().await?.and_then(|m| m.step) {
        Some(ResponseStep::Challenge(challenge)) => challenge,
        other => panic!("expected a challenge, got {other:?}"),
    };
    tx.send(AttestAgentRequest {
        step: Some(RequestStep::ChallengeResponse(respond(&challenge))),
    })
    .await
    .unwrap();
    match responses.message().await?.and_then(|m| m.step) {
        Some(ResponseStep::Result(_)) => Ok(()),
        other => panic!("expected an error, got {other:?}"),
    }
}

// === limits, with attestors written for the test ===

/// An attestor that challenges forever, or attests whatever ID it was given.
struct Scripted {
    outcome: Option<&'static str>,
    challenge_len: usize,
}

impl NodeAttestorServer for Scripted {
    fn name(&self) -> &'static str {
        "scripted"
    }

    fn begin(&self) -> Box<dyn ServerAttestation> {
        Box::new(ScriptedAttempt {
            outcome: self.outcome,
            challenge_len: self.challenge_len,
        })
    }
}

struct ScriptedAttempt {
    outcome: Option<&'static str>,
    challenge_len: usize,
}

impl ServerAttestation for ScriptedAttempt {
    fn step<'a>(&'a mut self, _: &'a [u8]) -> BoxFuture<'a, Result<ServerStep, AttestError>> {
        Box::pin(async move {
            Ok(match self.outcome {
                Some(agent_id) => ServerStep::Attested(
                    Attested::new(SpiffeId::new(agent_id).unwrap(), Vec::new()).reattestable(),
                ),
                None => ServerStep::Challenge(vec![1; self.challenge_len]),
            })
        })
    }
}

async fn scripted(dir: &std::path::Path, attestor: Scripted) -> tonic::transport::Channel {
    let mut ctx = context(dir).await;
    ctx.node_attestors
        .insert("scripted".into(), Arc::new(attestor));
    testing::serve_as(Arc::new(ctx), dir, unauthenticated()).await
}

/// Answers every challenge with one byte.
async fn answer_all(channel: tonic::transport::Channel) -> Result<usize, tonic::Status> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(params("scripted", vec![1], csr())).await.unwrap();
    let mut responses = AgentClient::new(channel)
        .attest_agent(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await?
        .into_inner();
    let mut rounds = 0;
    loop {
        match responses.message().await?.and_then(|m| m.step) {
            Some(ResponseStep::Challenge(_)) => {
                rounds += 1;
                tx.send(AttestAgentRequest {
                    step: Some(RequestStep::ChallengeResponse(vec![1])),
                })
                .await
                .unwrap();
            }
            Some(ResponseStep::Result(_)) => return Ok(rounds),
            None => panic!("ended without a result"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn challenge_rounds_and_sizes_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let channel = scripted(
        dir.path(),
        Scripted {
            outcome: None,
            challenge_len: 8,
        },
    )
    .await;
    let err = answer_all(channel).await.expect_err("refused");
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(
        err.message(),
        "nodeattestor(scripted): more than 8 challenge rounds"
    );

    let dir = tempfile::tempdir().unwrap();
    let channel = scripted(
        dir.path(),
        Scripted {
            outcome: None,
            challenge_len: 64 * 1024 + 1,
        },
    )
    .await;
    let err = answer_all(channel).await.expect_err("refused");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("challenge is 65537 bytes"),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attested_id_outside_the_agent_namespace_of_the_trust_domain_is_refused() {
    for (agent_id, text) in [
        ("spiffe://other.org/spire/agent/x", "invalid agent ID"),
        (
            "spiffe://example.org/spire/server",
            "agent ID cannot collide with the server ID",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let channel = scripted(
            dir.path(),
            Scripted {
                outcome: Some(agent_id),
                challenge_len: 0,
            },
        )
        .await;
        let err = answer_all(channel).await.expect_err("refused");
        assert_eq!(err.code(), Code::Internal, "{agent_id}");
        assert!(err.message().starts_with(text), "{err:?}");
    }
}

/// The clock is paused once the agent holds its challenge: the server's 30 s deadline then
/// passes as soon as everything waits.
#[tokio::test]
async fn an_agent_that_never_answers_its_challenge_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let channel = scripted(
        dir.path(),
        Scripted {
            outcome: None,
            challenge_len: 8,
        },
    )
    .await;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(params("scripted", vec![1], csr())).await.unwrap();
    let mut responses = AgentClient::new(channel)
        .attest_agent(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(
        responses.message().await.unwrap().and_then(|m| m.step),
        Some(ResponseStep::Challenge(_))
    ));
    tokio::time::pause();
    let started = tokio::time::Instant::now();
    let err = responses.message().await.expect_err("deadline");
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    assert_eq!(err.message(), "attestation did not complete within 30s");
    assert!(
        started.elapsed() >= Duration::from_secs(29),
        "{:?}",
        started.elapsed()
    );
    drop(tx);
}

// === RenewAgent, PostStatus ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_records_the_new_serial_and_first_use_promotes_it() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    let agent_id = "spiffe://example.org/spire/agent/join_token/renewing";
    attested_agent(&ctx, agent_id, "1001", &[]).await;
    let channel = testing::serve_as(ctx.clone(), dir.path(), tls(agent_id, "1001")).await;

    let svid = AgentClient::new(channel.clone())
        .renew_agent(RenewAgentRequest {
            params: Some(AgentX509svidParams { csr: csr() }),
        })
        .await
        .expect("renewed")
        .into_inner()
        .svid
        .unwrap();
    let renewed = leaf(&svid.cert_chain);
    assert_eq!(renewed.spiffe_id().unwrap(), Some(id(agent_id)));
    let new_serial = renewed.serial_decimal();
    let node = ctx
        .datastore
        .get_node(&id(agent_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        node.cert_serial_number.as_deref(),
        Some("1001"),
        "still current"
    );
    assert_eq!(node.new_cert_serial_number.as_deref(), Some(&*new_serial));
    assert_eq!(node.new_cert_not_after, Some(renewed.not_after()));

    // The old SVID still works until the new one is used.
    AgentClient::new(channel)
        .post_status(PostStatusRequest::default())
        .await
        .expect("old serial accepted");
    let with_new = testing::serve_as(ctx.clone(), dir.path(), tls(agent_id, &new_serial)).await;
    AgentClient::new(with_new)
        .post_status(PostStatusRequest::default())
        .await
        .expect("new serial accepted");
    let node = ctx
        .datastore
        .get_node(&id(agent_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        node.cert_serial_number.as_deref(),
        Some(&*new_serial),
        "promoted"
    );
    assert_eq!(node.new_cert_serial_number, None);
    let with_old = testing::serve_as(ctx, dir.path(), tls(agent_id, "1001")).await;
    let err = AgentClient::new(with_old)
        .post_status(PostStatusRequest::default())
        .await
        .expect_err("old serial retired");
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_bad_inputs_and_reattestable_agents() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    let agent_id = "spiffe://example.org/spire/agent/join_token/bad-inputs";
    attested_agent(&ctx, agent_id, "5", &[]).await;
    let mut client =
        AgentClient::new(testing::serve_as(ctx.clone(), dir.path(), tls(agent_id, "5")).await);
    for (request, text) in [
        (RenewAgentRequest { params: None }, "params cannot be nil"),
        (
            RenewAgentRequest {
                params: Some(AgentX509svidParams { csr: Vec::new() }),
            },
            "missing CSR",
        ),
        (
            RenewAgentRequest {
                params: Some(AgentX509svidParams { csr: vec![0x30, 0] }),
            },
            "failed to parse CSR: malformed certificate request",
        ),
        (
            RenewAgentRequest {
                params: Some(AgentX509svidParams {
                    csr: bad_signature_csr(),
                }),
            },
            "failed to parse CSR: certificate request signature does not verify",
        ),
    ] {
        let err = client.renew_agent(request).await.expect_err(text);
        assert_eq!(err.code(), Code::InvalidArgument, "{text}");
        assert!(err.message().starts_with(text), "{err:?}");
    }
    let node = ctx
        .datastore
        .get_node(&id(agent_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(node.new_cert_serial_number, None, "nothing stored");

    // An agent that can re-attest must.
    let reattestable = "spiffe://example.org/spire/agent/x509pop/abc";
    let mut node = spiffe_server::datastore::AttestedNode::new(id(reattestable), "x509pop");
    node.cert_serial_number = Some("9".into());
    node.can_reattest = true;
    ctx.datastore.create_node(node).await.unwrap();
    ctx.cache.refresh().await.unwrap();
    let err = AgentClient::new(testing::serve_as(ctx, dir.path(), tls(reattestable, "9")).await)
        .renew_agent(RenewAgentRequest {
            params: Some(AgentX509svidParams { csr: csr() }),
        })
        .await
        .expect_err("must re-attest");
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(err.message(), "agent must reattest instead of renew");
    assert!(
        !err.details().is_empty(),
        "PermissionDeniedDetails attached"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_status_checks_the_version_length() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    let agent_id = "spiffe://example.org/spire/agent/join_token/status";
    attested_agent(&ctx, agent_id, "3", &[]).await;
    let mut client = AgentClient::new(testing::serve_as(ctx, dir.path(), tls(agent_id, "3")).await);
    client
        .post_status(PostStatusRequest {
            current_bundle_serial: 1,
            agent_version: "1.12.0".into(),
        })
        .await
        .expect("accepted");
    let err = client
        .post_status(PostStatusRequest {
            current_bundle_serial: 1,
            agent_version: "v".repeat(256),
        })
        .await
        .expect_err("too long");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        err.message(),
        "agent version is too long (max 255 characters)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_agents_renew_and_post_status() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    for caller in [
        unauthenticated(),
        local(),
        tls("spiffe://example.org/workload", "1"),
        tls("spiffe://example.org/spire/agent/join_token/unknown", "1"),
    ] {
        let mut client =
            AgentClient::new(testing::serve_as(ctx.clone(), dir.path(), caller.clone()).await);
        let err = client
            .renew_agent(RenewAgentRequest {
                params: Some(AgentX509svidParams { csr: csr() }),
            })
            .await
            .expect_err("refused");
        assert_eq!(err.code(), Code::PermissionDenied, "{caller}");
        let err = client
            .post_status(PostStatusRequest::default())
            .await
            .expect_err("refused");
        assert_eq!(err.code(), Code::PermissionDenied, "{caller}");
    }
}
