//! Large `create_entries` batches: written with multi-row statements, with the outcome of
//! creating the items one by one in order; and the item-by-item path a failing statement falls
//! back to.

use spiffe_attest::RegistrationEntry;
use spiffe_server::datastore::{ChangeFeed, DataStore, DataStoreError, EntryFilter, Record};

use crate::both_backends;
use crate::harness::{self, bundle, eid, entry, id, raw_execute, sel, td, Backend};

both_backends!(
    a_large_mixed_batch_keeps_order_and_fails_items_alone,
    a_failing_statement_falls_back_to_item_by_item,
);

/// Item `n` of the batch: three selectors, DNS names on even items, a federated trust domain
/// on every seventh.
fn numbered(n: usize) -> RegistrationEntry {
    numbered_as(n, &format!("e{n}"))
}

/// Item `n`'s identity and children under the id `entry_id`.
fn numbered_as(n: usize, entry_id: &str) -> RegistrationEntry {
    let mut b = RegistrationEntry::builder(eid(entry_id), id(&format!("/w/{n}")), id("/agent"))
        .selectors([
            sel(&format!("unix:uid:{n}")),
            sel("unix:gid:100"),
            sel(&format!("k8s:ns:n{}", n % 10)),
        ]);
    if n % 2 == 0 {
        b = b.dns_names([format!("w{n}.example.org"), format!("a{n}.example.org")]);
    }
    if n % 7 == 0 {
        b = b.federates_with(td("other.org"));
    }
    b.build().expect("entry")
}

async fn a_large_mixed_batch_keeps_order_and_fails_items_alone(backend: Backend) {
    let t = harness::open(backend).await;
    let store = &t.store;
    store
        .create_bundle(bundle("other.org"))
        .await
        .expect("bundle");
    let stored = entry("stored", "/stored", &["k:v:s"]);
    harness::single(store.create_entries(vec![stored]).await).expect("stored");
    let start = store.current_revision().await.expect("revision");

    // 450 good items (more than one statement's rows, and more than 1,000 selector rows), with
    // five bad ones among them.
    let mut batch: Vec<RegistrationEntry> = (0..450).map(numbered).collect();
    // The id of an earlier item.
    batch.insert(100, entry("e5", "/elsewhere", &["k:v:x"]));
    // The identity of the stored entry.
    batch.insert(200, entry("x1", "/stored", &["k:v:s"]));
    // The identity of a later item: this one is first, so the later one fails.
    batch.insert(300, numbered_as(449, "x2"));
    // A trust domain without a bundle.
    let lost = RegistrationEntry::builder(eid("x3"), id("/lost"), id("/agent"))
        .selector(sel("k:v:lost"))
        .federates_with(td("nowhere.org"))
        .build()
        .expect("x3");
    batch.insert(350, lost);
    // The identity of an earlier item, under a new id.
    batch.insert(400, numbered_as(3, "x4"));
    let expected_ids: Vec<String> = batch.iter().map(|e| e.id().as_str().to_owned()).collect();

    let results = store.create_entries(batch.clone()).await.expect("batch");
    assert_eq!(results.len(), batch.len());
    let failed: Vec<usize> = (0..results.len())
        .filter(|&i| results[i].is_err())
        .collect();
    let last = batch.len() - 1;
    assert_eq!(failed, [100, 200, 350, 400, last], "the failed positions");
    let existing = |i: usize| match &results[i] {
        Err(DataStoreError::AlreadyExists {
            record: Record::Entry,
            existing,
        }) => existing.as_ref().map(|e| e.as_str().to_owned()),
        other => panic!("item {i}: {other:?}"),
    };
    assert_eq!(existing(200).as_deref(), Some("stored"));
    assert_eq!(existing(400).as_deref(), Some("e3"));
    assert_eq!(
        existing(last).as_deref(),
        Some("x2"),
        "the earlier item owns the identity"
    );
    existing(100);
    assert!(
        matches!(
            results[350],
            Err(DataStoreError::InvalidArgument {
                field: "federates_with",
                ..
            })
        ),
        "{:?}",
        results[350]
    );

    // What came back is what was asked, and what is stored is what came back.
    for (i, result) in results.iter().enumerate() {
        let Ok(created) = result else { continue };
        assert_eq!(created.id().as_str(), expected_ids[i]);
        assert_eq!(created.revision_number(), 0);
        assert!(created.created_at().is_some());
    }
    assert_eq!(
        store
            .count_entries(&EntryFilter::default())
            .await
            .expect("count"),
        1 + 450
    );
    for n in [0, 7, 199, 448] {
        let read = store
            .get_entry(&eid(&format!("e{n}")))
            .await
            .expect("get")
            .expect("found");
        let want = numbered(n);
        let mut selectors = read.selectors().to_vec();
        let mut want_selectors = want.selectors().to_vec();
        selectors.sort();
        want_selectors.sort();
        assert_eq!(selectors, want_selectors, "e{n}'s selectors");
        assert_eq!(
            read.dns_names(),
            want.dns_names(),
            "e{n}'s DNS names in order"
        );
        assert_eq!(
            read.federates_with(),
            want.federates_with(),
            "e{n}'s trust domains"
        );
    }
    let x2 = store.get_entry(&eid("x2")).await.expect("get").expect("x2");
    assert_eq!(x2.spiffe_id(), &id("/w/449"));
    assert_eq!(store.get_entry(&eid("x3")).await.expect("get"), None);
    assert_eq!(
        store
            .get_entry(&eid("e5"))
            .await
            .expect("get")
            .expect("e5")
            .spiffe_id(),
        &id("/w/5"),
        "the first item with an id keeps it"
    );

    // One change per created entry, numbered in batch order.
    let created: Vec<&str> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|e| e.id().as_str())
        .collect();
    assert_eq!(
        store.current_revision().await.expect("revision"),
        start + created.len() as u64
    );
    let ChangeFeed::Changes(changes) = store.changes_since(start, 1_000).await.expect("changes")
    else {
        panic!("pruned")
    };
    let logged: Vec<&str> = changes.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(logged, created);
    let revisions: Vec<u64> = changes.iter().map(|c| c.revision).collect();
    let contiguous: Vec<u64> = (start + 1..=start + created.len() as u64).collect();
    assert_eq!(revisions, contiguous);
}

/// A trigger refuses one item's row: the multi-row statement fails as a whole, and the batch is
/// redone item by item so that only that item fails.
async fn a_failing_statement_falls_back_to_item_by_item(backend: Backend) {
    let t = harness::open(backend).await;
    let store = &t.store;
    let trigger = match backend {
        Backend::Sqlite => {
            "CREATE TRIGGER poison BEFORE INSERT ON registration_entries \
             WHEN NEW.spiffe_id LIKE '%/poison' BEGIN SELECT RAISE(ABORT, 'poisoned'); END;"
        }
        Backend::Postgres => {
            "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN \
             IF NEW.spiffe_id LIKE '%/poison' THEN RAISE EXCEPTION 'poisoned'; END IF; \
             RETURN NEW; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER poison BEFORE INSERT ON registration_entries \
             FOR EACH ROW EXECUTE FUNCTION poison();"
        }
    };
    raw_execute(&t.settings, trigger).await;
    let start = store.current_revision().await.expect("revision");
    let results = store
        .create_entries(vec![
            entry("a", "/a", &["k:v:a"]),
            entry("p", "/poison", &["k:v:p"]),
            entry("b", "/b", &["k:v:b"]),
        ])
        .await
        .expect("batch");
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    assert!(results[1].is_err(), "{results:?}");
    assert_eq!(
        store
            .count_entries(&EntryFilter::default())
            .await
            .expect("count"),
        2
    );
    let ChangeFeed::Changes(changes) = store.changes_since(start, 10).await.expect("changes")
    else {
        panic!("pruned")
    };
    let logged: Vec<(&str, u64)> = changes
        .iter()
        .map(|c| (c.id.as_str(), c.revision))
        .collect();
    assert_eq!(logged, [("a", start + 1), ("b", start + 2)]);
}
