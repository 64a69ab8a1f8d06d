//! The admin APIs of a running `spiffe-server` process, over its admin Unix socket: what an
//! operator does first (a join token with an alias, entries, listings) and `Debug.GetInfo`
//! reporting the running server's own SVID chain.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use spiffe_server::testing::process::{ServerConfigFile, ServerProcess};
use spire_api_proto::server::agent::v1::agent_client::AgentClient;
use spire_api_proto::server::agent::v1::{CountAgentsRequest, CreateJoinTokenRequest};
use spire_api_proto::server::debug::v1::debug_client::DebugClient;
use spire_api_proto::server::debug::v1::GetInfoRequest;
use spire_api_proto::server::entry::v1::entry_client::EntryClient;
use spire_api_proto::server::entry::v1::{
    list_entries_request, BatchCreateEntryRequest, ListEntriesRequest,
};
use spire_api_proto::types::{self, Spiffeid};

const LIMIT: Duration = Duration::from_secs(30);

fn sid(path: &str) -> Option<Spiffeid> {
    Some(Spiffeid {
        trust_domain: "example.org".into(),
        path: path.into(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_registers_workloads_and_reads_the_servers_state() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfigFile::new(dir.path());
    let mut server = ServerProcess::start(&ServerProcess::binary(), &config).expect("start");
    let channel = server.admin_channel().await;

    let token = tokio::time::timeout(
        LIMIT,
        AgentClient::new(channel.clone()).create_join_token(CreateJoinTokenRequest {
            ttl: 600,
            token: String::new(),
            agent_id: sid("/host/node-1"),
        }),
    )
    .await
    .unwrap()
    .unwrap()
    .into_inner();
    assert_eq!(token.value.len(), 36);

    let mut entries = EntryClient::new(channel.clone());
    let created = tokio::time::timeout(
        LIMIT,
        entries.batch_create_entry(BatchCreateEntryRequest {
            entries: vec![types::Entry {
                spiffe_id: sid("/web"),
                parent_id: sid("/host/node-1"),
                selectors: vec![types::Selector {
                    r#type: "unix".into(),
                    value: "uid:1000".into(),
                }],
                ..Default::default()
            }],
            output_mask: None,
        }),
    )
    .await
    .unwrap()
    .unwrap()
    .into_inner()
    .results;
    assert_eq!(created[0].status.as_ref().unwrap().code, 0);

    let under_host = entries
        .list_entries(ListEntriesRequest {
            filter: Some(list_entries_request::Filter {
                by_parent_id: sid("/host/node-1"),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(under_host.len(), 1);
    assert_eq!(under_host[0].spiffe_id, sid("/web"));

    let agents = AgentClient::new(channel.clone())
        .count_agents(CountAgentsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .count;
    assert_eq!(agents, 0);

    let info = DebugClient::new(channel)
        .get_info(GetInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    // The join token's alias entry and the workload entry.
    assert_eq!(info.entries_count, 2);
    assert_eq!(info.agents_count, 0);
    assert!(info.federated_bundles_count >= 1, "the server's own bundle");
    assert!(info.svid_chain.len() >= 2, "{:?}", info.svid_chain);
    assert_eq!(info.svid_chain[0].id, sid("/spire/server"));
    assert!(info.svid_chain[0].expires_at > 0);

    server.terminate().unwrap();
}
