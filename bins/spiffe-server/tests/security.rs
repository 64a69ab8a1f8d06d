//! Security rules over the server's real TLS listener (a server process): what an
//! unauthenticated caller, an agent and a banned agent can reach; replayed join tokens; SVIDs
//! only for entries the agent is authorized for.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use spiffe_core::{TrustDomain, X509Svid};
use spiffe_server::testing::agent;
use spiffe_server::testing::agent::csr;
use spiffe_server::testing::process::{ServerConfigFile, ServerProcess};
use spire_api_proto::server::agent::v1::agent_client::AgentClient;
use spire_api_proto::server::agent::v1::{BanAgentRequest, CountAgentsRequest, ListAgentsRequest};
use spire_api_proto::server::bundle::v1::bundle_client::BundleClient;
use spire_api_proto::server::bundle::v1::{CountBundlesRequest, GetBundleRequest};
use spire_api_proto::server::entry::v1::entry_client::EntryClient;
use spire_api_proto::server::entry::v1::{
    BatchCreateEntryRequest, CountEntriesRequest, GetAuthorizedEntriesRequest, ListEntriesRequest,
};
use spire_api_proto::server::svid::v1::svid_client::SvidClient;
use spire_api_proto::server::svid::v1::{
    BatchNewX509svidRequest, MintX509svidRequest, NewX509svidParams,
};
use spire_api_proto::types;
use tonic::transport::Channel;
use tonic::Code;

fn bin() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_BIN_EXE_spiffe-server"))
}

fn td() -> TrustDomain {
    TrustDomain::new("example.org").unwrap()
}

fn id(trust_domain: &str, path: &str) -> Option<types::Spiffeid> {
    Some(types::Spiffeid {
        trust_domain: trust_domain.into(),
        path: path.into(),
    })
}

fn entry(id_: &str, parent: &str, path: &str) -> types::Entry {
    types::Entry {
        id: id_.into(),
        spiffe_id: id("example.org", path),
        parent_id: id("example.org", parent),
        selectors: vec![types::Selector {
            r#type: "unix".into(),
            value: "uid:1000".into(),
        }],
        ..Default::default()
    }
}

async fn attest(server: &ServerProcess, admin: &Channel) -> X509Svid {
    let bundle = agent::x509_bundle(admin, &td()).await;
    let token = agent::create_join_token(admin).await;
    let (csr, key) = csr();
    agent::attest_join_token(server.tcp_addr(), bundle, &token, csr, &key)
        .await
        .expect("attest")
}

/// The code of every admin call made on `channel` (all must be refused alike).
async fn admin_call_codes(channel: &Channel) -> Vec<(&'static str, Code)> {
    let code = |r: Result<(), tonic::Status>| r.err().map_or(Code::Ok, |s| s.code());
    vec![
        (
            "ListEntries",
            code(
                EntryClient::new(channel.clone())
                    .list_entries(ListEntriesRequest::default())
                    .await
                    .map(drop),
            ),
        ),
        (
            "CountEntries",
            code(
                EntryClient::new(channel.clone())
                    .count_entries(CountEntriesRequest::default())
                    .await
                    .map(drop),
            ),
        ),
        (
            "BatchCreateEntry",
            code(
                EntryClient::new(channel.clone())
                    .batch_create_entry(BatchCreateEntryRequest {
                        entries: vec![entry("evil", "/spire/agent/x", "/evil")],
                        output_mask: None,
                    })
                    .await
                    .map(drop),
            ),
        ),
        (
            "ListAgents",
            code(
                AgentClient::new(channel.clone())
                    .list_agents(ListAgentsRequest::default())
                    .await
                    .map(drop),
            ),
        ),
        (
            "CountAgents",
            code(
                AgentClient::new(channel.clone())
                    .count_agents(CountAgentsRequest::default())
                    .await
                    .map(drop),
            ),
        ),
        (
            "CountBundles",
            code(
                BundleClient::new(channel.clone())
                    .count_bundles(CountBundlesRequest::default())
                    .await
                    .map(drop),
            ),
        ),
        (
            "MintX509SVID",
            code(
                SvidClient::new(channel.clone())
                    .mint_x509svid(MintX509svidRequest {
                        csr: csr().0,
                        ttl: 60,
                    })
                    .await
                    .map(drop),
            ),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_reach_only_what_their_role_allows() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfigFile::new(dir.path());
    config.cache_reload_interval = Some("100ms".into());
    let server = ServerProcess::start(&bin(), &config).expect("start");
    let admin = server.admin_channel().await;
    let bundle = agent::x509_bundle(&admin, &td()).await;

    // Unauthenticated TLS: GetBundle and AttestAgent only.
    let anonymous = agent::tls_channel(server.tcp_addr(), bundle.clone());
    BundleClient::new(anonymous.clone())
        .get_bundle(GetBundleRequest::default())
        .await
        .expect("GetBundle needs no client certificate");
    for (rpc, code) in admin_call_codes(&anonymous).await {
        assert_eq!(code, Code::PermissionDenied, "{rpc} without a certificate");
    }
    let authorized = EntryClient::new(anonymous.clone())
        .get_authorized_entries(GetAuthorizedEntriesRequest::default())
        .await;
    assert_eq!(
        authorized.map(drop).unwrap_err().code(),
        Code::PermissionDenied
    );

    // An agent is no admin.
    let first = attest(&server, &admin).await;
    let first_mtls = agent::mtls_channel(server.tcp_addr(), bundle.clone(), &first);
    for (rpc, code) in admin_call_codes(&first_mtls).await {
        assert_eq!(code, Code::PermissionDenied, "{rpc} as an agent");
    }

    // An SVID only for an entry the agent is authorized for.
    let second = attest(&server, &admin).await;
    let created = EntryClient::new(admin.clone())
        .batch_create_entry(BatchCreateEntryRequest {
            entries: vec![
                entry("mine", first.spiffe_id().path(), "/mine"),
                entry("theirs", second.spiffe_id().path(), "/theirs"),
            ],
            output_mask: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(created
        .results
        .iter()
        .all(|r| r.status.as_ref().is_some_and(|s| s.code == 0)));
    // A foreign trust domain's ID cannot even be registered.
    let mut foreign = entry("foreign", first.spiffe_id().path(), "/x");
    foreign.spiffe_id = id("other.org", "/x");
    let refused = EntryClient::new(admin.clone())
        .batch_create_entry(BatchCreateEntryRequest {
            entries: vec![foreign],
            output_mask: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(refused.results[0].status.as_ref().map(|s| s.code), Some(0));

    let deadline = Instant::now() + Duration::from_secs(20);
    let params = |entry_id: &str| NewX509svidParams {
        entry_id: entry_id.into(),
        csr: csr().0,
    };
    loop {
        let results = SvidClient::new(first_mtls.clone())
            .batch_new_x509svid(BatchNewX509svidRequest {
                params: vec![params("mine"), params("theirs"), params("foreign")],
            })
            .await
            .expect("BatchNewX509SVID")
            .into_inner()
            .results;
        if results[0].svid.is_none() {
            assert!(
                Instant::now() < deadline,
                "never authorized for its own entry"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        assert!(
            results[1].svid.is_none(),
            "an SVID for another agent's entry"
        );
        assert_eq!(
            results[1].status.as_ref().map(|s| s.code),
            Some(Code::NotFound as i32)
        );
        assert!(results[2].svid.is_none());
        break;
    }

    // A banned agent is refused at once.
    AgentClient::new(admin.clone())
        .ban_agent(BanAgentRequest {
            id: id("example.org", first.spiffe_id().path()),
        })
        .await
        .expect("BanAgent");
    let after_ban = EntryClient::new(first_mtls.clone())
        .get_authorized_entries(GetAuthorizedEntriesRequest::default())
        .await;
    assert_eq!(
        after_ban.map(drop).unwrap_err().code(),
        Code::PermissionDenied
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_token_attests_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&bin(), &ServerConfigFile::new(dir.path())).expect("start");
    let admin = server.admin_channel().await;
    let bundle = agent::x509_bundle(&admin, &td()).await;
    let token = agent::create_join_token(&admin).await;
    let (csr1, key1) = csr();
    agent::attest_join_token(server.tcp_addr(), bundle.clone(), &token, csr1, &key1)
        .await
        .expect("first use");
    let (csr2, key2) = csr();
    let replay = agent::attest_join_token(server.tcp_addr(), bundle, &token, csr2, &key2).await;
    assert!(replay.is_err(), "a replayed join token attested again");
}
