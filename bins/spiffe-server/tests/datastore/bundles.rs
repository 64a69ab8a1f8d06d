//! Bundles: create/get/update/append/set/list/count/delete and the federated delete modes.

use std::time::Duration;

use spiffe_attest::RegistrationEntry;
use spiffe_server::datastore::{
    BundleDeleteMode, BundleMask, ChangeFeed, ChangeKind, ChangeOp, ConflictReason, DataStore,
    DataStoreError, EntryFilter, JwtAuthority, PageRequest, Record, X509Authority,
};

use crate::both_backends;
use crate::harness::{self, at, bundle, eid, id, sel, single, td, Backend};

both_backends!(bundle_operations, delete_modes);

async fn bundle_operations(backend: Backend) {
    let t = harness::open(backend).await;
    let store = &t.store;
    let mut own = bundle("example.org");
    own.jwt_authorities
        .push(JwtAuthority::new("k1", vec![1, 2, 3], Some(at(5000))));
    own.refresh_hint = Some(Duration::from_secs(60));
    own.sequence_number = 7;
    assert_eq!(store.create_bundle(own.clone()).await.expect("create"), own);
    let error = store
        .create_bundle(own.clone())
        .await
        .expect_err("duplicate");
    assert!(matches!(
        error,
        DataStoreError::AlreadyExists {
            record: Record::Bundle,
            ..
        }
    ));
    assert_eq!(
        store.get_bundle(&td("example.org")).await.expect("get"),
        Some(own.clone())
    );
    assert_eq!(
        store.get_bundle(&td("nowhere.org")).await.expect("get"),
        None
    );

    // Update only the refresh hint and taint flags carried by the authorities.
    let mut change = own.clone();
    change.refresh_hint = Some(Duration::from_secs(30));
    change.sequence_number = 99;
    change.x509_authorities[0].tainted = true;
    let mut mask = BundleMask::default();
    mask.refresh_hint = true;
    let updated = store
        .update_bundle(change.clone(), mask)
        .await
        .expect("update");
    assert_eq!(updated.refresh_hint, Some(Duration::from_secs(30)));
    assert_eq!(updated.sequence_number, 7);
    assert!(!updated.x509_authorities[0].tainted);
    let all = store
        .update_bundle(change.clone(), BundleMask::all())
        .await
        .expect("update all");
    assert_eq!(all, change);
    assert_eq!(
        store.get_bundle(&td("example.org")).await.expect("get"),
        Some(change.clone())
    );
    let error = store
        .update_bundle(bundle("nowhere.org"), BundleMask::all())
        .await
        .expect_err("missing");
    assert!(matches!(
        error,
        DataStoreError::NotFound {
            record: Record::Bundle
        }
    ));

    // Append: adds what is missing and bumps the sequence; nothing new changes nothing.
    let mut more = bundle("example.org");
    more.x509_authorities.push(X509Authority::new(vec![9, 9]));
    more.jwt_authorities
        .push(JwtAuthority::new("k1", vec![7], None));
    more.jwt_authorities
        .push(JwtAuthority::new("k2", vec![8], None));
    let appended = store.append_bundle(more.clone()).await.expect("append");
    assert_eq!(appended.x509_authorities.len(), 2);
    assert_eq!(appended.jwt_authorities.len(), 2);
    assert_eq!(appended.sequence_number, change.sequence_number + 1);
    let revision = store.current_revision().await.expect("revision");
    let again = store.append_bundle(more).await.expect("append again");
    assert_eq!(again, appended);
    assert_eq!(
        store.current_revision().await.expect("revision"),
        revision,
        "no change, no revision"
    );
    // Append to a trust domain without a bundle creates it.
    let created = store
        .append_bundle(bundle("new.org"))
        .await
        .expect("append new");
    assert_eq!(
        store.get_bundle(&td("new.org")).await.expect("get"),
        Some(created)
    );

    // Set: create or replace.
    let replacement = bundle("new.org");
    let mut replacement = replacement;
    replacement.sequence_number = 3;
    store
        .set_bundle(replacement.clone())
        .await
        .expect("set replace");
    assert_eq!(
        store.get_bundle(&td("new.org")).await.expect("get"),
        Some(replacement)
    );
    store.set_bundle(bundle("a.org")).await.expect("set create");

    assert_eq!(store.count_bundles().await.expect("count"), 3);
    let first = store
        .list_bundles(&PageRequest::first(2))
        .await
        .expect("list");
    let names: Vec<&str> = first
        .items
        .iter()
        .map(|b| b.trust_domain.as_str())
        .collect();
    assert_eq!(names, ["a.org", "example.org"]);
    let rest = store
        .list_bundles(&PageRequest::after(2, first.next.expect("token")))
        .await
        .expect("list");
    let names: Vec<&str> = rest.items.iter().map(|b| b.trust_domain.as_str()).collect();
    assert_eq!(names, ["new.org"]);

    store
        .delete_bundle(&td("a.org"), BundleDeleteMode::Restrict)
        .await
        .expect("delete");
    let error = store
        .delete_bundle(&td("a.org"), BundleDeleteMode::Restrict)
        .await
        .expect_err("gone");
    assert!(matches!(
        error,
        DataStoreError::NotFound {
            record: Record::Bundle
        }
    ));
    assert_eq!(store.count_bundles().await.expect("count"), 2);
}

fn federated(entry_id: &str, domains: &[&str]) -> RegistrationEntry {
    let mut b =
        RegistrationEntry::builder(eid(entry_id), id(&format!("/{entry_id}")), id("/agent"))
            .selector(sel("k:v"));
    for d in domains {
        b = b.federates_with(td(d));
    }
    b.build().expect("entry")
}

async fn delete_modes(backend: Backend) {
    let t = harness::open(backend).await;
    let store = &t.store;
    for d in ["x.org", "y.org"] {
        store.create_bundle(bundle(d)).await.expect("bundle");
    }
    for e in [
        federated("a", &["x.org"]),
        federated("b", &["x.org", "y.org"]),
        federated("c", &["y.org"]),
    ] {
        single(store.create_entries(vec![e]).await).expect("entry");
    }

    let error = store
        .delete_bundle(&td("x.org"), BundleDeleteMode::Restrict)
        .await
        .expect_err("in use");
    assert!(
        matches!(
            error,
            DataStoreError::Conflict(ConflictReason::BundleInUse { entries: 2 })
        ),
        "{error:?}"
    );
    assert!(store.get_bundle(&td("x.org")).await.expect("get").is_some());

    let before = store.current_revision().await.expect("revision");
    store
        .delete_bundle(&td("x.org"), BundleDeleteMode::Dissociate)
        .await
        .expect("dissociate");
    assert!(store.get_bundle(&td("x.org")).await.expect("get").is_none());
    let a = store
        .get_entry(&eid("a"))
        .await
        .expect("get")
        .expect("a kept");
    let b = store
        .get_entry(&eid("b"))
        .await
        .expect("get")
        .expect("b kept");
    assert!(a.federates_with().is_empty());
    assert_eq!(b.federates_with(), [td("y.org")]);
    // Each dissociated entry is updated: its own revision counts one more (it was 0).
    assert_eq!((a.revision_number(), b.revision_number()), (1, 1));
    let ChangeFeed::Changes(changes) = store.changes_since(before, 10).await.expect("changes")
    else {
        panic!("pruned")
    };
    let summary: Vec<(ChangeKind, &str, ChangeOp)> = changes
        .iter()
        .map(|c| (c.kind, c.id.as_str(), c.op))
        .collect();
    assert_eq!(
        summary,
        [
            (ChangeKind::Entry, "a", ChangeOp::Updated),
            (ChangeKind::Entry, "b", ChangeOp::Updated),
            (ChangeKind::Bundle, "x.org", ChangeOp::Deleted),
        ]
    );

    let before = store.current_revision().await.expect("revision");
    store
        .delete_bundle(&td("y.org"), BundleDeleteMode::Delete)
        .await
        .expect("delete with entries");
    let left = store
        .list_entries(&EntryFilter::default(), &PageRequest::all())
        .await
        .expect("list");
    let ids: Vec<&str> = left.items.iter().map(|e| e.id().as_str()).collect();
    assert_eq!(ids, ["a"]);
    let ChangeFeed::Changes(changes) = store.changes_since(before, 10).await.expect("changes")
    else {
        panic!("pruned")
    };
    let summary: Vec<(ChangeKind, &str, ChangeOp)> = changes
        .iter()
        .map(|c| (c.kind, c.id.as_str(), c.op))
        .collect();
    assert_eq!(
        summary,
        [
            (ChangeKind::Entry, "b", ChangeOp::Deleted),
            (ChangeKind::Entry, "c", ChangeOp::Deleted),
            (ChangeKind::Bundle, "y.org", ChangeOp::Deleted),
        ]
    );
}
