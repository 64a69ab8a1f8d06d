//! `kill -9` during entry creates: every create that was acknowledged is there after a
//! restart, and the change log matches the entries.
//!
//! The test re-executes its own binary as the child (`--exact <this test>`), with
//! `SPIFFE_DS_CRASH_CHILD` set; the child creates entries one per transaction and prints each
//! id after its create returned, until it is killed (or, if the parent died, for at most
//! `CHILD_LIMIT` entries).

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use spiffe_server::datastore::{
    ChangeFeed, ChangeOp, DataStore, EntryFilter, PageRequest, SqlDataStore, SqlSettings,
};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::both_backends;
use crate::harness::{entry, fresh_settings, raw_ints, Backend};

both_backends!(acknowledged_writes_survive_kill_9);

const CHILD_VAR: &str = "SPIFFE_DS_CRASH_CHILD";
const CHILD_LIMIT: usize = 20_000;
/// Acknowledged creates before the kill.
const BEFORE_KILL: usize = 300;

async fn acknowledged_writes_survive_kill_9(backend: Backend) {
    if let Ok(target) = std::env::var(CHILD_VAR) {
        return run_child(backend, &target).await;
    }
    let (settings, _dir) = fresh_settings(backend).await;
    // Migrate before the child starts, so the kill lands in entry writes.
    SqlDataStore::open(&settings)
        .await
        .expect("migrate")
        .close()
        .await;

    let name = match backend {
        Backend::Sqlite => "crash::acknowledged_writes_survive_kill_9::sqlite",
        Backend::Postgres => "crash::acknowledged_writes_survive_kill_9::postgres",
    };
    let mut child = tokio::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", name, "--nocapture", "--test-threads", "1"])
        .env(CHILD_VAR, &settings.connection_string)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn child");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut acknowledged = BTreeSet::new();
    let read_until_kill = async {
        while acknowledged.len() < BEFORE_KILL {
            let Some(line) = lines.next_line().await.expect("read child") else {
                panic!("the child ended early (is the test name {name} right?)");
            };
            if let Some(id) = line.strip_prefix("created ") {
                acknowledged.insert(id.to_owned());
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(120), read_until_kill)
        .await
        .expect("child acknowledges creates");
    // SIGKILL, while it is in the middle of further creates.
    child.start_kill().expect("kill -9");
    let status = child.wait().await.expect("wait");
    assert!(!status.success());
    // Lines the child printed before dying were acknowledged too.
    while let Some(line) = lines.next_line().await.expect("read child") {
        if let Some(id) = line.strip_prefix("created ") {
            acknowledged.insert(id.to_owned());
        }
    }

    if backend == Backend::Sqlite {
        assert_eq!(
            raw_ints(
                &settings,
                "SELECT COUNT(*) FROM pragma_integrity_check WHERE integrity_check <> 'ok'"
            )
            .await,
            [0],
            "database consistent"
        );
    }
    let store = SqlDataStore::open(&settings)
        .await
        .expect("reopen after the crash");
    check_after_crash(&store, &acknowledged).await;
}

async fn check_after_crash(store: &SqlDataStore, acknowledged: &BTreeSet<String>) {
    let entries = store
        .list_entries(&EntryFilter::default(), &PageRequest::all())
        .await
        .expect("list")
        .items;
    let stored: HashMap<String, u64> = entries
        .iter()
        .map(|e| (e.id().to_string(), e.revision_number()))
        .collect();
    for id in acknowledged {
        assert!(stored.contains_key(id), "acknowledged entry {id} lost");
    }
    // At most the one create in flight committed without being acknowledged.
    assert!(
        stored.len() <= acknowledged.len() + 1,
        "{} vs {}",
        stored.len(),
        acknowledged.len()
    );
    // The log: revisions 1..=current, one Created per stored entry (each entry at revision 0).
    let current = store.current_revision().await.expect("revision");
    let ChangeFeed::Changes(changes) = store.changes_since(0, u32::MAX).await.expect("changes")
    else {
        panic!("pruned")
    };
    assert_eq!(changes.len() as u64, current);
    for (i, change) in changes.iter().enumerate() {
        assert_eq!(change.revision, i as u64 + 1);
        assert_eq!(change.op, ChangeOp::Created);
        assert_eq!(stored.get(&change.id), Some(&0), "{change:?}");
    }
    assert_eq!(changes.len(), stored.len());
}

/// The child: creates entries until killed.
async fn run_child(backend: Backend, connection_string: &str) {
    let settings = match backend {
        Backend::Sqlite => SqlSettings::sqlite(connection_string),
        Backend::Postgres => SqlSettings::postgres(connection_string),
    };
    let store = SqlDataStore::open(&settings).await.expect("child open");
    let mut out = std::io::stdout();
    for i in 0..CHILD_LIMIT {
        let id = format!("c{i:05}");
        let mut results = store
            .create_entries(vec![entry(&id, &format!("/crash/{i}"), &["k:v"])])
            .await
            .expect("batch");
        results.remove(0).expect("create");
        // Acknowledged: the create returned after its commit.
        writeln!(out, "created {id}").expect("stdout");
        out.flush().expect("flush");
    }
}
