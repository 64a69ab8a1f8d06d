//! Shared by the API tests: callers, CSRs, agents and entries in the datastore, the CA's bundle
//! published, and node attestation driven over the `AttestAgent` stream.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use spiffe_attest::node::join_token::{JoinToken, JoinTokenServer};
use spiffe_attest::node::NodeAttestorAgent;
use spiffe_attest::{EntryId, RegistrationEntry, Selector};
use spiffe_core::pki_types::UnixTime;
use spiffe_core::{Certificate, SpiffeId};
use spiffe_server::caller::Caller;
use spiffe_server::context::ServerContext;
use spiffe_server::datastore::{
    new_entry_id, AttestedNode, Bundle, DataStoreJoinTokens, JwtAuthority, X509Authority,
};
use spiffe_server::testing;
use spire_api_proto::server::agent::v1::agent_client::AgentClient;
use spire_api_proto::server::agent::v1::attest_agent_request::{Params, Step as RequestStep};
use spire_api_proto::server::agent::v1::attest_agent_response::{
    Result as AttestResult, Step as ResponseStep,
};
use spire_api_proto::server::agent::v1::{AgentX509svidParams, AttestAgentRequest};
use spire_api_proto::types::AttestationData;
use tonic::transport::Channel;
use tonic::Status;

/// A context with the join_token attestor on the datastore's tokens; `edit` adds more.
pub(crate) async fn context(dir: &Path) -> ServerContext {
    let mut ctx = testing::context(dir).await;
    let tokens = Arc::new(DataStoreJoinTokens::new(ctx.datastore.clone()));
    ctx.node_attestors.insert(
        "join_token".into(),
        Arc::new(JoinTokenServer::new(
            ctx.settings.trust_domain.clone(),
            tokens,
        )),
    );
    ctx
}

/// [`context`] on a new database in the PostgreSQL cluster named by `SPIFFE_TEST_POSTGRES_URL`
/// (as the datastore tests: `export SPIFFE_TEST_POSTGRES_URL=$(scripts/postgres.sh start)`);
/// `dir` holds the test's sockets.
pub(crate) async fn postgres_context(_dir: &Path) -> ServerContext {
    use sqlx::Connection;
    const VAR: &str = "SPIFFE_TEST_POSTGRES_URL";
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let admin = std::env::var(VAR).unwrap_or_else(|_| {
        panic!(
            "{VAR} is not set: the PostgreSQL tests need a running cluster. Start one with \
             `export {VAR}=$(scripts/postgres.sh start)` (scripts/test.sh does this), or run \
             the SQLite tests only with `-E 'not test(postgres)'`"
        )
    });
    let name = format!(
        "api_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        UnixTime::now().as_secs() % 100_000
    );
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let _ = conn.close().await;
    let (base, _) = admin.rsplit_once('/').expect("URL with a database path");
    let settings = spiffe_server::datastore::SqlSettings::postgres(format!("{base}/{name}"));
    let mut ctx = testing::context_on(
        &settings,
        spiffe_server::config::ServerSettings::new(testing::td("example.org")),
    )
    .await;
    let tokens = Arc::new(DataStoreJoinTokens::new(ctx.datastore.clone()));
    ctx.node_attestors.insert(
        "join_token".into(),
        Arc::new(JoinTokenServer::new(
            ctx.settings.trust_domain.clone(),
            tokens,
        )),
    );
    ctx
}

/// A join token stored for 10 minutes.
pub(crate) async fn join_token(ctx: &ServerContext) -> JoinToken {
    let token = JoinToken::generate().unwrap();
    let expires = in_secs(600);
    ctx.datastore
        .create_join_token(&token, expires)
        .await
        .unwrap();
    token
}

/// Now plus (or minus) `secs` seconds.
pub(crate) fn in_secs(secs: i64) -> UnixTime {
    let now = UnixTime::now().as_secs();
    UnixTime::since_unix_epoch(Duration::from_secs(now.saturating_add_signed(secs)))
}

pub(crate) fn id(text: &str) -> SpiffeId {
    SpiffeId::new(text).unwrap()
}

pub(crate) fn local() -> Caller {
    Caller::Local {
        pid: Some(1),
        uid: 0,
        gid: 0,
    }
}

/// A TLS peer without a client certificate.
pub(crate) fn unauthenticated() -> Caller {
    Caller::Tls {
        addr: "127.0.0.1:40000".parse().unwrap(),
        spiffe_id: None,
        serial: None,
        not_after: None,
    }
}

/// A TLS peer presenting a certificate of `spiffe_id` with `serial`.
pub(crate) fn tls(spiffe_id: &str, serial: &str) -> Caller {
    Caller::Tls {
        addr: "127.0.0.1:40000".parse().unwrap(),
        spiffe_id: Some(id(spiffe_id)),
        serial: Some(serial.into()),
        not_after: None,
    }
}

/// A PKCS#10 request for a fresh P-256 key, asking for `uris` and `dns` names.
pub(crate) fn csr_with(uris: &[&str], dns: &[&str]) -> Vec<u8> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params =
        rcgen::CertificateParams::new(dns.iter().map(|d| (*d).to_owned()).collect::<Vec<_>>())
            .unwrap();
    for uri in uris {
        params
            .subject_alt_names
            .push(rcgen::SanType::URI((*uri).try_into().unwrap()));
    }
    params.serialize_request(&key).unwrap().der().to_vec()
}

/// A PKCS#10 request with no names.
pub(crate) fn csr() -> Vec<u8> {
    csr_with(&[], &[])
}

/// `csr()` with one bit of its signature flipped.
pub(crate) fn bad_signature_csr() -> Vec<u8> {
    let mut der = csr();
    let last = der.len() - 1;
    der[last] ^= 1;
    der
}

/// An attested agent record with `serial` as its current certificate; the cache refreshed.
pub(crate) async fn attested_agent(
    ctx: &ServerContext,
    agent_id: &str,
    serial: &str,
    selectors: &[&str],
) -> AttestedNode {
    let mut node = AttestedNode::new(id(agent_id), "join_token");
    node.cert_serial_number = Some(serial.into());
    node.cert_not_after = Some(in_secs(3600));
    node.selectors = selectors
        .iter()
        .map(|s| Selector::parse(s).unwrap())
        .collect();
    let node = ctx.datastore.create_node(node).await.unwrap();
    ctx.cache.refresh().await.unwrap();
    node
}

/// Stores an entry (written straight to the datastore, as the Entry service would after its
/// checks); the cache refreshed.
pub(crate) async fn entry(
    ctx: &ServerContext,
    parent: &str,
    spiffe_id: &str,
    edit: impl FnOnce(
        spiffe_attest::entry::RegistrationEntryBuilder,
    ) -> spiffe_attest::entry::RegistrationEntryBuilder,
) -> RegistrationEntry {
    let builder = RegistrationEntry::builder(new_entry_id().unwrap(), id(spiffe_id), id(parent))
        .selector(Selector::parse("unix:uid:1000").unwrap());
    let entry = edit(builder).build().unwrap();
    let mut created = ctx.datastore.create_entries(vec![entry]).await.unwrap();
    let entry = created.remove(0).unwrap();
    ctx.cache.refresh().await.unwrap();
    entry
}

pub(crate) fn entry_id(text: &str) -> EntryId {
    EntryId::new(text).unwrap()
}

/// Stores the CA's bundle as the trust domain's (what the runtime publishes at start).
pub(crate) async fn publish_bundle(ctx: &ServerContext) -> Bundle {
    let ca_bundle = ctx.ca.bundle();
    let mut bundle = Bundle::new(ctx.settings.trust_domain.clone());
    for certificate in ca_bundle.x509_authorities().authorities() {
        bundle
            .x509_authorities
            .push(X509Authority::new(certificate.der().to_vec()));
    }
    for key in ca_bundle.jwt_authorities().authorities() {
        let message =
            spire_api_proto::convert::jwt_authority_to_proto(key, Default::default()).unwrap();
        bundle
            .jwt_authorities
            .push(JwtAuthority::new(message.key_id, message.public_key, None));
    }
    ctx.datastore.append_bundle(bundle).await.unwrap()
}

/// The first certificate of an SVID chain, parsed.
pub(crate) fn leaf(chain: &[Vec<u8>]) -> Certificate {
    Certificate::from_der(chain[0].clone().into()).unwrap()
}

/// The first message of `AttestAgent`.
pub(crate) fn params(attestor: &str, payload: Vec<u8>, csr: Vec<u8>) -> AttestAgentRequest {
    AttestAgentRequest {
        step: Some(RequestStep::Params(Params {
            data: Some(AttestationData {
                r#type: attestor.into(),
                payload,
            }),
            params: Some(AgentX509svidParams { csr }),
        })),
    }
}

/// Runs `AttestAgent` with the given first message, answering no challenge.
pub(crate) async fn attest_raw(
    channel: Channel,
    first: AttestAgentRequest,
) -> Result<AttestResult, Status> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(first).await.unwrap();
    let mut responses = AgentClient::new(channel)
        .attest_agent(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await?
        .into_inner();
    let message = responses.message().await?;
    drop(tx);
    match message.and_then(|m| m.step) {
        Some(ResponseStep::Result(result)) => Ok(result),
        other => panic!("expected a result, got {other:?}"),
    }
}

/// Runs a whole attestation over `AttestAgent` with `agent`'s half, answering challenges.
pub(crate) async fn attest(
    channel: Channel,
    agent: &dyn NodeAttestorAgent,
    csr: Vec<u8>,
) -> Result<AttestResult, Status> {
    let mut attempt = agent.begin().unwrap();
    let payload = attempt.payload().unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(params(agent.name(), payload, csr)).await.unwrap();
    let mut responses = AgentClient::new(channel)
        .attest_agent(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await?
        .into_inner();
    loop {
        match responses.message().await?.and_then(|m| m.step) {
            Some(ResponseStep::Challenge(challenge)) => {
                let response = attempt.respond(&challenge).unwrap();
                tx.send(AttestAgentRequest {
                    step: Some(RequestStep::ChallengeResponse(response)),
                })
                .await
                .unwrap();
            }
            Some(ResponseStep::Result(result)) => return Ok(result),
            None => panic!("the stream ended without a result"),
        }
    }
}
