//! Named cases of the entry index: node aliases, nested entries, updates that move an entry,
//! duplicate and empty selector inputs.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use spiffe_attest::entry::{EntryId, RegistrationEntry};
use spiffe_attest::{EntryIndex, Selector};
use spiffe_core::{SpiffeId, TrustDomain};

fn sid(path: &str) -> SpiffeId {
    SpiffeId::new(&format!("spiffe://example.org{path}")).unwrap()
}

fn sel(text: &str) -> Selector {
    Selector::parse(text).unwrap()
}

fn entry(id: &str, spiffe: &str, parent: &str, selectors: &[&str]) -> RegistrationEntry {
    RegistrationEntry::builder(EntryId::new(id).unwrap(), sid(spiffe), sid(parent))
        .selectors(selectors.iter().map(|s| sel(s)))
        .build()
        .unwrap()
}

fn ids(found: Vec<Arc<RegistrationEntry>>) -> Vec<String> {
    let mut v: Vec<String> = found.iter().map(|e| e.id().to_string()).collect();
    v.sort();
    v
}

fn index() -> EntryIndex {
    EntryIndex::new(&TrustDomain::new("example.org").unwrap())
}

const AGENT: &str = "/spire/agent/x509pop/n1";

#[test]
fn workload_gets_entries_whose_selectors_are_a_subset() {
    let mut ix = index();
    ix.insert(entry("one", "/a", AGENT, &["unix:uid:1"]));
    ix.insert(entry("two", "/b", AGENT, &["unix:uid:1", "unix:gid:2"]));
    ix.insert(entry("three", "/c", AGENT, &["unix:uid:1", "unix:gid:3"]));
    let agent = sid(AGENT);
    assert_eq!(ids(ix.lookup(&agent, &[], &[sel("unix:uid:1")])), ["one"]);
    assert_eq!(
        ids(ix.lookup(
            &agent,
            &[],
            &[sel("unix:gid:2"), sel("unix:uid:1"), sel("k8s:ns:x")]
        )),
        ["one", "two"]
    );
    // Another agent sees nothing.
    assert!(ix
        .lookup(&sid("/spire/agent/x509pop/n2"), &[], &[sel("unix:uid:1")])
        .is_empty());
}

#[test]
fn duplicate_and_empty_workload_selectors() {
    let mut ix = index();
    ix.insert(entry("one", "/a", AGENT, &["unix:uid:1", "unix:gid:2"]));
    let agent = sid(AGENT);
    let dup = [
        sel("unix:uid:1"),
        sel("unix:uid:1"),
        sel("unix:gid:2"),
        sel("unix:gid:2"),
    ];
    assert_eq!(ids(ix.lookup(&agent, &[], &dup)), ["one"]);
    assert!(ix.lookup(&agent, &[], &[]).is_empty());
    assert!(ix
        .lookup(&agent, &[], &[sel("unix:uid:1"), sel("unix:uid:1")])
        .is_empty());
}

#[test]
fn duplicate_selectors_in_an_entry_are_one() {
    let e = entry("one", "/a", AGENT, &["unix:uid:1", "unix:uid:1"]);
    assert_eq!(e.selectors(), [sel("unix:uid:1")]);
    let mut ix = index();
    ix.insert(e);
    assert_eq!(
        ids(ix.lookup(&sid(AGENT), &[], &[sel("unix:uid:1")])),
        ["one"]
    );
}

#[test]
fn node_alias_extends_an_agent_by_its_node_selectors() {
    let mut ix = index();
    // Nodes in cluster c1 form the group /cluster/c1.
    ix.insert(entry(
        "alias",
        "/cluster/c1",
        "/spire/server",
        &["k8s_psat:cluster:c1"],
    ));
    ix.insert(entry("web", "/web", "/cluster/c1", &["k8s:ns:web"]));
    let agent = sid(AGENT);
    let node = [sel("k8s_psat:cluster:c1"), sel("k8s_psat:agent_ns:spire")];
    assert_eq!(ids(ix.node_aliases(&node)), ["alias"]);
    assert_eq!(ids(ix.lookup(&agent, &node, &[sel("k8s:ns:web")])), ["web"]);
    // The alias entry itself is not among the agent's entries.
    assert_eq!(ids(ix.authorized_entries(&agent, &node)), ["web"]);
    // A node of another cluster is not authorized.
    let other = [sel("k8s_psat:cluster:c2")];
    assert!(ix.lookup(&agent, &other, &[sel("k8s:ns:web")]).is_empty());
    // Every alias selector must be among the node's.
    ix.insert(entry(
        "alias",
        "/cluster/c1",
        "/spire/server",
        &["k8s_psat:cluster:c1", "k8s_psat:agent_ns:x"],
    ));
    assert!(ix.lookup(&agent, &node, &[sel("k8s:ns:web")]).is_empty());
}

#[test]
fn nested_entries_are_authorized_transitively() {
    let mut ix = index();
    ix.insert(entry("downstream", "/ds", AGENT, &["unix:uid:0"]));
    ix.insert(entry("child", "/ds/child", "/ds", &["unix:uid:7"]));
    ix.insert(entry(
        "grandchild",
        "/ds/child/gc",
        "/ds/child",
        &["unix:uid:8"],
    ));
    ix.insert(entry(
        "elsewhere",
        "/x",
        "/spire/agent/other",
        &["unix:uid:7"],
    ));
    let agent = sid(AGENT);
    assert_eq!(
        ids(ix.authorized_entries(&agent, &[])),
        ["child", "downstream", "grandchild"]
    );
    assert_eq!(ids(ix.lookup(&agent, &[], &[sel("unix:uid:7")])), ["child"]);
    // Cutting the chain cuts everything below it.
    ix.remove("child");
    assert_eq!(ids(ix.authorized_entries(&agent, &[])), ["downstream"]);
    // Restoring it (under a new id) restores the grandchild.
    ix.insert(entry("child2", "/ds/child", "/ds", &["unix:uid:7"]));
    assert_eq!(
        ids(ix.authorized_entries(&agent, &[])),
        ["child2", "downstream", "grandchild"]
    );
}

#[test]
fn cycles_terminate() {
    let mut ix = index();
    ix.insert(entry("root", "/a", AGENT, &["s:1"]));
    ix.insert(entry("ab", "/b", "/a", &["s:2"]));
    ix.insert(entry("ba", "/a", "/b", &["s:3"]));
    ix.insert(entry("self", "/b", "/b", &["s:4"]));
    assert_eq!(
        ids(ix.authorized_entries(&sid(AGENT), &[])),
        ["ab", "ba", "root", "self"]
    );
}

#[test]
fn update_moves_an_entry_to_new_selectors_and_parent() {
    let mut ix = index();
    ix.insert(entry("e", "/a", AGENT, &["unix:uid:1"]));
    let agent = sid(AGENT);
    let other = sid("/spire/agent/x509pop/n2");

    let old = ix.insert(entry("e", "/a", AGENT, &["unix:uid:2"]));
    assert_eq!(old.unwrap().selectors(), [sel("unix:uid:1")]);
    assert_eq!(ix.len(), 1);
    assert!(ix.lookup(&agent, &[], &[sel("unix:uid:1")]).is_empty());
    assert_eq!(ids(ix.lookup(&agent, &[], &[sel("unix:uid:2")])), ["e"]);

    ix.insert(entry("e", "/a", "/spire/agent/x509pop/n2", &["unix:uid:2"]));
    assert!(ix.lookup(&agent, &[], &[sel("unix:uid:2")]).is_empty());
    assert_eq!(ids(ix.lookup(&other, &[], &[sel("unix:uid:2")])), ["e"]);
    assert_eq!(ix.get("e").unwrap().parent_id(), &other);

    assert!(ix.remove("e").is_some());
    assert!(ix.remove("e").is_none());
    assert!(ix.is_empty());
    assert_eq!(ix.interned_counts(), (0, 0));
}

#[test]
fn entries_with_equal_parent_and_selectors_are_all_returned() {
    let mut ix = index();
    ix.insert(entry("x", "/x", AGENT, &["unix:uid:1"]));
    ix.insert(entry("y", "/y", AGENT, &["unix:uid:1"]));
    assert_eq!(
        ids(ix.lookup(&sid(AGENT), &[], &[sel("unix:uid:1")])),
        ["x", "y"]
    );
    ix.remove("x");
    assert_eq!(
        ids(ix.lookup(&sid(AGENT), &[], &[sel("unix:uid:1")])),
        ["y"]
    );
}

#[test]
fn many_workload_selectors_use_posting_lists_and_agree() {
    let mut ix = index();
    for i in 0..40 {
        ix.insert(entry(
            &format!("e{i}"),
            &format!("/w{i}"),
            AGENT,
            &[&format!("s:{i}"), &format!("s:{}", i + 1)],
        ));
    }
    // 30 known selectors: too many to enumerate subsets.
    let workload: Vec<Selector> = (0..30).map(|i| sel(&format!("s:{i}"))).collect();
    let mut expected: Vec<String> = (0..29).map(|i| format!("e{i}")).collect();
    expected.sort();
    assert_eq!(ids(ix.lookup(&sid(AGENT), &[], &workload)), expected);
}
