//! Concurrent writers: revisions are allocated in commit order, and a reader polling the change
//! log while they write never sees a later revision before an earlier one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use spiffe_server::datastore::{ChangeFeed, ChangeOp, EntryFilter, PageRequest};

use crate::both_backends;
use crate::harness::{self, entry, Backend};

both_backends!(writers_commit_in_revision_order);

const WRITERS: usize = 6;
const PER_WRITER: usize = 40;

async fn writers_commit_in_revision_order(backend: Backend) {
    let t = harness::open(backend).await;
    let store = t.dyn_store();
    let done = Arc::new(AtomicBool::new(false));

    let reader = {
        let store = store.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut last = 0u64;
            let mut seen = Vec::new();
            // A poller, as the server's entry cache is: a short period, not a wait for an event.
            let mut poll = tokio::time::interval(Duration::from_millis(1));
            loop {
                poll.tick().await;
                let finished = done.load(Ordering::Acquire);
                let ChangeFeed::Changes(batch) =
                    store.changes_since(last, 37).await.expect("changes")
                else {
                    panic!("nothing was pruned")
                };
                for change in &batch {
                    // No gap: the next revision after what this reader has seen, always.
                    assert_eq!(change.revision, last + 1, "gap or reordering after {last}");
                    last = change.revision;
                    seen.push(change.clone());
                }
                if finished && batch.is_empty() {
                    return seen;
                }
            }
        })
    };

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut created = Vec::new();
                for i in 0..PER_WRITER {
                    let e = entry(&format!("w{w}-{i}"), &format!("/w{w}/{i}"), &["k:v"]);
                    let mut results = store.create_entries(vec![e]).await.expect("batch");
                    created.push(results.remove(0).expect("create"));
                }
                created
            })
        })
        .collect();
    let mut created = Vec::new();
    for w in writers {
        created.extend(w.await.expect("writer"));
    }
    done.store(true, Ordering::Release);
    let seen = tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("reader catches up")
        .expect("reader");

    let total = (WRITERS * PER_WRITER) as u64;
    assert_eq!(seen.len() as u64, total);
    assert_eq!(store.current_revision().await.expect("revision"), total);
    // Every change is a creation of one of the created entries, each at its revision 0.
    let ids: std::collections::HashSet<&str> = seen
        .iter()
        .inspect(|c| assert_eq!(c.op, ChangeOp::Created))
        .map(|c| c.id.as_str())
        .collect();
    for e in &created {
        assert!(ids.contains(e.id().as_str()), "{} not logged", e.id());
        assert_eq!(e.revision_number(), 0);
    }
    let stored = store
        .list_entries(&EntryFilter::default(), &PageRequest::all())
        .await
        .expect("list");
    assert_eq!(stored.items.len() as u64, total);
}
