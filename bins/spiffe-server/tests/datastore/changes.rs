//! The change log: one revision per change, in order, without gaps; limits; pruning.

use spiffe_core::pki_types::UnixTime;
use spiffe_server::datastore::{
    AttestedNode, Change, ChangeFeed, ChangeKind, ChangeOp, DataStore, EntryMask,
};

use crate::both_backends;
use crate::harness::{self, at, bundle, eid, entry, id, single, Backend};

both_backends!(every_write_is_logged_in_order, pruning_leaves_a_suffix);

fn changes(feed: ChangeFeed) -> Vec<Change> {
    match feed {
        ChangeFeed::Changes(changes) => changes,
        ChangeFeed::Pruned { pruned_through } => panic!("pruned through {pruned_through}"),
    }
}

async fn every_write_is_logged_in_order(backend: Backend) {
    let t = harness::open(backend).await;
    let store = &t.store;
    assert_eq!(store.current_revision().await.expect("revision"), 0);
    assert!(changes(store.changes_since(0, 10).await.expect("feed")).is_empty());

    let created =
        single(store.create_entries(vec![entry("e", "/e", &["k:v"])]).await).expect("entry");
    store
        .create_node(AttestedNode::new(id("/spire/agent/n"), "join_token"))
        .await
        .expect("node");
    store.create_bundle(bundle("x.org")).await.expect("bundle");
    let mut mask = EntryMask::none();
    mask.admin = true;
    let updated = single(
        store
            .update_entries(
                vec![created.to_builder().admin(true).build().expect("entry")],
                mask,
            )
            .await,
    )
    .expect("update");
    store.delete_entries(vec![eid("e")]).await.expect("delete")[0]
        .as_ref()
        .expect("deleted");

    let all = changes(store.changes_since(0, 100).await.expect("feed"));
    let summary: Vec<(u64, ChangeKind, &str, ChangeOp)> = all
        .iter()
        .map(|c| (c.revision, c.kind, c.id.as_str(), c.op))
        .collect();
    assert_eq!(
        summary,
        [
            (1, ChangeKind::Entry, "e", ChangeOp::Created),
            (
                2,
                ChangeKind::Node,
                "spiffe://example.org/spire/agent/n",
                ChangeOp::Created
            ),
            (3, ChangeKind::Bundle, "x.org", ChangeOp::Created),
            (4, ChangeKind::Entry, "e", ChangeOp::Updated),
            (5, ChangeKind::Entry, "e", ChangeOp::Deleted),
        ]
    );
    // The change log counts globally; the entry's own revision counts its updates (SPIRE).
    assert_eq!(created.revision_number(), 0);
    assert_eq!(updated.revision_number(), 1);
    assert_eq!(store.current_revision().await.expect("revision"), 5);
    // Limits and offsets.
    let two = changes(store.changes_since(1, 2).await.expect("feed"));
    assert_eq!(two.iter().map(|c| c.revision).collect::<Vec<_>>(), [2, 3]);
    assert!(changes(store.changes_since(5, 10).await.expect("feed")).is_empty());
    // Another server on the same database reads the same log.
    let other = t.reopen().await;
    assert_eq!(
        changes(other.changes_since(0, 100).await.expect("feed")),
        all
    );
}

async fn pruning_leaves_a_suffix(backend: Backend) {
    let t = harness::open(backend).await;
    let store = &t.store;
    for i in 0..4 {
        single(
            store
                .create_entries(vec![entry(&format!("e{i}"), &format!("/e{i}"), &["k:v"])])
                .await,
        )
        .expect("entry");
    }
    assert_eq!(store.prune_changes(at(0)).await.expect("prune nothing"), 0);
    assert_eq!(
        changes(store.changes_since(0, 10).await.expect("feed")).len(),
        4
    );

    // Everything was written before an hour from now.
    let later = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        UnixTime::now().as_secs() + 3600,
    ));
    assert_eq!(store.prune_changes(later).await.expect("prune"), 4);
    assert_eq!(
        store.changes_since(2, 10).await.expect("feed"),
        ChangeFeed::Pruned { pruned_through: 4 },
        "a reader behind the pruned prefix must reload"
    );
    assert!(changes(store.changes_since(4, 10).await.expect("feed")).is_empty());
    single(
        store
            .create_entries(vec![entry("e9", "/e9", &["k:v"])])
            .await,
    )
    .expect("entry");
    let after = changes(store.changes_since(4, 10).await.expect("feed"));
    assert_eq!(after.iter().map(|c| c.revision).collect::<Vec<_>>(), [5]);
    assert_eq!(store.current_revision().await.expect("revision"), 5);
}
