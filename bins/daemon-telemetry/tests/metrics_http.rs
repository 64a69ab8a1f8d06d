//! The Prometheus listener serves the registry in Prometheus's text format.

mod common;

use daemon_telemetry::metrics::{Registry, DEFAULT_BUCKETS};
use daemon_telemetry::{MetricsServer, PrometheusConfig, METRICS_CONTENT_TYPE};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn metrics_endpoint_serves_registered_metrics() {
    let registry = Arc::new(Registry::new());
    let rpcs = registry
        .counter_family(
            "spire_server_rpc_calls",
            "RPCs served",
            &["method", "status"],
        )
        .expect("register");
    let entries = registry
        .gauge("spire_server_entries", "Registration entries")
        .expect("register");
    let latency = registry
        .histogram_family(
            "spire_server_rpc_seconds",
            "RPC latency",
            &["method"],
            &DEFAULT_BUCKETS,
        )
        .expect("register");
    rpcs.with(&["BatchNewX509SVID", "OK"]).inc_by(3);
    rpcs.with(&["AttestAgent", "PermissionDenied"]).inc();
    entries.set(42.0);
    latency.with(&["AttestAgent"]).observe(0.003);
    latency
        .with(&["AttestAgent"])
        .observe(Duration::from_millis(70).as_secs_f64());

    let config = PrometheusConfig {
        host: "127.0.0.1".into(),
        port: 0,
    };
    let server = MetricsServer::bind(&config, registry.clone())
        .await
        .expect("bind");
    let addr = server.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(async {
        let _ = stopped.await;
    }));

    let reply = common::get(addr, "/metrics").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some(METRICS_CONTENT_TYPE));
    let expected = "\
# HELP spire_server_entries Registration entries
# TYPE spire_server_entries gauge
spire_server_entries 42
# HELP spire_server_rpc_calls RPCs served
# TYPE spire_server_rpc_calls counter
spire_server_rpc_calls{method=\"AttestAgent\",status=\"PermissionDenied\"} 1
spire_server_rpc_calls{method=\"BatchNewX509SVID\",status=\"OK\"} 3
# HELP spire_server_rpc_seconds RPC latency
# TYPE spire_server_rpc_seconds histogram
spire_server_rpc_seconds_bucket{method=\"AttestAgent\",le=\"0.005\"} 1
spire_server_rpc_seconds_bucket{method=\"AttestAgent\",le=\"0.01\"} 1
spire_server_rpc_seconds_bucket{method=\"AttestAgent\",le=\"0.025\"} 1
spire_server_rpc_seconds_bucket{method=\"AttestAgent\",le=\"0.05\"} 1
spire_server_rpc_seconds_bucket{method=\"AttestAgent\",le=\"0.1\"} 2
spire_server_rpc_seconds_bucket{method=\"AttestAgent\",le=\"0.25\"} 2
spire_server_rpc_seconds_bucket{method=\"AttestAgent\",le=\"0.5\"} 2
spire_server_rpc_seconds_bucket{method=\"AttestAgent\",le=\"1\"} 2
spire_server_rpc_seconds_bucket{method=\"AttestAgent\",le=\"2.5\"} 2
spire_server_rpc_seconds_bucket{method=\"AttestAgent\",le=\"5\"} 2
spire_server_rpc_seconds_bucket{method=\"AttestAgent\",le=\"10\"} 2
spire_server_rpc_seconds_bucket{method=\"AttestAgent\",le=\"+Inf\"} 2
spire_server_rpc_seconds_sum{method=\"AttestAgent\"} 0.07300000000000001
spire_server_rpc_seconds_count{method=\"AttestAgent\"} 2
";
    assert_eq!(reply.body, expected);

    // A scrape sees updates; any path serves the metrics, as SPIRE's exporter does.
    entries.dec();
    let reply = common::get(addr, "/").await;
    assert!(
        reply.body.contains("\nspire_server_entries 41\n"),
        "{}",
        reply.body
    );

    stop.send(()).expect("server running");
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("stops")
        .expect("joins")
        .expect("serves");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener closed after shutdown"
    );
}

#[test]
fn registration_errors() {
    use daemon_telemetry::metrics::MetricsError;
    let registry = Registry::new();
    registry.counter("a_total", "").expect("valid");
    assert_eq!(
        registry.counter("a_total", "").expect_err("dup"),
        MetricsError::Duplicate("a_total".into())
    );
    assert_eq!(
        registry.gauge("1a", "").expect_err("name"),
        MetricsError::InvalidName("1a".into())
    );
    assert_eq!(
        registry.gauge("a-b", "").expect_err("name"),
        MetricsError::InvalidName("a-b".into())
    );
    assert_eq!(
        registry
            .counter_family("b", "", &["x", "x"])
            .expect_err("label"),
        MetricsError::InvalidLabel("x".into())
    );
    assert_eq!(
        registry
            .counter_family("c", "", &["__x"])
            .expect_err("label"),
        MetricsError::InvalidLabel("__x".into())
    );
    assert_eq!(
        registry
            .histogram_family("d", "", &["le"], &[1.0])
            .expect_err("label"),
        MetricsError::InvalidLabel("le".into())
    );
    assert_eq!(
        registry
            .histogram("e", "", &[2.0, 1.0])
            .expect_err("buckets"),
        MetricsError::InvalidBuckets
    );
    assert_eq!(
        registry.histogram("f", "", &[]).expect_err("buckets"),
        MetricsError::InvalidBuckets
    );
    assert_eq!(
        registry
            .histogram("g", "", &[f64::NAN])
            .expect_err("buckets"),
        MetricsError::InvalidBuckets
    );
}

#[test]
fn escaping_and_empty_families() {
    let registry = Registry::new();
    let family = registry
        .counter_family("x", "help with \\ and\nnewline", &["path"])
        .expect("register");
    assert_eq!(
        registry.encode(),
        "",
        "a family without series is not exposed"
    );
    family.with(&["a\"b\\c\nd"]).inc();
    assert_eq!(
        registry.encode(),
        "# HELP x help with \\\\ and\\nnewline\n# TYPE x counter\nx{path=\"a\\\"b\\\\c\\nd\"} 1\n"
    );
}

#[test]
fn concurrent_updates_are_counted() {
    let registry = Registry::new();
    let counter = registry.counter("n", "").expect("register");
    let gauge = registry.gauge("g", "").expect("register");
    let hist = registry.histogram("h", "", &[1.0]).expect("register");
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..1000 {
                    counter.inc();
                    gauge.add(0.5);
                    hist.observe(0.5);
                }
            });
        }
    });
    assert_eq!(counter.get(), 4000);
    assert_eq!(gauge.get(), 2000.0);
    assert_eq!(hist.count(), 4000);
    assert!(registry.encode().contains("h_sum 2000\n"));
}
