//! Creating, reading, updating and deleting registration entries.

use std::time::Duration;

use spiffe_attest::RegistrationEntry;
use spiffe_server::datastore::{
    ChangeFeed, ChangeOp, DataStore, DataStoreError, EntryFilter, EntryMask, Record,
};

use crate::both_backends;
use crate::harness::{self, at, bundle, eid, entry, id, sel, single, td, Backend};

both_backends!(
    create_and_read_back_every_field,
    same_identity_twice_is_already_exists,
    batch_items_fail_alone,
    federates_with_needs_a_stored_bundle,
    update_replaces_masked_fields_only,
    update_errors_leave_the_entry_unchanged,
    delete_removes_entries_and_their_children,
);

fn full_entry() -> RegistrationEntry {
    RegistrationEntry::builder(eid("full"), id("/web"), id("/agent"))
        .selectors([sel("unix:uid:1000"), sel("unix:gid:1000")])
        .x509_svid_ttl(Some(Duration::from_secs(3600)))
        .jwt_svid_ttl(Some(Duration::from_secs(300)))
        .dns_names(["web.example.org".to_owned(), "a.example.org".to_owned()])
        .federates_with(td("other.org"))
        .admin(true)
        .downstream(true)
        .hint("frontend")
        .expires_at(Some(at(2_000_000_000)))
        .build()
        .expect("entry")
}

async fn create_and_read_back_every_field(backend: Backend) {
    let t = harness::open(backend).await;
    let store = &t.store;
    store
        .create_bundle(bundle("other.org"))
        .await
        .expect("bundle");
    let before = store.current_revision().await.expect("revision");
    let created = single(store.create_entries(vec![full_entry()]).await).expect("create");
    assert_eq!(created.revision_number(), 0);
    assert_eq!(
        store.current_revision().await.expect("revision"),
        before + 1
    );
    let now = spiffe_core::pki_types::UnixTime::now().as_secs();
    let created_at = created.created_at().expect("created_at set").as_secs();
    assert!(created_at.abs_diff(now) < 60, "{created_at} vs {now}");

    let read = store
        .get_entry(&eid("full"))
        .await
        .expect("get")
        .expect("found");
    assert_eq!(read, created);
    // DNS names keep their order; selectors are a sorted set.
    assert_eq!(read.dns_names(), ["web.example.org", "a.example.org"]);
    assert_eq!(
        read.selectors(),
        [sel("unix:gid:1000"), sel("unix:uid:1000")]
    );
    assert_eq!(read.federates_with(), [td("other.org")]);
    assert_eq!(read.hint(), Some("frontend"));
    assert_eq!(read.expires_at().map(|t| t.as_secs()), Some(2_000_000_000));
    assert_eq!(read.x509_svid_ttl(), Some(Duration::from_secs(3600)));
    assert_eq!(read.jwt_svid_ttl(), Some(Duration::from_secs(300)));
    assert!(read.admin() && read.downstream() && !read.store_svid());

    let plain = single(
        store
            .create_entries(vec![entry("plain", "/db", &["unix:uid:1"])])
            .await,
    )
    .expect("create");
    assert_eq!(plain.hint(), None);
    assert_eq!(plain.x509_svid_ttl(), None);
    let many = store
        .get_entries(&[eid("plain"), eid("missing"), eid("full")])
        .await
        .expect("get many");
    assert_eq!(many, vec![created, plain]);
    assert_eq!(store.get_entry(&eid("missing")).await.expect("get"), None);
    assert_eq!(
        store
            .count_entries(&EntryFilter::default())
            .await
            .expect("count"),
        2
    );
}

async fn same_identity_twice_is_already_exists(backend: Backend) {
    let t = harness::open(backend).await;
    let store = &t.store;
    single(
        store
            .create_entries(vec![entry("a", "/web", &["unix:uid:1", "unix:gid:2"])])
            .await,
    )
    .expect("create");
    // Same SPIFFE ID, parent and selector set (in another order), another id.
    let error = single(
        store
            .create_entries(vec![entry("b", "/web", &["unix:gid:2", "unix:uid:1"])])
            .await,
    )
    .expect_err("duplicate");
    match error {
        DataStoreError::AlreadyExists {
            record: Record::Entry,
            existing: Some(existing),
        } => assert_eq!(existing, eid("a")),
        other => panic!("unexpected {other:?}"),
    }
    // Same id, different identity.
    let error = single(
        store
            .create_entries(vec![entry("a", "/other", &["unix:uid:9"])])
            .await,
    )
    .expect_err("duplicate id");
    assert!(
        matches!(
            error,
            DataStoreError::AlreadyExists {
                record: Record::Entry,
                ..
            }
        ),
        "{error:?}"
    );
    // A different selector set or parent is a different entry.
    single(
        store
            .create_entries(vec![entry("c", "/web", &["unix:uid:1"])])
            .await,
    )
    .expect("subset");
    let other_parent = RegistrationEntry::builder(eid("d"), id("/web"), id("/agent2"))
        .selectors([sel("unix:uid:1"), sel("unix:gid:2")])
        .build()
        .expect("entry");
    single(store.create_entries(vec![other_parent]).await).expect("other parent");
    assert_eq!(
        store
            .count_entries(&EntryFilter::default())
            .await
            .expect("count"),
        3
    );
}

async fn batch_items_fail_alone(backend: Backend) {
    let t = harness::open(backend).await;
    let store = &t.store;
    let start = store.current_revision().await.expect("revision");
    let results = store
        .create_entries(vec![
            entry("one", "/one", &["k:v:1"]),
            entry("dup", "/one", &["k:v:1"]),
            entry("two", "/two", &["k:v:2"]),
            entry("one", "/three", &["k:v:3"]),
        ])
        .await
        .expect("batch");
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    assert!(matches!(
        results[1],
        Err(DataStoreError::AlreadyExists { .. })
    ));
    assert!(matches!(
        results[3],
        Err(DataStoreError::AlreadyExists { .. })
    ));
    // Nothing of the failed items was stored or logged; revisions stay contiguous.
    assert_eq!(
        store
            .count_entries(&EntryFilter::default())
            .await
            .expect("count"),
        2
    );
    assert_eq!(store.get_entry(&eid("dup")).await.expect("get"), None);
    assert_eq!(store.current_revision().await.expect("revision"), start + 2);
    let ChangeFeed::Changes(changes) = store.changes_since(start, 100).await.expect("changes")
    else {
        panic!("pruned")
    };
    let revisions: Vec<u64> = changes.iter().map(|c| c.revision).collect();
    assert_eq!(revisions, [start + 1, start + 2]);
    assert_eq!(changes[0].id, "one");
    assert_eq!(changes[1].id, "two");
    let ok_revisions: Vec<u64> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(RegistrationEntry::revision_number)
        .collect();
    assert_eq!(ok_revisions, [0, 0], "new entries start at revision 0");
}

async fn federates_with_needs_a_stored_bundle(backend: Backend) {
    let t = harness::open(backend).await;
    let store = &t.store;
    let federated = RegistrationEntry::builder(eid("f"), id("/f"), id("/agent"))
        .selector(sel("k:v"))
        .federates_with(td("other.org"))
        .build()
        .expect("entry");
    let error = single(store.create_entries(vec![federated.clone()]).await).expect_err("no bundle");
    assert!(
        matches!(
            error,
            DataStoreError::InvalidArgument {
                field: "federates_with",
                ..
            }
        ),
        "{error:?}"
    );
    store
        .create_bundle(bundle("other.org"))
        .await
        .expect("bundle");
    let created = single(store.create_entries(vec![federated]).await).expect("with bundle");
    assert_eq!(created.federates_with(), [td("other.org")]);
}

async fn update_replaces_masked_fields_only(backend: Backend) {
    let t = harness::open(backend).await;
    let store = &t.store;
    store
        .create_bundle(bundle("other.org"))
        .await
        .expect("bundle");
    store
        .create_bundle(bundle("third.org"))
        .await
        .expect("bundle");
    let created = single(store.create_entries(vec![full_entry()]).await).expect("create");
    let logged_at_creation = store.current_revision().await.expect("revision");

    // Only the hint, from an entry that differs everywhere.
    let change = RegistrationEntry::builder(eid("full"), id("/changed"), id("/agent9"))
        .selector(sel("x:y"))
        .hint("backend")
        .build()
        .expect("entry");
    let mut mask = EntryMask::none();
    mask.hint = true;
    let updated = single(store.update_entries(vec![change.clone()], mask).await).expect("update");
    assert_eq!(updated.hint(), Some("backend"));
    assert_eq!(updated.spiffe_id(), created.spiffe_id());
    assert_eq!(updated.selectors(), created.selectors());
    assert_eq!(updated.created_at(), created.created_at());
    assert_eq!(updated.revision_number(), created.revision_number() + 1);
    assert_eq!(
        store.get_entry(&eid("full")).await.expect("get"),
        Some(updated.clone())
    );

    // Every field.
    let everything = RegistrationEntry::builder(eid("full"), id("/changed"), id("/agent9"))
        .selectors([sel("x:y"), sel("x:z")])
        .dns_name("new.example.org")
        .federates_with(td("third.org"))
        .store_svid(true)
        .x509_svid_ttl(None)
        .build()
        .expect("entry");
    let replaced = single(
        store
            .update_entries(vec![everything.clone()], EntryMask::all())
            .await,
    )
    .expect("update all");
    assert_eq!(replaced.spiffe_id(), everything.spiffe_id());
    assert_eq!(replaced.parent_id(), everything.parent_id());
    assert_eq!(replaced.selectors(), everything.selectors());
    assert_eq!(replaced.dns_names(), ["new.example.org"]);
    assert_eq!(replaced.federates_with(), [td("third.org")]);
    assert_eq!(replaced.x509_svid_ttl(), None);
    assert_eq!(replaced.hint(), None);
    assert!(!replaced.admin() && replaced.store_svid());
    assert_eq!(
        store.get_entry(&eid("full")).await.expect("get"),
        Some(replaced.clone())
    );

    let ChangeFeed::Changes(changes) = store
        .changes_since(logged_at_creation, 10)
        .await
        .expect("changes")
    else {
        panic!("pruned")
    };
    assert_eq!(changes.len(), 2);
    assert!(changes
        .iter()
        .all(|c| c.op == ChangeOp::Updated && c.id == "full"));
    // Two updates: the entry's own revision is 2; the log's revisions are global.
    assert_eq!(replaced.revision_number(), 2);
    assert!(changes[0].revision < changes[1].revision);
}

async fn update_errors_leave_the_entry_unchanged(backend: Backend) {
    let t = harness::open(backend).await;
    let store = &t.store;
    let a = single(
        store
            .create_entries(vec![entry("a", "/a", &["k:v:1"])])
            .await,
    )
    .expect("a");
    let b = single(
        store
            .create_entries(vec![entry("b", "/b", &["k:v:2"])])
            .await,
    )
    .expect("b");
    let revision = store.current_revision().await.expect("revision");

    let mut identity = EntryMask::none();
    identity.spiffe_id = true;
    identity.selectors = true;
    let mut store_svid = EntryMask::none();
    store_svid.store_svid = true;
    let mixed = RegistrationEntry::builder(eid("a"), id("/a"), id("/agent"))
        .selectors([sel("k:v:1")])
        .store_svid(true)
        .build()
        .expect("entry");
    let results = store
        .update_entries(
            vec![
                // Would become b's twin.
                entry("b", "/a", &["k:v:1"]),
                entry("missing", "/m", &["k:v:3"]),
            ],
            identity,
        )
        .await
        .expect("batch");
    match &results[0] {
        Err(DataStoreError::AlreadyExists { existing, .. }) => {
            assert_eq!(existing.as_ref(), Some(&eid("a")))
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        results[1],
        Err(DataStoreError::NotFound {
            record: Record::Entry
        })
    ));
    // store_svid with selectors of one type is fine; make a's selectors mixed first? Use a
    // second type through the mask below: selectors stay, store_svid set -> still one type.
    single(store.update_entries(vec![mixed], store_svid).await).expect("one selector type");
    let mut two_types = EntryMask::none();
    two_types.selectors = true;
    let error = single(
        store
            .update_entries(vec![entry("a", "/a", &["k:v:1", "other:v"])], two_types)
            .await,
    )
    .expect_err("store_svid with two selector types");
    assert!(
        matches!(error, DataStoreError::InvalidEntry(_)),
        "{error:?}"
    );

    assert_eq!(store.get_entry(&eid("b")).await.expect("get"), Some(b));
    let a_now = store.get_entry(&eid("a")).await.expect("get").expect("a");
    assert!(a_now.store_svid());
    assert_eq!(a_now.selectors(), a.selectors());
    // Only the successful update took a revision.
    assert_eq!(
        store.current_revision().await.expect("revision"),
        revision + 1
    );
}

async fn delete_removes_entries_and_their_children(backend: Backend) {
    let t = harness::open(backend).await;
    let store = &t.store;
    single(
        store
            .create_entries(vec![entry("a", "/a", &["k:v:1"])])
            .await,
    )
    .expect("a");
    single(
        store
            .create_entries(vec![entry("b", "/b", &["k:v:1"])])
            .await,
    )
    .expect("b");
    let results = store
        .delete_entries(vec![eid("a"), eid("missing")])
        .await
        .expect("batch");
    assert!(results[0].is_ok());
    assert!(matches!(
        results[1],
        Err(DataStoreError::NotFound {
            record: Record::Entry
        })
    ));
    assert_eq!(store.get_entry(&eid("a")).await.expect("get"), None);
    let mut filter = EntryFilter::default();
    filter.by_selectors = Some(spiffe_server::datastore::SelectorMatch {
        selectors: vec![sel("k:v:1")],
        behavior: spiffe_server::datastore::MatchBehavior::Any,
    });
    let page = store
        .list_entries(&filter, &Default::default())
        .await
        .expect("list");
    let ids: Vec<&str> = page.items.iter().map(|e| e.id().as_str()).collect();
    assert_eq!(ids, ["b"]);
    // The id can be used again.
    single(
        store
            .create_entries(vec![entry("a", "/a", &["k:v:1"])])
            .await,
    )
    .expect("recreate");
}
