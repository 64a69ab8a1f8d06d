//! An entry's additional attributes (`disable_x509_svid_prefetch`, `jwt_svid_include_jti`):
//! stored, read back by every read path, replaced only under their mask, logged as changes.

use spiffe_attest::RegistrationEntry;
use spiffe_server::datastore::{
    ChangeFeed, ChangeOp, DataStore, DataStoreError, EntryFilter, EntryMask, PageRequest,
};

use crate::both_backends;
use crate::harness::{self, eid, entry, single, Backend};

both_backends!(
    attributes_round_trip_through_every_read,
    attributes_change_only_under_their_mask,
);

fn with_attributes(id: &str, prefetch_off: bool, jti: bool) -> RegistrationEntry {
    entry(id, &format!("/{id}"), &["unix:uid:1"])
        .to_builder()
        .disable_x509_svid_prefetch(prefetch_off)
        .jwt_svid_include_jti(jti)
        .build()
        .expect("entry")
}

fn flags(entry: &RegistrationEntry) -> (bool, bool) {
    (
        entry.disable_x509_svid_prefetch(),
        entry.jwt_svid_include_jti(),
    )
}

async fn attributes_round_trip_through_every_read(backend: Backend) {
    let t = harness::open(backend).await;
    let store = &t.store;
    let cases = [
        ("none", false, false),
        ("lazy", true, false),
        ("jti", false, true),
        ("both", true, true),
    ];
    let created = store
        .create_entries(
            cases
                .iter()
                .map(|(id, p, j)| with_attributes(id, *p, *j))
                .collect(),
        )
        .await
        .expect("batch");
    for ((id, p, j), result) in cases.iter().zip(&created) {
        let created = result.as_ref().expect("created");
        assert_eq!(flags(created), (*p, *j), "{id} as created");
        let read = store.get_entry(&eid(id)).await.expect("get").expect(id);
        assert_eq!(flags(&read), (*p, *j), "{id} by get");
        assert_eq!(&read, created);
    }
    let listed = store
        .list_entries(&EntryFilter::default(), &PageRequest::all())
        .await
        .expect("list")
        .items;
    let loaded = store
        .load_entries(&PageRequest::all())
        .await
        .expect("load")
        .items;
    for all in [listed, loaded] {
        assert_eq!(all.len(), cases.len());
        for (id, p, j) in cases {
            let e = all.iter().find(|e| e.id().as_str() == id).expect(id);
            assert_eq!(flags(e), (p, j), "{id} listed");
        }
    }
    // A second server on the same database reads the same.
    let other = t.reopen().await;
    let both = other
        .get_entry(&eid("both"))
        .await
        .expect("get")
        .expect("both");
    assert_eq!(flags(&both), (true, true));
}

async fn attributes_change_only_under_their_mask(backend: Backend) {
    let t = harness::open(backend).await;
    let store = &t.store;
    let created = single(
        store
            .create_entries(vec![with_attributes("e", true, false)])
            .await,
    )
    .expect("create");
    let revision = store.current_revision().await.expect("revision");

    // Another field's mask keeps the stored flags, whatever the update carries.
    let mut hint = EntryMask::none();
    hint.hint = true;
    let change = with_attributes("e", false, true)
        .to_builder()
        .hint("h")
        .build()
        .expect("entry");
    let kept = single(store.update_entries(vec![change], hint).await).expect("hint");
    assert_eq!(kept.hint(), Some("h"));
    assert_eq!(flags(&kept), (true, false));

    // Under their mask both flags are replaced together.
    let mut attributes = EntryMask::none();
    attributes.additional_attributes = true;
    let swapped = single(
        store
            .update_entries(vec![with_attributes("e", false, true)], attributes)
            .await,
    )
    .expect("attributes");
    assert_eq!(flags(&swapped), (false, true));
    assert_eq!(swapped.hint(), Some("h"), "other fields kept");
    assert_eq!(
        flags(&store.get_entry(&eid("e")).await.expect("get").expect("e")),
        (false, true)
    );
    let cleared = single(
        store
            .update_entries(vec![with_attributes("e", false, false)], EntryMask::all())
            .await,
    )
    .expect("all");
    assert_eq!(flags(&cleared), (false, false));
    assert_eq!(cleared.revision_number(), created.revision_number() + 3);

    // Every update is in the change feed agents sync from.
    let ChangeFeed::Changes(changes) = store.changes_since(revision, 10).await.expect("feed")
    else {
        panic!("pruned")
    };
    assert_eq!(changes.len(), 3);
    assert!(changes
        .iter()
        .all(|c| c.op == ChangeOp::Updated && c.id == "e"));

    // store_svid with prefetch off is refused (as SPIRE's datastore), nothing changes.
    let mut store_svid = EntryMask::none();
    store_svid.store_svid = true;
    let stored_svid = single(
        store
            .update_entries(
                vec![entry("e", "/e", &["unix:uid:1"])
                    .to_builder()
                    .store_svid(true)
                    .build()
                    .expect("entry")],
                store_svid,
            )
            .await,
    )
    .expect("store_svid alone");
    assert!(stored_svid.store_svid());
    let error = single(
        store
            .update_entries(vec![with_attributes("e", true, false)], attributes)
            .await,
    )
    .expect_err("store_svid without prefetch");
    assert!(
        matches!(error, DataStoreError::InvalidEntry(_)),
        "{error:?}"
    );
    assert_eq!(
        store.get_entry(&eid("e")).await.expect("get"),
        Some(stored_svid)
    );
}
