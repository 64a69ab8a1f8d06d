//! Paging: page sizes, tokens, stability while entries are inserted, and the bulk load.

use std::collections::BTreeSet;

use spiffe_server::datastore::{
    DataStore, DataStoreError, EntryFilter, MatchBehavior, PageRequest, PageToken, SelectorMatch,
};

use crate::both_backends;
use crate::harness::{self, entry, sel, Backend};

both_backends!(
    pages_cover_everything_once,
    paging_is_stable_under_inserts,
    foreign_tokens_are_invalid
);

async fn create_numbered(store: &dyn DataStore, from: usize, to: usize) {
    let entries = (from..to)
        .map(|i| {
            let parity = if i % 2 == 0 { "even" } else { "odd" };
            entry(
                &format!("e{i:03}"),
                &format!("/w{i}"),
                &["all:yes", &format!("parity:{parity}")],
            )
        })
        .collect();
    for result in store.create_entries(entries).await.expect("batch") {
        result.expect("create");
    }
}

async fn pages_cover_everything_once(backend: Backend) {
    let t = harness::open(backend).await;
    let store: &dyn DataStore = t.store.as_ref();
    create_numbered(store, 0, 25).await;

    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut page = PageRequest::first(10);
    loop {
        let got = store.load_entries(&page).await.expect("page");
        sizes.push(got.items.len());
        seen.extend(got.items.iter().map(|e| e.id().to_string()));
        match got.next {
            Some(token) => page = PageRequest::after(10, token),
            None => break,
        }
    }
    assert_eq!(sizes, [10, 10, 5]);
    let expected: Vec<String> = (0..25).map(|i| format!("e{i:03}")).collect();
    assert_eq!(seen, expected, "creation order, each once");

    // Filtered pages: the odd entries, 4 at a time.
    let mut filter = EntryFilter::default();
    filter.by_selectors = Some(SelectorMatch {
        selectors: vec![sel("parity:odd")],
        behavior: MatchBehavior::Any,
    });
    let mut odd = Vec::new();
    let mut page = PageRequest::first(4);
    loop {
        let got = store.list_entries(&filter, &page).await.expect("page");
        assert!(got.items.len() <= 4);
        odd.extend(got.items.iter().map(|e| e.id().to_string()));
        match got.next {
            Some(token) => page = PageRequest::after(4, token),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25)
        .filter(|i| i % 2 == 1)
        .map(|i| format!("e{i:03}"))
        .collect();
    assert_eq!(odd, expected);
    // An exactly full last page carries a token to an empty page.
    let all = store
        .list_entries(&EntryFilter::default(), &PageRequest::first(25))
        .await
        .expect("all");
    let token = all.next.expect("full page has a token");
    let rest = store
        .list_entries(&EntryFilter::default(), &PageRequest::after(25, token))
        .await
        .expect("rest");
    assert!(rest.items.is_empty() && rest.next.is_none());
    // Entries read by a page carry every child.
    assert!(all.items.iter().all(|e| e.selectors().len() == 2));
}

async fn paging_is_stable_under_inserts(backend: Backend) {
    let t = harness::open(backend).await;
    let store: &dyn DataStore = t.store.as_ref();
    create_numbered(store, 0, 20).await;
    let first = store
        .load_entries(&PageRequest::first(7))
        .await
        .expect("page 1");
    let mut seen: Vec<String> = first.items.iter().map(|e| e.id().to_string()).collect();
    // Inserts and a delete of an already-listed entry between pages.
    create_numbered(store, 20, 30).await;
    store
        .delete_entries(vec![first.items[0].id().clone()])
        .await
        .expect("delete")[0]
        .as_ref()
        .expect("deleted");
    let mut token = first.next;
    while let Some(t) = token {
        let page = store
            .load_entries(&PageRequest::after(7, t))
            .await
            .expect("page");
        seen.extend(page.items.iter().map(|e| e.id().to_string()));
        token = page.next;
    }
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no entry twice");
    for i in 0..30 {
        assert!(seen.contains(&format!("e{i:03}")), "e{i:03} listed");
    }
}

async fn foreign_tokens_are_invalid(backend: Backend) {
    let t = harness::open(backend).await;
    let store: &dyn DataStore = t.store.as_ref();
    for token in ["", "abc", "-5", "9999999999999999999999"] {
        let error = store
            .load_entries(&PageRequest::after(5, PageToken::new(token)))
            .await
            .expect_err(token);
        assert!(
            matches!(
                error,
                DataStoreError::InvalidArgument {
                    field: "page_token",
                    ..
                }
            ),
            "{error:?}"
        );
    }
    let error = store
        .list_bundles(&PageRequest::after(5, PageToken::new("Not A Domain!")))
        .await
        .expect_err("bundle token");
    assert!(matches!(
        error,
        DataStoreError::InvalidArgument {
            field: "page_token",
            ..
        }
    ));
}
