//! The server's Prometheus metrics, with SPIRE's names where SPIRE has one (its `go-metrics`
//! keys joined by `_` under the `spire_server` prefix, as its Prometheus sink writes them):
//!
//! | metric | kind | labels | what |
//! |---|---|---|---|
//! | `<prefix>_rpc_<service>_<method>` | counter | `status` | calls of each RPC, by gRPC status name (`OK`, `PermissionDenied`…), e.g. `spire_server_rpc_entry_v1_entry_list_entries` |
//! | `<prefix>_rpc_<service>_<method>_elapsed_time` | histogram (seconds) | `status` | their latency |
//! | `<prefix>_server_ca_sign_x509_svid` | counter | | X.509-SVIDs signed |
//! | `<prefix>_server_ca_sign_jwt_svid` | counter | | JWT-SVIDs signed |
//! | `<prefix>_entries` | gauge | | registration entries in the cache |
//! | `<prefix>_agents` | gauge | | attested agents in the cache |
//! | `<prefix>_upstream_authority_reachable` | gauge | | nested servers: 1 while the upstream server answers, else 0 |
//! | `<prefix>_upstream_authority_failures` | counter | | nested servers: failed calls to the upstream server |
//! | `<prefix>_bundle_manager_fetch_federated_bundle` | counter | `trust_domain_id`, `status` | federated bundle fetches: `OK` or the failure's kind (`unreachable`, `tls`, `malformed`, `too_large`, `wrong_trust_domain`, `drops_endpoint_authority`, `no_endpoint_bundle`…) |
//! | `<prefix>_bundle_manager_update_federated_bundle` | counter | `trust_domain_id` | fetches that changed the stored bundle |
//! | `<prefix>_federation_last_refresh_timestamp_seconds` | gauge | `trust_domain_id` | when a fetch last succeeded (Unix seconds) |
//! | `<prefix>_federation_last_attempt_timestamp_seconds` | gauge | `trust_domain_id` | when a fetch was last tried |
//! | `<prefix>_federation_refresh_failing` | gauge | `trust_domain_id` | 1 when the last fetch failed (the last good bundle is still in force), else 0 |
//!
//! The API services count their signings through [`ServerMetrics`] (`ctx.metrics`); the RPC
//! counts are made by a layer around every listener ([`super::rpc_metrics`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use daemon_telemetry::metrics::{Counter, Family, Gauge, Histogram, DEFAULT_BUCKETS};
use daemon_telemetry::Registry;

/// SPIRE's default metric prefix (`telemetry { MetricPrefix }` overrides it).
pub const DEFAULT_PREFIX: &str = "spire_server";

/// The metrics the server updates; cheap to clone through `Arc`.
pub struct ServerMetrics {
    registry: Arc<Registry>,
    prefix: String,
    x509_signed: Counter,
    jwt_signed: Counter,
    entries: Gauge,
    agents: Gauge,
    rpcs: Mutex<HashMap<String, Rpc>>,
    federation: Federation,
}

/// Per federated trust domain.
struct Federation {
    fetches: Family<Counter>,
    updates: Family<Counter>,
    last_success: Family<Gauge>,
    last_attempt: Family<Gauge>,
    failing: Family<Gauge>,
}

#[derive(Clone)]
struct Rpc {
    calls: Family<Counter>,
    elapsed: Family<Histogram>,
}

impl std::fmt::Debug for ServerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerMetrics")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

// === impl ServerMetrics ===

impl ServerMetrics {
    /// Registers the server's metrics in `registry` under `prefix`.
    ///
    /// # Panics
    /// If `registry` already holds them (a second server on one registry is a wiring bug).
    pub fn new(registry: Arc<Registry>, prefix: &str) -> Self {
        let name = |n: &str| format!("{prefix}_{n}");
        let x509_signed = registry
            .counter(&name("server_ca_sign_x509_svid"), "X.509-SVIDs signed")
            .expect("the server's metric names are valid and registered once");
        let jwt_signed = registry
            .counter(&name("server_ca_sign_jwt_svid"), "JWT-SVIDs signed")
            .expect("the server's metric names are valid and registered once");
        let entries = registry
            .gauge(
                &name("entries"),
                "Registration entries in the server's cache",
            )
            .expect("the server's metric names are valid and registered once");
        let agents = registry
            .gauge(&name("agents"), "Attested agents in the server's cache")
            .expect("the server's metric names are valid and registered once");
        let labels = &["trust_domain_id"];
        let federation = Federation {
            fetches: registry
                .counter_family(
                    &name("bundle_manager_fetch_federated_bundle"),
                    "Federated bundle fetches, by outcome",
                    &["trust_domain_id", "status"],
                )
                .expect("the server's metric names are valid and registered once"),
            updates: registry
                .counter_family(
                    &name("bundle_manager_update_federated_bundle"),
                    "Federated bundle fetches that changed the stored bundle",
                    labels,
                )
                .expect("the server's metric names are valid and registered once"),
            last_success: registry
                .gauge_family(
                    &name("federation_last_refresh_timestamp_seconds"),
                    "When a federated bundle fetch last succeeded",
                    labels,
                )
                .expect("the server's metric names are valid and registered once"),
            last_attempt: registry
                .gauge_family(
                    &name("federation_last_attempt_timestamp_seconds"),
                    "When a federated bundle fetch was last tried",
                    labels,
                )
                .expect("the server's metric names are valid and registered once"),
            failing: registry
                .gauge_family(
                    &name("federation_refresh_failing"),
                    "1 when the last federated bundle fetch failed",
                    labels,
                )
                .expect("the server's metric names are valid and registered once"),
        };
        Self {
            federation,
            registry,
            prefix: prefix.to_owned(),
            x509_signed,
            jwt_signed,
            entries,
            agents,
            rpcs: Mutex::new(HashMap::new()),
        }
    }

    /// Metrics on a registry of their own (tests, embedders without a metrics listener).
    pub fn detached() -> Self {
        Self::new(Arc::new(Registry::new()), DEFAULT_PREFIX)
    }

    /// The registry (what the Prometheus listener serves).
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The metric name prefix (`spire_server` unless configured).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Counts `n` X.509-SVIDs signed.
    pub fn x509_svids_signed(&self, n: u64) {
        self.x509_signed.inc_by(n);
    }

    /// Counts one JWT-SVID signed.
    pub fn jwt_svid_signed(&self) {
        self.jwt_signed.inc();
    }

    /// Records the cache's sizes.
    pub fn set_counts(&self, entries: usize, agents: usize) {
        self.entries.set(entries as f64);
        self.agents.set(agents as f64);
    }

    /// Records a successful fetch of `trust_domain`'s bundle at `now` (Unix seconds).
    pub fn federation_refreshed(&self, trust_domain: &str, now: u64, changed: bool) {
        let f = &self.federation;
        f.fetches.with(&[trust_domain, "OK"]).inc();
        if changed {
            f.updates.with(&[trust_domain]).inc();
        }
        f.last_success.with(&[trust_domain]).set(now as f64);
        f.last_attempt.with(&[trust_domain]).set(now as f64);
        f.failing.with(&[trust_domain]).set(0.0);
    }

    /// Records a failed fetch of `trust_domain`'s bundle at `now`, of kind `kind`.
    pub fn federation_failed(&self, trust_domain: &str, now: u64, kind: &str) {
        let f = &self.federation;
        f.fetches.with(&[trust_domain, kind]).inc();
        f.last_attempt.with(&[trust_domain]).set(now as f64);
        f.failing.with(&[trust_domain]).set(1.0);
    }

    /// Records one RPC (`/package.Service/Method`) that ended with `status` after `elapsed`.
    pub fn rpc(&self, method: &str, status: tonic::Code, elapsed: Duration) {
        let rpc = {
            let mut rpcs = self.rpcs.lock().unwrap_or_else(|p| p.into_inner());
            match rpcs.get(method) {
                Some(rpc) => rpc.clone(),
                None => {
                    let base = format!("{}_rpc_{}", self.prefix, rpc_name(method));
                    let (Ok(calls), Ok(elapsed)) = (
                        self.registry
                            .counter_family(&base, "RPC calls by status", &["status"]),
                        self.registry.histogram_family(
                            &format!("{base}_elapsed_time"),
                            "RPC latency in seconds, by status",
                            &["status"],
                            &DEFAULT_BUCKETS,
                        ),
                    ) else {
                        // Only a method path that makes an invalid name; not worth a metric.
                        return;
                    };
                    let rpc = Rpc { calls, elapsed };
                    rpcs.insert(method.to_owned(), rpc.clone());
                    rpc
                }
            }
        };
        let status = code_name(status);
        rpc.calls.with(&[status]).inc();
        rpc.elapsed.with(&[status]).observe_duration(elapsed);
    }
}

/// `/spire.api.server.entry.v1.Entry/ListEntries` → `entry_v1_entry_list_entries`;
/// `/grpc.health.v1.Health/Check` → `health_v1_health_check`.
pub(crate) fn rpc_name(method: &str) -> String {
    let method = method.trim_start_matches('/');
    let (service, name) = method.split_once('/').unwrap_or((method, ""));
    let service = service
        .strip_prefix("spire.api.server.")
        .or_else(|| service.strip_prefix("grpc."))
        .unwrap_or(service);
    let mut out = String::new();
    for part in service.split('.') {
        if !out.is_empty() {
            out.push('_');
        }
        out.push_str(&snake(part));
    }
    if !name.is_empty() {
        out.push('_');
        out.push_str(&snake(name));
    }
    out.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// `BatchNewX509SVID` → `batch_new_x509_svid`.
fn snake(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The status name as SPIRE's metrics label it (Go's `codes.Code.String()`).
pub fn code_name(code: tonic::Code) -> &'static str {
    // Every `tonic::Code` is one of the 17 grpc-go names.
    daemon_telemetry::grpc_code_name(code as i32).unwrap_or("Unknown")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpc_names_follow_spire() {
        assert_eq!(
            rpc_name("/spire.api.server.svid.v1.SVID/BatchNewX509SVID"),
            "svid_v1_svid_batch_new_x509_svid"
        );
        assert_eq!(
            rpc_name("/spire.api.server.entry.v1.Entry/ListEntries"),
            "entry_v1_entry_list_entries"
        );
        assert_eq!(
            rpc_name("/grpc.health.v1.Health/Check"),
            "health_v1_health_check"
        );
    }

    #[test]
    fn rpc_counts_by_status() {
        let metrics = ServerMetrics::detached();
        metrics.rpc(
            "/spire.api.server.entry.v1.Entry/CountEntries",
            tonic::Code::Ok,
            Duration::from_millis(2),
        );
        metrics.x509_svids_signed(3);
        let text = metrics.registry().encode();
        assert!(
            text.contains("spire_server_rpc_entry_v1_entry_count_entries{status=\"OK\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("spire_server_server_ca_sign_x509_svid 3\n"),
            "{text}"
        );
    }
}
