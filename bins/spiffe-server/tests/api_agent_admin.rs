//! The Agent service's admin RPCs through a real tonic client: count and list with SPIRE's
//! filters, paging and output masks; get, ban and delete with their checks; join tokens
//! (SPIRE's UUIDs, the alias entry, a token that then attests); and that only local and admin
//! callers reach them.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod api_support;

use std::sync::Arc;

use api_support::*;
use spiffe_attest::node::join_token::{JoinToken, JoinTokenAgent};
use spiffe_attest::Selector;
use spiffe_server::context::ServerContext;
use spiffe_server::datastore::{AttestedNode, EntryFilter, JoinTokenUse};
use spiffe_server::testing;
use spire_api_proto::server::agent::v1::agent_client::AgentClient;
use spire_api_proto::server::agent::v1::*;
use spire_api_proto::types::{self, AgentMask, Spiffeid};
use tonic::transport::Channel;
use tonic::Code;

const NODE_1: &str = "/spire/agent/join_token/node-1";
const NODE_2: &str = "/spire/agent/x509pop/node-2";
const NODE_3: &str = "/spire/agent/tpm/node-3";

async fn admin(ctx: &Arc<ServerContext>, dir: &std::path::Path) -> AgentClient<Channel> {
    AgentClient::new(testing::serve_as(ctx.clone(), dir, local()).await)
}

fn sid(path: &str) -> Option<Spiffeid> {
    Some(Spiffeid {
        trust_domain: "example.org".into(),
        path: path.into(),
    })
}

fn sel(t: &str, v: &str) -> types::Selector {
    types::Selector {
        r#type: t.into(),
        value: v.into(),
    }
}

/// Three agents: node-1 (join_token, selector a:1, expires in 1 h), node-2 (x509pop, banned,
/// selectors a:1 b:2), node-3 (tpm, can re-attest, expires in 10 h).
async fn three_agents(ctx: &ServerContext) {
    attested_agent(ctx, &format!("spiffe://example.org{NODE_1}"), "1", &["a:1"]).await;
    let mut node = AttestedNode::new(id(&format!("spiffe://example.org{NODE_2}")), "x509pop");
    node.cert_serial_number = Some("2".into());
    node.cert_not_after = Some(in_secs(3600));
    node.selectors = vec![
        Selector::parse("a:1").unwrap(),
        Selector::parse("b:2").unwrap(),
    ];
    ctx.datastore.create_node(node).await.unwrap();
    ctx.datastore
        .ban_node(&id(&format!("spiffe://example.org{NODE_2}")))
        .await
        .unwrap();
    let mut node = AttestedNode::new(id(&format!("spiffe://example.org{NODE_3}")), "tpm");
    node.cert_serial_number = Some("3".into());
    node.cert_not_after = Some(in_secs(36_000));
    node.can_reattest = true;
    ctx.datastore.create_node(node).await.unwrap();
    ctx.cache.refresh().await.unwrap();
}

/// Go's `time.Time.String()` of now plus `secs`, in UTC.
fn go_time(secs: i64) -> String {
    let t = in_secs(secs).as_secs();
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("@{t}"), "+%Y-%m-%d %H:%M:%S +0000 UTC"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_and_list_apply_spires_filters_paging_and_masks() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    count_and_list(ctx, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_and_list_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(postgres_context(dir.path()).await);
    count_and_list(ctx, dir.path()).await;
}

async fn count_and_list(ctx: Arc<ServerContext>, dir: &std::path::Path) {
    three_agents(&ctx).await;
    let mut client = admin(&ctx, dir).await;

    let filters: Vec<(list_agents_request::Filter, Vec<&str>)> = vec![
        (Default::default(), vec![NODE_1, NODE_2, NODE_3]),
        (
            list_agents_request::Filter {
                by_attestation_type: "x509pop".into(),
                ..Default::default()
            },
            vec![NODE_2],
        ),
        (
            list_agents_request::Filter {
                by_banned: Some(true),
                ..Default::default()
            },
            vec![NODE_2],
        ),
        (
            list_agents_request::Filter {
                by_banned: Some(false),
                ..Default::default()
            },
            vec![NODE_1, NODE_3],
        ),
        (
            list_agents_request::Filter {
                by_can_reattest: Some(true),
                ..Default::default()
            },
            vec![NODE_3],
        ),
        (
            list_agents_request::Filter {
                by_selector_match: Some(types::SelectorMatch {
                    selectors: vec![sel("a", "1")],
                    r#match: 2,
                }),
                ..Default::default()
            },
            vec![NODE_1, NODE_2],
        ),
        (
            list_agents_request::Filter {
                by_selector_match: Some(types::SelectorMatch {
                    selectors: vec![sel("a", "1")],
                    r#match: 0,
                }),
                ..Default::default()
            },
            vec![NODE_1],
        ),
        (
            list_agents_request::Filter {
                by_expires_before: go_time(7200),
                ..Default::default()
            },
            // A ban clears the serial numbers, not the expiry (as SPIRE).
            vec![NODE_1, NODE_2],
        ),
    ];
    for (filter, mut expected) in filters {
        expected.sort_unstable();
        let response = client
            .list_agents(ListAgentsRequest {
                filter: Some(filter.clone()),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let mut paths: Vec<String> = response
            .agents
            .iter()
            .map(|a| a.id.as_ref().unwrap().path.clone())
            .collect();
        paths.sort();
        assert_eq!(paths, expected, "{filter:?}");
        let count = client
            .count_agents(CountAgentsRequest {
                filter: Some(count_agents_request::Filter {
                    by_attestation_type: filter.by_attestation_type.clone(),
                    by_selector_match: filter.by_selector_match.clone(),
                    by_banned: filter.by_banned,
                    by_can_reattest: filter.by_can_reattest,
                    by_expires_before: filter.by_expires_before.clone(),
                }),
            })
            .await
            .unwrap()
            .into_inner()
            .count;
        assert_eq!(count as usize, expected.len(), "{filter:?}");
    }

    // The message: every field, and a mask that keeps only the attestation type.
    let all = client
        .list_agents(ListAgentsRequest {
            filter: Some(list_agents_request::Filter {
                by_attestation_type: "join_token".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .agents;
    assert_eq!(all[0].x509svid_serial_number, "1");
    assert!(all[0].x509svid_expires_at > 0);
    assert_eq!(all[0].selectors, vec![sel("a", "1")]);
    assert!(!all[0].banned);
    let masked = client
        .list_agents(ListAgentsRequest {
            output_mask: Some(AgentMask {
                attestation_type: true,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .agents;
    assert_eq!(masked.len(), 3);
    for agent in &masked {
        assert!(agent.id.is_some() && !agent.attestation_type.is_empty());
        assert!(agent.selectors.is_empty() && agent.x509svid_serial_number.is_empty());
        assert!(!agent.banned);
    }

    // Paging, two at a time.
    let mut seen = Vec::new();
    let mut token = String::new();
    for _ in 0..5 {
        let page = client
            .list_agents(ListAgentsRequest {
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.agents.len() <= 2);
        seen.extend(page.agents.into_iter().map(|a| a.id.unwrap().path));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    seen.sort();
    assert_eq!(seen, [NODE_1, NODE_3, NODE_2], "sorted by path");

    // Bad filters.
    for (filter, text) in [
        (
            list_agents_request::Filter {
                by_expires_before: "tomorrow".into(),
                ..Default::default()
            },
            "by_expires_before is not a time",
        ),
        (
            list_agents_request::Filter {
                by_selector_match: Some(types::SelectorMatch {
                    selectors: vec![sel("", "1")],
                    r#match: 0,
                }),
                ..Default::default()
            },
            "failed to parse selectors: selectors[0].type",
        ),
        (
            list_agents_request::Filter {
                by_selector_match: Some(types::SelectorMatch {
                    selectors: vec![],
                    r#match: 0,
                }),
                ..Default::default()
            },
            "failed to parse selectors: empty selector set",
        ),
    ] {
        let err = client
            .list_agents(ListAgentsRequest {
                filter: Some(filter),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(err.message().starts_with(text), "{}", err.message());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_ban_and_delete_check_the_agent_id() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    three_agents(&ctx).await;
    let mut client = admin(&ctx, dir.path()).await;
    let node1 = id(&format!("spiffe://example.org{NODE_1}"));

    let agent = client
        .get_agent(GetAgentRequest {
            id: sid(NODE_1),
            output_mask: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(agent.attestation_type, "join_token");
    assert_eq!(agent.x509svid_serial_number, "1");

    for (request_id, code, text) in [
        (None, Code::InvalidArgument, "invalid agent ID: request must specify SPIFFE ID"),
        (
            sid("/workload"),
            Code::InvalidArgument,
            "invalid agent ID: \"spiffe://example.org/workload\" is not an agent in trust domain \"example.org\"; path is not in the agent namespace",
        ),
        (
            Some(Spiffeid {
                trust_domain: "other.org".into(),
                path: NODE_1.into(),
            }),
            Code::InvalidArgument,
            "invalid agent ID: \"spiffe://other.org/spire/agent/join_token/node-1\" is not a member of trust domain \"example.org\"",
        ),
        (sid("/spire/agent/none/x"), Code::NotFound, "agent not found"),
    ] {
        let err = client
            .get_agent(GetAgentRequest {
                id: request_id.clone(),
                output_mask: None,
            })
            .await
            .unwrap_err();
        assert_eq!((err.code(), err.message()), (code, text));
        let err = client
            .ban_agent(BanAgentRequest {
                id: request_id.clone(),
            })
            .await
            .unwrap_err();
        assert_eq!((err.code(), err.message()), (code, text));
        let err = client
            .delete_agent(DeleteAgentRequest { id: request_id })
            .await
            .unwrap_err();
        assert_eq!((err.code(), err.message()), (code, text));
    }
    assert_eq!(
        ctx.datastore
            .count_nodes(&Default::default())
            .await
            .unwrap(),
        3
    );

    // A banned agent is refused at once by the authorization layer.
    client
        .ban_agent(BanAgentRequest { id: sid(NODE_1) })
        .await
        .unwrap();
    let stored = ctx.datastore.get_node(&node1).await.unwrap().unwrap();
    assert!(stored.banned);
    assert!(ctx.cache.node(&node1).unwrap().banned, "the cache follows");
    let mut as_agent = AgentClient::new(
        testing::serve_as(
            ctx.clone(),
            dir.path(),
            tls(&format!("spiffe://example.org{NODE_1}"), "1"),
        )
        .await,
    );
    let err = as_agent
        .renew_agent(RenewAgentRequest {
            params: Some(AgentX509svidParams { csr: csr() }),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    client
        .delete_agent(DeleteAgentRequest { id: sid(NODE_1) })
        .await
        .unwrap();
    assert!(ctx.datastore.get_node(&node1).await.unwrap().is_none());
    assert!(ctx.cache.node(&node1).is_none());
    let err = client
        .delete_agent(DeleteAgentRequest { id: sid(NODE_1) })
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::NotFound, "agent not found")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_tokens_are_uuids_or_the_operators_and_the_alias_entry_is_spires() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    let mut client = admin(&ctx, dir.path()).await;

    // Bad requests store nothing.
    let err = client
        .create_join_token(CreateJoinTokenRequest {
            ttl: 0,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (
            Code::InvalidArgument,
            "ttl is required, you must provide one"
        )
    );
    let err = client
        .create_join_token(CreateJoinTokenRequest {
            ttl: 600,
            token: "mine".into(),
            agent_id: Some(Spiffeid {
                trust_domain: "other.org".into(),
                path: "/host".into(),
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().starts_with("invalid agent ID: "),
        "{}",
        err.message()
    );
    let err = client
        .create_join_token(CreateJoinTokenRequest {
            ttl: 600,
            token: "a/b".into(),
            agent_id: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().starts_with("invalid token: "),
        "{}",
        err.message()
    );
    assert!(!err.message().contains("a/b"), "the token is not echoed");
    assert_eq!(
        ctx.datastore
            .consume_join_token(&JoinToken::new("mine").unwrap(), in_secs(0))
            .await
            .unwrap(),
        JoinTokenUse::Unknown
    );
    assert_eq!(
        ctx.datastore
            .count_entries(&EntryFilter::default())
            .await
            .unwrap(),
        0
    );

    // A generated token: a UUID v4, expiring ttl seconds from now.
    let before = in_secs(0).as_secs() as i64;
    let generated = client
        .create_join_token(CreateJoinTokenRequest {
            ttl: 600,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let groups: Vec<&str> = generated.value.split('-').collect();
    assert_eq!(
        groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12]
    );
    assert!(groups[2].starts_with('4'));
    assert!((before + 600..=before + 602).contains(&generated.expires_at));

    // The operator's token with an agent ID: SPIRE's alias entry.
    let named = client
        .create_join_token(CreateJoinTokenRequest {
            ttl: 600,
            token: "node-7".into(),
            agent_id: sid("/host/node-7"),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(named.value, "node-7");
    let entries = ctx
        .datastore
        .list_entries(&EntryFilter::default(), &Default::default())
        .await
        .unwrap()
        .items;
    assert_eq!(entries.len(), 1);
    let alias = &entries[0];
    assert_eq!(
        alias.spiffe_id().as_str(),
        "spiffe://example.org/host/node-7"
    );
    assert_eq!(
        alias.parent_id().as_str(),
        "spiffe://example.org/spire/agent/join_token/node-7"
    );
    assert_eq!(
        alias.selectors(),
        &[Selector::new(
            "spiffe_id",
            "spiffe://example.org/spire/agent/join_token/node-7"
        )
        .unwrap()]
    );
    let err = client
        .create_join_token(CreateJoinTokenRequest {
            ttl: 600,
            token: "node-7".into(),
            agent_id: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);

    // Deleting the agent that attested with the token deletes the alias entry (as SPIRE),
    // not the other entries under the agent.
    let node7 = "spiffe://example.org/spire/agent/join_token/node-7";
    attested_agent(&ctx, node7, "77", &[]).await;
    let workload = entry(&ctx, node7, "spiffe://example.org/w7", |b| b).await;
    client
        .delete_agent(DeleteAgentRequest {
            id: sid("/spire/agent/join_token/node-7"),
        })
        .await
        .unwrap();
    let left: Vec<String> = ctx
        .datastore
        .list_entries(&EntryFilter::default(), &Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|e| e.id().as_str().to_owned())
        .collect();
    assert_eq!(left, vec![workload.id().as_str().to_owned()]);
    assert!(ctx.cache.entry(alias.id().as_str()).is_none());

    // The token attests an agent, once.
    let channel = testing::serve_as(ctx.clone(), dir.path(), unauthenticated()).await;
    let agent = JoinTokenAgent::new(JoinToken::new(&generated.value).unwrap());
    let result = attest(channel.clone(), &agent, csr()).await.unwrap();
    let svid = result.svid.unwrap();
    assert_eq!(
        svid.id.unwrap().path,
        format!("/spire/agent/join_token/{}", generated.value)
    );
    let err = attest(channel, &agent, csr()).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_local_and_admin_callers_reach_the_admin_rpcs() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    three_agents(&ctx).await;
    let _ops = entry(
        &ctx,
        &format!("spiffe://example.org{NODE_3}"),
        "spiffe://example.org/ops",
        |b| b.admin(true),
    )
    .await;

    for caller in [
        tls(&format!("spiffe://example.org{NODE_3}"), "3"),
        tls("spiffe://example.org/web", "9"),
        unauthenticated(),
    ] {
        let mut client =
            AgentClient::new(testing::serve_as(ctx.clone(), dir.path(), caller.clone()).await);
        let err = client
            .list_agents(ListAgentsRequest::default())
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{caller}");
        let err = client
            .create_join_token(CreateJoinTokenRequest {
                ttl: 60,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{caller}");
        let err = client
            .ban_agent(BanAgentRequest { id: sid(NODE_1) })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{caller}");
    }
    assert!(
        !ctx.datastore
            .get_node(&id(&format!("spiffe://example.org{NODE_1}")))
            .await
            .unwrap()
            .unwrap()
            .banned
    );

    let mut admin_by_id = AgentClient::new(
        testing::serve_as(
            ctx.clone(),
            dir.path(),
            tls("spiffe://example.org/ops", "5"),
        )
        .await,
    );
    let count = admin_by_id
        .count_agents(CountAgentsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .count;
    assert_eq!(count, 3);
}
