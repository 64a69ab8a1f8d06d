//! `Entry` service through a real tonic client: batch create (ids optional, per-item
//! statuses, ALREADY_EXISTS with the stored entry), get, count and list with SPIRE's filters,
//! paging and output masks, update with an input mask, delete; bad inputs refused with the
//! field named and nothing stored; who may call what; and the agents' RPCs,
//! `GetAuthorizedEntries` and the incremental `SyncAuthorizedEntries` protocol.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod api_support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use api_support::*;
use spiffe_attest::{RegistrationEntry, Selector};
use spiffe_server::context::ServerContext;
use spiffe_server::datastore::{new_entry_id, Bundle, X509Authority};
use spiffe_server::testing;
use spire_api_proto::server::entry::v1::entry_client::EntryClient;
use spire_api_proto::server::entry::v1::*;
use spire_api_proto::types::{self, EntryMask, Spiffeid};
use tonic::transport::Channel;
use tonic::Code;

const AGENT: &str = "spiffe://example.org/spire/agent/join_token/node-1";
const OTHER_AGENT: &str = "spiffe://example.org/spire/agent/join_token/node-2";

/// Bounds every RPC of these tests.
const LIMIT: Duration = Duration::from_secs(30);

async fn admin(ctx: &Arc<ServerContext>, dir: &std::path::Path) -> EntryClient<Channel> {
    EntryClient::new(testing::serve_as(ctx.clone(), dir, local()).await)
}

fn sid(td: &str, path: &str) -> Option<Spiffeid> {
    Some(Spiffeid {
        trust_domain: td.into(),
        path: path.into(),
    })
}

fn sel(t: &str, v: &str) -> types::Selector {
    types::Selector {
        r#type: t.into(),
        value: v.into(),
    }
}

/// An entry message under `parent` with the given selectors.
fn message(parent: &str, path: &str, selectors: &[(&str, &str)]) -> types::Entry {
    types::Entry {
        spiffe_id: sid("example.org", path),
        parent_id: sid("example.org", parent),
        selectors: selectors.iter().map(|(t, v)| sel(t, v)).collect(),
        ..Default::default()
    }
}

fn status(s: &Option<types::Status>) -> (Code, String) {
    let s = s.as_ref().expect("status");
    (Code::from(s.code), s.message.clone())
}

async fn stored_count(ctx: &ServerContext) -> u64 {
    ctx.datastore
        .count_entries(&Default::default())
        .await
        .unwrap()
}

async fn create(
    client: &mut EntryClient<Channel>,
    entries: Vec<types::Entry>,
) -> Vec<batch_create_entry_response::Result> {
    tokio::time::timeout(
        LIMIT,
        client.batch_create_entry(BatchCreateEntryRequest {
            entries,
            output_mask: None,
        }),
    )
    .await
    .unwrap()
    .unwrap()
    .into_inner()
    .results
}

// === create, get, delete ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_create_assigns_ids_reports_each_item_and_returns_the_existing_entry() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    create_get_delete(ctx, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_create_get_and_delete_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(postgres_context(dir.path()).await);
    create_get_delete(ctx, dir.path()).await;
}

async fn create_get_delete(ctx: Arc<ServerContext>, dir: &std::path::Path) {
    let mut client = admin(&ctx, dir).await;

    let mut with_id = message("/node", "/db", &[("unix", "uid:1001")]);
    with_id.id = "my-entry-1".into();
    with_id.hint = "db".into();
    let foreign = types::Entry {
        spiffe_id: sid("other.org", "/web"),
        ..message("/node", "/web", &[("unix", "uid:1")])
    };
    let no_selectors = message("/node", "/nosel", &[]);
    let results = create(
        &mut client,
        vec![
            message("/node", "/web", &[("unix", "uid:1000")]),
            with_id,
            foreign,
            no_selectors,
        ],
    )
    .await;
    assert_eq!(results.len(), 4);
    assert_eq!(status(&results[0].status), (Code::Ok, "OK".into()));
    let web = results[0].entry.clone().unwrap();
    assert_eq!(web.id.len(), 36, "a UUID: {}", web.id);
    // SPIRE: a new entry is at revision 0; each update adds one.
    assert_eq!(web.revision_number, 0);
    assert!(web.created_at > 0);
    assert_eq!(status(&results[1].status).0, Code::Ok);
    assert_eq!(results[1].entry.as_ref().unwrap().id, "my-entry-1");
    assert_eq!(results[1].entry.as_ref().unwrap().hint, "db");
    let (code, text) = status(&results[2].status);
    assert_eq!(code, Code::InvalidArgument);
    assert!(
        text.starts_with("failed to convert entry: spiffe_id"),
        "{text}"
    );
    assert!(results[2].entry.is_none());
    let (code, text) = status(&results[3].status);
    assert_eq!(code, Code::InvalidArgument);
    assert!(text.contains("selectors"), "{text}");
    assert_eq!(
        stored_count(&ctx).await,
        2,
        "the refused items are not stored"
    );

    // The same SPIFFE ID, parent and selectors again: ALREADY_EXISTS with the stored entry.
    let again = create(
        &mut client,
        vec![message("/node", "/web", &[("unix", "uid:1000")])],
    )
    .await;
    assert_eq!(
        status(&again[0].status),
        (Code::AlreadyExists, "similar entry already exists".into())
    );
    assert_eq!(again[0].entry.as_ref().unwrap().id, web.id);
    assert_eq!(stored_count(&ctx).await, 2);

    // GetEntry, with and without an output mask.
    let got = client
        .get_entry(GetEntryRequest {
            id: web.id.clone(),
            output_mask: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got, web);
    let masked = client
        .get_entry(GetEntryRequest {
            id: web.id.clone(),
            output_mask: Some(EntryMask {
                spiffe_id: true,
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(masked.id, web.id);
    assert_eq!(masked.spiffe_id, web.spiffe_id);
    assert!(masked.parent_id.is_none() && masked.selectors.is_empty());
    assert_eq!(masked.revision_number, 0);
    let err = client
        .get_entry(GetEntryRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::InvalidArgument, "missing ID")
    );
    let err = client
        .get_entry(GetEntryRequest {
            id: "nope".into(),
            output_mask: None,
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::NotFound, "entry not found")
    );

    // BatchDeleteEntry: per id.
    let deleted = client
        .batch_delete_entry(BatchDeleteEntryRequest {
            ids: vec![
                web.id.clone(),
                "nope".into(),
                String::new(),
                "no/such id".into(),
            ],
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(status(&deleted[0].status).0, Code::Ok);
    assert_eq!(deleted[0].id, web.id);
    assert_eq!(
        status(&deleted[1].status),
        (Code::NotFound, "entry not found".into())
    );
    assert_eq!(
        status(&deleted[2].status),
        (Code::InvalidArgument, "missing entry ID".into())
    );
    // An id no entry could have is simply not found, as in SPIRE.
    assert_eq!(
        status(&deleted[3].status),
        (Code::NotFound, "entry not found".into())
    );
    assert_eq!(stored_count(&ctx).await, 1);
    assert!(
        ctx.cache.entry(&web.id).is_none(),
        "the cache follows deletes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_refuses_reserved_ids_foreign_parents_bad_dns_names_and_own_federation() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    let mut client = admin(&ctx, dir.path()).await;
    let mut bad_dns = message("/node", "/a", &[("unix", "uid:1")]);
    bad_dns.dns_names = vec!["ok.example.org".into(), "bad name".into()];
    let mut own_td = message("/node", "/b", &[("unix", "uid:1")]);
    own_td.federates_with = vec!["example.org".into()];
    let mut unknown_td = message("/node", "/c", &[("unix", "uid:1")]);
    unknown_td.federates_with = vec!["nobundle.org".into()];
    let mut bad_selector = message("/node", "/d", &[("unix", "uid:1")]);
    bad_selector.selectors.push(sel("", "x"));
    let results = create(
        &mut client,
        vec![
            message("/node", "/spire/agent/x", &[("unix", "uid:1")]),
            types::Entry {
                parent_id: sid("other.org", "/node"),
                ..message("/node", "/e", &[("unix", "uid:1")])
            },
            bad_dns,
            own_td,
            unknown_td,
            bad_selector,
            types::Entry {
                parent_id: None,
                ..message("/node", "/f", &[("unix", "uid:1")])
            },
        ],
    )
    .await;
    let expect = [
        "spiffe_id",
        "parent_id",
        "dns_names[1]",
        "federates_with[0]",
        "federates_with",
        "selectors[1].type",
        "parent_id is required",
    ];
    for (result, field) in results.iter().zip(expect) {
        let (code, text) = status(&result.status);
        assert_eq!(code, Code::InvalidArgument, "{text}");
        assert!(text.contains(field), "{text} should name {field}");
        assert!(result.entry.is_none());
    }
    assert_eq!(results.len(), expect.len());
    assert_eq!(stored_count(&ctx).await, 0);
    assert_eq!(ctx.datastore.current_revision().await.unwrap(), 0);
}

// === list and count ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_and_count_apply_spires_filters_paging_and_masks() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    let mut partner = Bundle::new(testing::td("partner.org"));
    partner
        .x509_authorities
        .push(X509Authority::new(vec![1, 2, 3]));
    ctx.datastore.create_bundle(partner).await.unwrap();
    let mut client = admin(&ctx, dir.path()).await;

    let mut a = message("/node", "/a", &[("unix", "uid:1"), ("unix", "gid:1")]);
    a.hint = "front".into();
    let mut b = message("/node", "/b", &[("unix", "uid:1")]);
    b.federates_with = vec!["partner.org".into()];
    b.downstream = true;
    let c = message("/other", "/c", &[("unix", "gid:1"), ("k8s", "ns:x")]);
    for result in create(&mut client, vec![a, b, c]).await {
        assert_eq!(status(&result.status).0, Code::Ok, "{:?}", result.status);
    }

    let list = |filter: list_entries_request::Filter| ListEntriesRequest {
        filter: Some(filter),
        ..Default::default()
    };
    let paths = |response: ListEntriesResponse| {
        let mut paths: Vec<String> = response
            .entries
            .iter()
            .map(|e| e.spiffe_id.as_ref().unwrap().path.clone())
            .collect();
        paths.sort();
        paths
    };
    let selectors = |match_: i32, s: &[(&str, &str)]| types::SelectorMatch {
        selectors: s.iter().map(|(t, v)| sel(t, v)).collect(),
        r#match: match_,
    };
    let cases: Vec<(list_entries_request::Filter, Vec<&str>)> = vec![
        (Default::default(), vec!["/a", "/b", "/c"]),
        (
            list_entries_request::Filter {
                by_parent_id: sid("example.org", "/node"),
                ..Default::default()
            },
            vec!["/a", "/b"],
        ),
        (
            list_entries_request::Filter {
                by_spiffe_id: sid("example.org", "/c"),
                ..Default::default()
            },
            vec!["/c"],
        ),
        (
            list_entries_request::Filter {
                by_selectors: Some(selectors(0, &[("unix", "uid:1")])),
                ..Default::default()
            },
            vec!["/b"],
        ),
        (
            list_entries_request::Filter {
                by_selectors: Some(selectors(1, &[("unix", "uid:1"), ("unix", "gid:1")])),
                ..Default::default()
            },
            vec!["/a", "/b"],
        ),
        (
            list_entries_request::Filter {
                by_selectors: Some(selectors(2, &[("unix", "gid:1")])),
                ..Default::default()
            },
            vec!["/a", "/c"],
        ),
        (
            list_entries_request::Filter {
                by_selectors: Some(selectors(3, &[("k8s", "ns:x"), ("unix", "uid:1")])),
                ..Default::default()
            },
            vec!["/a", "/b", "/c"],
        ),
        (
            list_entries_request::Filter {
                by_federates_with: Some(types::FederatesWithMatch {
                    trust_domains: vec!["partner.org".into()],
                    r#match: 0,
                }),
                ..Default::default()
            },
            vec!["/b"],
        ),
        (
            list_entries_request::Filter {
                by_hint: Some("front".into()),
                ..Default::default()
            },
            vec!["/a"],
        ),
        (
            // As SPIRE: an empty hint filters nothing.
            list_entries_request::Filter {
                by_hint: Some(String::new()),
                ..Default::default()
            },
            vec!["/a", "/b", "/c"],
        ),
        (
            // As SPIRE's datastore: `false` (what SPIRE's CLI always sends) filters nothing.
            list_entries_request::Filter {
                by_downstream: Some(false),
                ..Default::default()
            },
            vec!["/a", "/b", "/c"],
        ),
        (
            list_entries_request::Filter {
                by_downstream: Some(true),
                ..Default::default()
            },
            vec!["/b"],
        ),
    ];
    for (filter, expected) in cases {
        let count_filter = count_entries_request::Filter {
            by_spiffe_id: filter.by_spiffe_id.clone(),
            by_parent_id: filter.by_parent_id.clone(),
            by_selectors: filter.by_selectors.clone(),
            by_federates_with: filter.by_federates_with.clone(),
            by_hint: filter.by_hint.clone(),
            by_downstream: filter.by_downstream,
        };
        let got = paths(
            client
                .list_entries(list(filter.clone()))
                .await
                .unwrap()
                .into_inner(),
        );
        assert_eq!(got, expected, "{filter:?}");
        let count = client
            .count_entries(CountEntriesRequest {
                filter: Some(count_filter),
            })
            .await
            .unwrap()
            .into_inner()
            .count;
        assert_eq!(count as usize, expected.len(), "{filter:?}");
    }

    // Paging: one at a time, every entry once.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_entries(ListEntriesRequest {
                page_size: 1,
                page_token: token.clone(),
                output_mask: Some(EntryMask {
                    spiffe_id: true,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        for e in &page.entries {
            assert!(e.selectors.is_empty() && e.parent_id.is_none(), "masked");
            seen.push(e.spiffe_id.as_ref().unwrap().path.clone());
        }
        if page.next_page_token.is_empty() || page.entries.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    seen.sort();
    assert_eq!(seen, ["/a", "/b", "/c"]);

    // Bad filters name what is wrong.
    let bad: Vec<(list_entries_request::Filter, &str)> = vec![
        (
            list_entries_request::Filter {
                by_selectors: Some(selectors(0, &[])),
                ..Default::default()
            },
            "malformed selectors filter: empty selector set",
        ),
        (
            list_entries_request::Filter {
                by_selectors: Some(selectors(9, &[("unix", "uid:1")])),
                ..Default::default()
            },
            "malformed selectors filter: unknown match behavior 9",
        ),
        (
            list_entries_request::Filter {
                by_federates_with: Some(types::FederatesWithMatch {
                    trust_domains: vec![],
                    r#match: 0,
                }),
                ..Default::default()
            },
            "malformed federates with filter: empty trust domain set",
        ),
        (
            list_entries_request::Filter {
                by_parent_id: sid("other.org", "/node"),
                ..Default::default()
            },
            "malformed parent ID filter: \"spiffe://other.org/node\" is not a member of trust domain \"example.org\"",
        ),
        (
            list_entries_request::Filter {
                by_spiffe_id: sid("example.org", "no-slash"),
                ..Default::default()
            },
            "malformed SPIFFE ID filter: path",
        ),
    ];
    for (filter, text) in bad {
        let err = client.list_entries(list(filter)).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(
            err.message().starts_with(text),
            "{} vs {text}",
            err.message()
        );
    }
    let err = client
        .list_entries(ListEntriesRequest {
            page_size: 2,
            page_token: "not-a-token".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("page_token"), "{}", err.message());
}

// === update ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_update_replaces_masked_fields_and_refuses_bad_results() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    let mut client = admin(&ctx, dir.path()).await;
    let mut web = message("/node", "/web", &[("unix", "uid:1")]);
    web.hint = "keep".into();
    let web = create(&mut client, vec![web]).await[0]
        .entry
        .clone()
        .unwrap();

    // Only the selectors and the TTL change; the hint in the request is ignored.
    let update = types::Entry {
        id: web.id.clone(),
        selectors: vec![sel("unix", "uid:2")],
        x509_svid_ttl: 600,
        hint: "ignored".into(),
        ..Default::default()
    };
    let results = client
        .batch_update_entry(BatchUpdateEntryRequest {
            entries: vec![update],
            input_mask: Some(EntryMask {
                selectors: true,
                x509_svid_ttl: true,
                ..Default::default()
            }),
            output_mask: None,
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(status(&results[0].status).0, Code::Ok);
    let updated = results[0].entry.clone().unwrap();
    assert_eq!(updated.selectors, vec![sel("unix", "uid:2")]);
    assert_eq!(updated.x509_svid_ttl, 600);
    assert_eq!(updated.hint, "keep");
    assert_eq!(updated.spiffe_id, web.spiffe_id);
    assert!(updated.revision_number > web.revision_number);
    assert_eq!(
        ctx.cache.entry(&web.id).unwrap().selectors(),
        &[Selector::parse("unix:uid:2").unwrap()]
    );

    // Bad updates: empty selectors, a foreign SPIFFE ID, an unknown id, no id.
    let results = client
        .batch_update_entry(BatchUpdateEntryRequest {
            entries: vec![
                types::Entry {
                    id: web.id.clone(),
                    ..Default::default()
                },
                types::Entry {
                    id: web.id.clone(),
                    spiffe_id: sid("other.org", "/web"),
                    ..Default::default()
                },
                types::Entry {
                    id: "nope".into(),
                    selectors: vec![sel("unix", "uid:3")],
                    ..Default::default()
                },
                types::Entry::default(),
            ],
            input_mask: Some(EntryMask {
                selectors: true,
                spiffe_id: true,
                ..Default::default()
            }),
            output_mask: None,
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    let (code, text) = status(&results[0].status);
    assert_eq!(code, Code::InvalidArgument);
    assert!(text.contains("spiffe_id is required"), "{text}");
    let (code, text) = status(&results[1].status);
    assert_eq!(code, Code::InvalidArgument);
    assert!(text.contains("selectors"), "{text}");
    assert_eq!(status(&results[2].status).0, Code::NotFound);
    let (code, text) = status(&results[3].status);
    assert_eq!(code, Code::InvalidArgument);
    assert!(text.contains("missing entry ID"), "{text}");
    let stored = client
        .get_entry(GetEntryRequest {
            id: web.id.clone(),
            output_mask: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored, updated, "nothing changed by the refused updates");
}

// === authorization ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_get_their_entries_but_cannot_administer_entries() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    attested_agent(&ctx, AGENT, "11", &["join_token:node-1"]).await;
    attested_agent(&ctx, OTHER_AGENT, "22", &[]).await;
    let mine = entry(&ctx, AGENT, "spiffe://example.org/web", |b| b).await;
    let child = entry(
        &ctx,
        "spiffe://example.org/web",
        "spiffe://example.org/web/child",
        |b| b,
    )
    .await;
    let _other = entry(&ctx, OTHER_AGENT, "spiffe://example.org/db", |b| b).await;

    let mut agent =
        EntryClient::new(testing::serve_as(ctx.clone(), dir.path(), tls(AGENT, "11")).await);
    let err = agent
        .list_entries(ListEntriesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = agent
        .batch_create_entry(BatchCreateEntryRequest {
            entries: vec![message("/node", "/x", &[("unix", "uid:1")])],
            output_mask: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(stored_count(&ctx).await, 3);

    let got = agent
        .get_authorized_entries(GetAuthorizedEntriesRequest { output_mask: None })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let mut ids: Vec<String> = got.iter().map(|e| e.id.clone()).collect();
    ids.sort();
    let mut expected = vec![
        mine.id().as_str().to_owned(),
        child.id().as_str().to_owned(),
    ];
    expected.sort();
    assert_eq!(ids, expected);

    // A local (admin socket) caller is not an agent.
    let mut local_client = admin(&ctx, dir.path()).await;
    let err = local_client
        .get_authorized_entries(GetAuthorizedEntriesRequest { output_mask: None })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // An admin by SPIFFE ID may list; a plain workload may not.
    let admin_entry = entry(&ctx, AGENT, "spiffe://example.org/ops", |b| b.admin(true)).await;
    let mut by_id = EntryClient::new(
        testing::serve_as(
            ctx.clone(),
            dir.path(),
            tls("spiffe://example.org/ops", "5"),
        )
        .await,
    );
    let listed = by_id
        .list_entries(ListEntriesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert!(listed.iter().any(|e| e.id == admin_entry.id().as_str()));
    let mut workload = EntryClient::new(
        testing::serve_as(
            ctx.clone(),
            dir.path(),
            tls("spiffe://example.org/web", "6"),
        )
        .await,
    );
    let err = workload
        .count_entries(CountEntriesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

// === SyncAuthorizedEntries ===

/// Runs one sync: sends `first`, then for sparse answers asks for the ids `want` picks from
/// the revisions. Returns (revisions seen, entries received, responses).
async fn sync(
    client: &mut EntryClient<Channel>,
    first: SyncAuthorizedEntriesRequest,
    want: impl Fn(&[EntryRevision]) -> Vec<String>,
) -> Result<(Vec<EntryRevision>, Vec<types::Entry>, usize), tonic::Status> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(first).await.unwrap();
    let mut responses = tokio::time::timeout(
        LIMIT,
        client.sync_authorized_entries(tokio_stream::wrappers::ReceiverStream::new(rx)),
    )
    .await
    .unwrap()?
    .into_inner();
    let mut revisions = Vec::new();
    let mut entries = Vec::new();
    let mut count = 0;
    loop {
        let response = tokio::time::timeout(LIMIT, responses.message())
            .await
            .unwrap()?;
        let Some(response) = response else {
            // The server ended the stream: everything was sent in full.
            return Ok((revisions, entries, count));
        };
        count += 1;
        entries.extend(response.entries);
        revisions.extend(response.entry_revisions.clone());
        if !response.more && !response.entry_revisions.is_empty() {
            break;
        }
        if response.entry_revisions.is_empty() && !response.more {
            return Ok((revisions, entries, count));
        }
    }
    // Sparse: ask for what changed.
    tx.send(SyncAuthorizedEntriesRequest {
        output_mask: None,
        ids: want(&revisions),
    })
    .await
    .unwrap();
    loop {
        let response = tokio::time::timeout(LIMIT, responses.message())
            .await
            .unwrap()?
            .expect("a page");
        count += 1;
        entries.extend(response.entries);
        if !response.more {
            break;
        }
    }
    drop(tx);
    Ok((revisions, entries, count))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_sends_small_sets_in_full_and_checks_the_first_request() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    attested_agent(&ctx, AGENT, "11", &[]).await;
    let a = entry(&ctx, AGENT, "spiffe://example.org/a", |b| b).await;
    let _b = entry(&ctx, AGENT, "spiffe://example.org/b", |b| b).await;
    let _not_mine = entry(&ctx, OTHER_AGENT, "spiffe://example.org/c", |b| b).await;
    let mut client =
        EntryClient::new(testing::serve_as(ctx.clone(), dir.path(), tls(AGENT, "11")).await);

    let (revisions, entries, responses) = sync(
        &mut client,
        SyncAuthorizedEntriesRequest {
            output_mask: Some(EntryMask {
                revision_number: true,
                spiffe_id: true,
                ..Default::default()
            }),
            ids: vec![],
        },
        |_| unreachable!("not sparse"),
    )
    .await
    .unwrap();
    assert!(revisions.is_empty());
    assert_eq!(responses, 1);
    let mut paths: Vec<&str> = entries
        .iter()
        .map(|e| e.spiffe_id.as_ref().unwrap().path.as_str())
        .collect();
    paths.sort();
    assert_eq!(paths, ["/a", "/b"]);
    assert!(entries
        .iter()
        .all(|e| e.selectors.is_empty() && e.revision_number == 0));

    let err = sync(
        &mut client,
        SyncAuthorizedEntriesRequest {
            output_mask: None,
            ids: vec![a.id().as_str().to_owned()],
        },
        |_| Vec::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (
            Code::InvalidArgument,
            "specifying IDs on initial request is not supported"
        )
    );
    let err = sync(
        &mut client,
        SyncAuthorizedEntriesRequest {
            output_mask: Some(EntryMask::default()),
            ids: vec![],
        },
        |_| Vec::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::InvalidArgument, "revision number cannot be masked")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_of_a_large_set_sends_revisions_then_only_the_entries_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    sync_large_set(ctx, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_of_a_large_set_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(postgres_context(dir.path()).await);
    sync_large_set(ctx, dir.path()).await;
}

async fn sync_large_set(ctx: Arc<ServerContext>, dir: &std::path::Path) {
    attested_agent(&ctx, AGENT, "11", &[]).await;
    // More entries than SPIRE's page size (500), stored in one batch.
    let batch: Vec<RegistrationEntry> = (0..620)
        .map(|i| {
            RegistrationEntry::builder(
                new_entry_id().unwrap(),
                id(&format!("spiffe://example.org/w/{i}")),
                id(AGENT),
            )
            .selector(Selector::parse("unix:uid:1000").unwrap())
            .build()
            .unwrap()
        })
        .collect();
    for result in ctx.datastore.create_entries(batch).await.unwrap() {
        result.unwrap();
    }
    ctx.cache.refresh().await.unwrap();
    let foreign = entry(&ctx, OTHER_AGENT, "spiffe://example.org/not-yours", |b| b).await;
    let mut client = EntryClient::new(testing::serve_as(ctx.clone(), dir, tls(AGENT, "11")).await);

    // First sync: the agent knows nothing and asks for everything, and for another agent's
    // entry, which it does not get.
    let (revisions, entries, responses) = sync(
        &mut client,
        SyncAuthorizedEntriesRequest::default(),
        |revisions| {
            let mut ids: Vec<String> = revisions.iter().map(|r| r.id.clone()).collect();
            ids.push(foreign.id().as_str().to_owned());
            ids
        },
    )
    .await
    .unwrap();
    assert_eq!(revisions.len(), 620);
    assert_eq!(entries.len(), 620);
    assert!(entries.iter().all(|e| e.id != foreign.id().as_str()));
    assert_eq!(responses, 4, "two revision pages, two entry pages");
    let known: HashMap<String, i64> = entries
        .iter()
        .map(|e| (e.id.clone(), e.revision_number))
        .collect();

    // One entry changes.
    let changed = entries[317].clone();
    let results = admin(&ctx, dir)
        .await
        .batch_update_entry(BatchUpdateEntryRequest {
            entries: vec![types::Entry {
                id: changed.id.clone(),
                dns_names: vec!["changed.example.org".into()],
                ..Default::default()
            }],
            input_mask: Some(EntryMask {
                dns_names: true,
                ..Default::default()
            }),
            output_mask: None,
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(status(&results[0].status).0, Code::Ok);

    // Second sync: the agent asks only for entries whose revision differs from what it holds.
    let (revisions, entries, _) = sync(
        &mut client,
        SyncAuthorizedEntriesRequest::default(),
        |revisions| {
            revisions
                .iter()
                .filter(|r| known.get(&r.id) != Some(&r.revision_number))
                .map(|r| r.id.clone())
                .collect()
        },
    )
    .await
    .unwrap();
    assert_eq!(revisions.len(), 620);
    assert_eq!(entries.len(), 1, "only the changed entry is sent");
    assert_eq!(entries[0].id, changed.id);
    assert_eq!(entries[0].dns_names, ["changed.example.org"]);
    assert!(entries[0].revision_number > changed.revision_number);
}

// === additional_attributes ===

fn attributes(prefetch_off: bool, jti: bool) -> Option<types::entry::AdditionalAttributes> {
    Some(types::entry::AdditionalAttributes {
        disable_x509_svid_prefetch: prefetch_off,
        jwt_svid_include_jti: jti,
    })
}

async fn update_one(
    client: &mut EntryClient<Channel>,
    entry: types::Entry,
    input_mask: Option<EntryMask>,
) -> types::Entry {
    let results = tokio::time::timeout(
        LIMIT,
        client.batch_update_entry(BatchUpdateEntryRequest {
            entries: vec![entry],
            input_mask,
            output_mask: None,
        }),
    )
    .await
    .unwrap()
    .unwrap()
    .into_inner()
    .results;
    assert_eq!(status(&results[0].status).0, Code::Ok, "{results:?}");
    results[0].entry.clone().unwrap()
}

/// SPIRE's `additional_attributes`: stored on create, returned by get, list (unless the output
/// mask leaves them out) and the agents' sync, replaced by an update only under their input
/// mask; `store_svid` with no prefetch is refused and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn additional_attributes_are_stored_updated_by_mask_and_synced() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    attested_agent(&ctx, AGENT, "11", &[]).await;
    let mut client = admin(&ctx, dir.path()).await;

    let mut lazy = message(
        "/spire/agent/join_token/node-1",
        "/lazy",
        &[("unix", "uid:1")],
    );
    lazy.additional_attributes = attributes(true, false);
    let mut refused = message(
        "/spire/agent/join_token/node-1",
        "/stored",
        &[("unix", "uid:2")],
    );
    refused.store_svid = true;
    refused.additional_attributes = attributes(true, false);
    let results = create(&mut client, vec![lazy, refused]).await;
    let created = results[0].entry.clone().expect("created");
    assert_eq!(created.additional_attributes, attributes(true, false));
    let (code, text) = status(&results[1].status);
    assert_eq!(code, Code::InvalidArgument);
    assert!(
        text.contains("additional_attributes.disable_x509_svid_prefetch"),
        "{text}"
    );
    assert_eq!(
        stored_count(&ctx).await,
        1,
        "the refused entry is not stored"
    );

    let get = |client: &mut EntryClient<Channel>, mask: Option<EntryMask>| {
        let mut client = client.clone();
        let id = created.id.clone();
        async move {
            client
                .get_entry(GetEntryRequest {
                    id,
                    output_mask: mask,
                })
                .await
                .unwrap()
                .into_inner()
        }
    };
    assert_eq!(
        get(&mut client, None).await.additional_attributes,
        attributes(true, false)
    );
    let masked = get(
        &mut client,
        Some(EntryMask {
            spiffe_id: true,
            ..Default::default()
        }),
    )
    .await;
    assert_eq!(masked.additional_attributes, None, "left out by the mask");

    // Another field's mask keeps them, whatever the request carries.
    let mut change = created.clone();
    change.hint = "h".into();
    change.additional_attributes = attributes(false, true);
    let updated = update_one(
        &mut client,
        change.clone(),
        Some(EntryMask {
            hint: true,
            ..Default::default()
        }),
    )
    .await;
    assert_eq!(updated.hint, "h");
    assert_eq!(updated.additional_attributes, attributes(true, false));
    // Under their mask they are replaced together.
    let updated = update_one(
        &mut client,
        change,
        Some(EntryMask {
            additional_attributes: true,
            ..Default::default()
        }),
    )
    .await;
    assert_eq!(updated.additional_attributes, attributes(false, true));
    assert_eq!(updated.hint, "h");
    let entry = ctx.cache.entry(&created.id).expect("cached");
    assert!(entry.jwt_svid_include_jti() && !entry.disable_x509_svid_prefetch());

    // The agent's sync carries them.
    let mut agent =
        EntryClient::new(testing::serve_as(ctx.clone(), dir.path(), tls(AGENT, "11")).await);
    let (_, entries, _) = sync(&mut agent, SyncAuthorizedEntriesRequest::default(), |_| {
        unreachable!("not sparse")
    })
    .await
    .unwrap();
    let synced = entries.iter().find(|e| e.id == created.id).expect("synced");
    assert_eq!(synced.additional_attributes, attributes(false, true));

    // Without an input mask every field is replaced: no attributes clears them (as SPIRE's
    // `entry update` without its attribute flags).
    let mut plain = updated.clone();
    plain.additional_attributes = None;
    let cleared = update_one(&mut client, plain, None).await;
    assert_eq!(cleared.additional_attributes, None);
    let entry = ctx.cache.entry(&created.id).expect("cached");
    assert!(!entry.jwt_svid_include_jti() && !entry.disable_x509_svid_prefetch());
}
