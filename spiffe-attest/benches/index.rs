//! Entry index lookups at 10k, 100k and 1M entries.
//!
//! Target (issue 6): a lookup with 5 workload selectors takes under 20 µs at 1M entries.
//! Memory per entry is printed from the process's VmRSS (`/proc/self/status`) before and after
//! building each index.
//!
//! Shape: 1,000 agents with two node selectors each (`x509pop:ca:fingerprint:<c>`,
//! `x509pop:subject:cn:node-<a>`); 50 node-alias entries (one per fingerprint) with 1% of the
//! workload entries parented to an alias instead of an agent; workload entries with 1 to 3
//! selectors among `k8s:ns:<n>` (100 namespaces), `k8s:sa:<s>` (1,000 service accounts) and
//! `unix:uid:<u>` (10,000 uids). A query is an agent, its node selectors, and 5 workload
//! selectors: the selectors of one of its entries plus `unix:gid` and `k8s:pod-name` noise.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput};
use spiffe_attest::entry::{EntryId, RegistrationEntry};
use spiffe_attest::{EntryIndex, Selector};
use spiffe_core::{SpiffeId, TrustDomain};

const AGENTS: usize = 1_000;
const FINGERPRINTS: usize = 50;
const QUERIES: usize = 1_024;

/// xorshift64*: deterministic pseudo-random numbers without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn sel(text: &str) -> Selector {
    Selector::parse(text).expect("bench selectors are valid")
}

fn sid(path: &str) -> SpiffeId {
    SpiffeId::new(&format!("spiffe://example.org{path}")).expect("bench IDs are valid")
}

fn agent_id(a: usize) -> SpiffeId {
    sid(&format!("/spire/agent/x509pop/node-{a}"))
}

fn node_selectors(a: usize) -> Vec<Selector> {
    vec![
        sel(&format!("x509pop:ca:fingerprint:{}", a % FINGERPRINTS)),
        sel(&format!("x509pop:subject:cn:node-{a}")),
    ]
}

struct Query {
    agent: SpiffeId,
    node: Vec<Selector>,
    workload: Vec<Selector>,
}

/// The entries, and for each agent some of its entries' selectors to build queries from.
fn make_entries(n: usize) -> (Vec<Arc<RegistrationEntry>>, Vec<Query>) {
    let mut rng = Rng(0x1234_5678_9abc_def1 ^ n as u64);
    let mut entries = Vec::with_capacity(n + FINGERPRINTS);
    for c in 0..FINGERPRINTS {
        entries.push(Arc::new(
            RegistrationEntry::builder(
                EntryId::new(&format!("alias-{c}")).expect("valid id"),
                sid(&format!("/cluster/{c}")),
                sid("/spire/server"),
            )
            .selector(sel(&format!("x509pop:ca:fingerprint:{c}")))
            .build()
            .expect("valid alias entry"),
        ));
    }
    let mut queries = Vec::with_capacity(QUERIES);
    for i in 0..n {
        let agent = i % AGENTS;
        let ns = format!("k8s:ns:{}", rng.below(100));
        let sa = format!("k8s:sa:{}", rng.below(1_000));
        let uid = format!("unix:uid:{}", rng.below(10_000));
        let all = [ns, sa, uid];
        let count = 1 + rng.below(3);
        let start = rng.below(3);
        let chosen: Vec<Selector> = (0..count).map(|j| sel(&all[(start + j) % 3])).collect();
        let parent = if rng.below(100) == 0 {
            sid(&format!("/cluster/{}", agent % FINGERPRINTS))
        } else {
            agent_id(agent)
        };
        let entry = RegistrationEntry::builder(
            EntryId::new(&format!("e{i}")).expect("valid id"),
            sid(&format!("/w/{i}")),
            parent,
        )
        .selectors(chosen)
        .build()
        .expect("valid entry");
        if queries.len() < QUERIES && i % (n / QUERIES).max(1) == 0 {
            let mut workload: Vec<Selector> = all.iter().map(|s| sel(s)).collect();
            workload.push(sel(&format!("unix:gid:{}", rng.below(1_000))));
            workload.push(sel(&format!("k8s:pod-name:p{i}")));
            queries.push(Query {
                agent: agent_id(agent),
                node: node_selectors(agent),
                workload,
            });
        }
        entries.push(Arc::new(entry));
    }
    (entries, queries)
}

/// CPU time of this thread (user + system) in clock ticks of 10 ms, from
/// `/proc/thread-self/stat`: unlike wall time, not inflated when other processes share the
/// cores.
fn thread_cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Mean CPU time per call of `f`, over at least 2 s of this thread's CPU time.
fn cpu_time_per_call(mut f: impl FnMut(usize)) -> Option<f64> {
    let start = thread_cpu_ticks()?;
    let mut calls = 0usize;
    loop {
        for _ in 0..1_000 {
            f(calls);
            calls += 1;
        }
        let spent = thread_cpu_ticks()? - start;
        if spent >= 200 {
            return Some(spent as f64 * 10_000.0 / calls as f64);
        }
    }
}

/// Resident set size in KiB, from `/proc/self/status`.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn bench_size(c: &mut Criterion, n: usize) {
    let before = rss_kib();
    let (entries, queries) = make_entries(n);
    let with_entries = rss_kib();
    let mut index = EntryIndex::new(&TrustDomain::new("example.org").expect("valid"));
    for e in &entries {
        index.insert(e.clone());
    }
    let with_index = rss_kib();
    if let (Some(b), Some(e), Some(i)) = (before, with_entries, with_index) {
        let total = entries.len() as f64;
        println!(
            "entry_index n={n}: entries {:.0} B/entry, index {:.0} B/entry, total {:.0} B/entry (VmRSS)",
            (e.saturating_sub(b) * 1024) as f64 / total,
            (i.saturating_sub(e) * 1024) as f64 / total,
            (i.saturating_sub(b) * 1024) as f64 / total,
        );
    }
    drop(entries);

    // Every query finds at least the entry it was made from (unless that one went to an alias
    // whose fingerprint is not the agent's, which the shape rules out).
    let mut found = 0;
    for q in &queries {
        let r = index.lookup(&q.agent, &q.node, &q.workload);
        assert!(!r.is_empty(), "a bench query found nothing");
        found += r.len();
    }
    println!(
        "entry_index n={n}: {:.1} entries per lookup, {:.0} authorized entries per agent",
        found as f64 / queries.len() as f64,
        index
            .authorized_entries(&queries[0].agent, &queries[0].node)
            .len()
    );

    if let Some(us) = cpu_time_per_call(|i| {
        let q = &queries[i % queries.len()];
        black_box(index.lookup(&q.agent, &q.node, &q.workload));
    }) {
        println!("entry_index n={n}: lookup {us:.2} µs of thread CPU time per call");
    }

    let mut group = c.benchmark_group("entry_index_lookup");
    group.throughput(Throughput::Elements(1));
    let mut next = 0;
    group.bench_function(BenchmarkId::from_parameter(n), |b| {
        b.iter(|| {
            let q = &queries[next % queries.len()];
            next += 1;
            black_box(index.lookup(&q.agent, &q.node, &q.workload))
        })
    });
    group.finish();

    let mut group = c.benchmark_group("entry_index_sync_set");
    let mut next = 0;
    group.bench_function(BenchmarkId::from_parameter(n), |b| {
        b.iter(|| {
            let q = &queries[next % queries.len()];
            next += 1;
            black_box(index.authorized_entries(&q.agent, &q.node))
        })
    });
    group.finish();

    let mut group = c.benchmark_group("entry_index_update");
    let mut next = 0usize;
    group.bench_function(BenchmarkId::from_parameter(n), |b| {
        b.iter(|| {
            // Re-insert an entry with a changed selector: remove + insert in place.
            let id = format!("e{}", next % n);
            next += 1;
            let old = index.get(&id).expect("entry exists").clone();
            let changed = old
                .to_builder()
                .selector(sel("unix:gid:1"))
                .build()
                .expect("valid");
            black_box(index.insert(changed));
        })
    });
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    for n in [10_000, 100_000, 1_000_000] {
        bench_size(&mut c, n);
    }
    c.final_summary();
}
