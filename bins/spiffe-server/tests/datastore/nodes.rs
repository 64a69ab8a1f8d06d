//! Attested nodes: lifecycle, ban, and SPIRE's ListAgents filters.

use spiffe_server::datastore::{
    AttestedNode, ChangeFeed, ChangeKind, ChangeOp, DataStore, DataStoreError, MatchBehavior,
    NodeFilter, NodeMask, PageRequest, Record, SelectorMatch,
};

use crate::both_backends;
use crate::harness::{self, at, id, sel, Backend};

both_backends!(node_lifecycle, node_filters_and_paging);

fn node(path: &str, kind: &str, selectors: &[&str], not_after: u64) -> AttestedNode {
    let mut n = AttestedNode::new(id(path), kind);
    n.selectors = selectors.iter().map(|s| sel(s)).collect();
    n.cert_serial_number = Some(format!("{not_after}"));
    n.cert_not_after = Some(at(not_after));
    n
}

async fn node_lifecycle(backend: Backend) {
    let t = harness::open(backend).await;
    let store = &t.store;
    let agent = id("/spire/agent/x509pop/n1");
    let mut n = node(
        "/spire/agent/x509pop/n1",
        "x509pop",
        &["x509pop:cn:n1", "x509pop:ca:a"],
        1000,
    );
    n.can_reattest = true;
    let created = store.create_node(n.clone()).await.expect("create");
    assert!(created.revision_number > 0);
    assert!(created.created_at.is_some());
    assert_eq!(
        created.selectors,
        [sel("x509pop:ca:a"), sel("x509pop:cn:n1")]
    );
    assert_eq!(
        store.get_node(&agent).await.expect("get"),
        Some(created.clone())
    );
    let error = store.create_node(n).await.expect_err("duplicate");
    assert!(
        matches!(
            error,
            DataStoreError::AlreadyExists {
                record: Record::Node,
                ..
            }
        ),
        "{error:?}"
    );

    // A renewal: the new certificate first, then it becomes current.
    let mut renewal = AttestedNode::new(agent.clone(), "ignored");
    renewal.cert_serial_number = Some("1000".into());
    renewal.cert_not_after = Some(at(1000));
    renewal.new_cert_serial_number = Some("2000".into());
    renewal.new_cert_not_after = Some(at(2000));
    let renewed = store
        .update_node(renewal, NodeMask::certificates())
        .await
        .expect("renew");
    assert_eq!(renewed.attestation_type, "x509pop", "not masked");
    assert_eq!(renewed.new_cert_serial_number.as_deref(), Some("2000"));
    assert!(renewed.revision_number > created.revision_number);
    let mut reattest = AttestedNode::new(agent.clone(), "x509pop");
    reattest.selectors = vec![sel("x509pop:cn:n1")];
    let mut mask = NodeMask::default();
    mask.selectors = true;
    let reattested = store.update_node(reattest, mask).await.expect("selectors");
    assert_eq!(reattested.selectors, [sel("x509pop:cn:n1")]);
    assert_eq!(reattested.new_cert_not_after, Some(at(2000)));
    assert_eq!(store.get_node(&agent).await.expect("get"), Some(reattested));

    let banned = store.ban_node(&agent).await.expect("ban");
    assert!(banned.banned);
    assert_eq!(banned.cert_serial_number, None);
    assert_eq!(banned.new_cert_serial_number, None);
    assert_eq!(
        store.get_node(&agent).await.expect("get"),
        Some(banned.clone())
    );

    store.delete_node(&agent).await.expect("delete");
    assert_eq!(store.get_node(&agent).await.expect("get"), None);
    for error in [
        store.delete_node(&agent).await.expect_err("gone"),
        store.ban_node(&agent).await.expect_err("gone"),
        store
            .update_node(AttestedNode::new(agent.clone(), "x"), NodeMask::all())
            .await
            .expect_err("gone"),
    ] {
        assert!(
            matches!(
                error,
                DataStoreError::NotFound {
                    record: Record::Node
                }
            ),
            "{error:?}"
        );
    }

    let ChangeFeed::Changes(changes) = store
        .changes_since(created.revision_number - 1, 100)
        .await
        .expect("changes")
    else {
        panic!("pruned")
    };
    let ops: Vec<ChangeOp> = changes.iter().map(|c| c.op).collect();
    use ChangeOp::*;
    assert_eq!(ops, [Created, Updated, Updated, Updated, Deleted]);
    assert!(changes
        .iter()
        .all(|c| c.kind == ChangeKind::Node && c.id == agent.as_str()));
}

async fn ids(store: &dyn DataStore, filter: &NodeFilter) -> Vec<String> {
    let page = store
        .list_nodes(filter, &PageRequest::all())
        .await
        .expect("list");
    assert_eq!(
        store.count_nodes(filter).await.expect("count") as usize,
        page.items.len()
    );
    page.items
        .iter()
        .map(|n| n.spiffe_id.path().trim_start_matches('/').to_owned())
        .collect()
}

async fn node_filters_and_paging(backend: Backend) {
    let t = harness::open(backend).await;
    let store: &dyn DataStore = t.store.as_ref();
    let mut n1 = node("/n1", "join_token", &[], 100);
    n1.can_reattest = false;
    let mut n2 = node("/n2", "x509pop", &["p:a", "p:b"], 200);
    n2.can_reattest = true;
    let n3 = node("/n3", "x509pop", &["p:b"], 300);
    for n in [n1, n2, n3] {
        store.create_node(n).await.expect("create");
    }
    store.ban_node(&id("/n3")).await.expect("ban");

    let mut f = NodeFilter::default();
    assert_eq!(ids(store, &f).await, ["n1", "n2", "n3"]);
    f.by_attestation_type = Some("x509pop".into());
    assert_eq!(ids(store, &f).await, ["n2", "n3"]);
    f.by_banned = Some(false);
    assert_eq!(ids(store, &f).await, ["n2"]);
    let mut f = NodeFilter::default();
    f.by_banned = Some(true);
    assert_eq!(ids(store, &f).await, ["n3"]);
    let mut f = NodeFilter::default();
    f.by_can_reattest = Some(true);
    assert_eq!(ids(store, &f).await, ["n2"]);
    let mut f = NodeFilter::default();
    f.by_expires_before = Some(at(250));
    assert_eq!(ids(store, &f).await, ["n1", "n2"]);

    let by = |behavior, values: &[&str]| {
        let mut f = NodeFilter::default();
        f.by_selector_match = Some(SelectorMatch {
            selectors: values.iter().map(|s| sel(s)).collect(),
            behavior,
        });
        f
    };
    use MatchBehavior::*;
    assert_eq!(ids(store, &by(Exact, &["p:b"])).await, ["n3"]);
    assert_eq!(ids(store, &by(Subset, &["p:b"])).await, ["n3"]);
    assert_eq!(
        ids(store, &by(Subset, &["p:a", "p:b", "p:c"])).await,
        ["n2", "n3"]
    );
    assert_eq!(ids(store, &by(Superset, &["p:b"])).await, ["n2", "n3"]);
    assert_eq!(ids(store, &by(Exact, &["p:a", "p:b"])).await, ["n2"]);
    assert_eq!(ids(store, &by(Any, &["p:a", "q:z"])).await, ["n2"]);
    assert!(store.count_nodes(&by(Any, &[])).await.is_err());

    let first = store
        .list_nodes(&NodeFilter::default(), &PageRequest::first(2))
        .await
        .expect("page");
    assert_eq!(first.items.len(), 2);
    let rest = store
        .list_nodes(
            &NodeFilter::default(),
            &PageRequest::after(2, first.next.expect("token")),
        )
        .await
        .expect("page");
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.items[0].spiffe_id, id("/n3"));
    assert!(rest.next.is_none());
}
