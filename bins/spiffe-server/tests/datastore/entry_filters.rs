//! SPIRE's ListEntries / CountEntries filters, every match behaviour, evaluated in SQL.

use spiffe_attest::RegistrationEntry;
use spiffe_server::datastore::{
    DataStore, DataStoreError, EntryFilter, FederatesWithMatch, MatchBehavior, PageRequest,
    SelectorMatch,
};

use crate::both_backends;
use crate::harness::{self, bundle, eid, id, sel, single, td, Backend};

both_backends!(every_filter_and_behaviour, empty_sets_are_invalid);

fn build(
    entry_id: &str,
    path: &str,
    parent: &str,
    selectors: &[&str],
    federates: &[&str],
    hint: &str,
    downstream: bool,
) -> RegistrationEntry {
    let mut b = RegistrationEntry::builder(eid(entry_id), id(path), id(parent))
        .selectors(selectors.iter().map(|s| sel(s)))
        .hint(hint)
        .downstream(downstream);
    for f in federates {
        b = b.federates_with(td(f));
    }
    b.build().expect("entry")
}

/// The ids listed and the count for `filter`, checked to agree.
async fn ids(store: &dyn DataStore, filter: &EntryFilter) -> Vec<String> {
    let page = store
        .list_entries(filter, &PageRequest::all())
        .await
        .expect("list");
    let count = store.count_entries(filter).await.expect("count");
    assert_eq!(count as usize, page.items.len(), "count and list agree");
    page.items.iter().map(|e| e.id().to_string()).collect()
}

fn selectors(behavior: MatchBehavior, values: &[&str]) -> EntryFilter {
    let mut f = EntryFilter::default();
    f.by_selectors = Some(SelectorMatch {
        selectors: values.iter().map(|s| sel(s)).collect(),
        behavior,
    });
    f
}

fn federates(behavior: MatchBehavior, values: &[&str]) -> EntryFilter {
    let mut f = EntryFilter::default();
    f.by_federates_with = Some(FederatesWithMatch {
        trust_domains: values.iter().map(|s| td(s)).collect(),
        behavior,
    });
    f
}

async fn every_filter_and_behaviour(backend: Backend) {
    let t = harness::open(backend).await;
    let store: &dyn DataStore = t.store.as_ref();
    store.create_bundle(bundle("x.org")).await.expect("bundle");
    store.create_bundle(bundle("y.org")).await.expect("bundle");
    for e in [
        build("e1", "/s1", "/agent", &["a:1"], &[], "h1", false),
        build("e2", "/s2", "/agent", &["a:1", "a:2"], &["x.org"], "", true),
        build(
            "e3",
            "/s3",
            "/agent2",
            &["a:2", "b:1"],
            &["x.org", "y.org"],
            "h1",
            false,
        ),
        build("e4", "/s1", "/agent2", &["b:1"], &["y.org"], "", false),
    ] {
        single(store.create_entries(vec![e]).await).expect("create");
    }
    use MatchBehavior::*;
    let cases: Vec<(EntryFilter, &[&str])> = vec![
        (EntryFilter::default(), &["e1", "e2", "e3", "e4"]),
        (selectors(Exact, &["a:1", "a:2"]), &["e2"]),
        (selectors(Exact, &["a:2", "a:1", "a:1"]), &["e2"]),
        (selectors(Subset, &["a:1", "a:2"]), &["e1", "e2"]),
        (selectors(Superset, &["a:1", "a:2"]), &["e2"]),
        (selectors(Any, &["a:1", "a:2"]), &["e1", "e2", "e3"]),
        (selectors(Exact, &["b:1"]), &["e4"]),
        (selectors(Subset, &["b:1"]), &["e4"]),
        (selectors(Superset, &["b:1"]), &["e3", "e4"]),
        (selectors(Any, &["b:1"]), &["e3", "e4"]),
        (selectors(Any, &["zzz:9"]), &[]),
        (federates(Exact, &["x.org"]), &["e2"]),
        (federates(Subset, &["x.org"]), &["e2"]),
        (federates(Superset, &["x.org"]), &["e2", "e3"]),
        (federates(Any, &["x.org"]), &["e2", "e3"]),
        (federates(Exact, &["x.org", "y.org"]), &["e3"]),
        (federates(Subset, &["x.org", "y.org"]), &["e2", "e3", "e4"]),
        (federates(Superset, &["x.org", "y.org"]), &["e3"]),
        (federates(Any, &["y.org", "x.org"]), &["e2", "e3", "e4"]),
    ];
    for (filter, expected) in &cases {
        assert_eq!(ids(store, filter).await, *expected, "{filter:?}");
    }

    let mut f = EntryFilter::default();
    f.by_spiffe_id = Some(id("/s1"));
    assert_eq!(ids(store, &f).await, ["e1", "e4"]);
    f.by_parent_id = Some(id("/agent2"));
    assert_eq!(ids(store, &f).await, ["e4"]);
    let mut f = EntryFilter::default();
    f.by_parent_id = Some(id("/agent2"));
    assert_eq!(ids(store, &f).await, ["e3", "e4"]);

    let mut f = EntryFilter::default();
    f.by_hint = Some("h1".into());
    assert_eq!(ids(store, &f).await, ["e1", "e3"]);
    f.by_hint = Some(String::new());
    assert_eq!(ids(store, &f).await, ["e2", "e4"]);

    let mut f = EntryFilter::default();
    f.by_downstream = Some(true);
    assert_eq!(ids(store, &f).await, ["e2"]);
    f.by_downstream = Some(false);
    assert_eq!(ids(store, &f).await, ["e1", "e3", "e4"]);

    let mut f = selectors(Any, &["a:2"]);
    f.by_parent_id = Some(id("/agent"));
    assert_eq!(ids(store, &f).await, ["e2"]);
    f.by_federates_with = federates(Any, &["y.org"]).by_federates_with;
    assert_eq!(ids(store, &f).await, Vec::<String>::new());
}

async fn empty_sets_are_invalid(backend: Backend) {
    let t = harness::open(backend).await;
    let store = &t.store;
    for (filter, field) in [
        (selectors(MatchBehavior::Any, &[]), "by_selectors"),
        (selectors(MatchBehavior::Exact, &[]), "by_selectors"),
        (federates(MatchBehavior::Subset, &[]), "by_federates_with"),
    ] {
        let error = store
            .list_entries(&filter, &PageRequest::all())
            .await
            .expect_err("empty set");
        assert!(
            matches!(error, DataStoreError::InvalidArgument { field: f, .. } if f == field),
            "{error:?}"
        );
        assert!(store.count_entries(&filter).await.is_err());
    }
}
