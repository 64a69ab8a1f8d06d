//! Federation between two trust domains, each a server and an agent as processes on loopback:
//! bundles exchanged through each profile (`https_spiffe` bootstrapped with `bundle set`,
//! `https_web` with a test CA given to the servers as `SSL_CERT_FILE`), then a workload of each
//! domain authorizes a workload of the other over mTLS, both ways. And bad bundle endpoints:
//! each failure is named by `federation refresh` and the last good bundle stays stored.
//!
//! Needs `cargo build -p spiffe-server -p spiffe-agent` first.
#![allow(clippy::unwrap_used)]

mod federation_support;

use std::time::Duration;

use daemon_harness::{current_uid, Domain};
use federation_support::fake_endpoint::FakeEndpoint;
use federation_support::*;
use spiffe_core::{Certificate, JwtBundle, SpiffeBundle, TrustDomain, X509Bundle};
use spiffe_server::testing::process::free_port;

const A_SERVER: &str = "spiffe://a.test/server";
const B_CLIENT: &str = "spiffe://b.test/client";

/// Entries for this process in both domains, each federating with the other, then mTLS both
/// ways: a.test's workload serves b.test's, then b.test's serves a.test's.
fn workloads_authorize_each_other(a: &Domain, b: &Domain) {
    let selector = format!("unix:uid:{}", current_uid());
    a.create_entry(
        A_SERVER,
        &[&selector],
        &["-federatesWith", "spiffe://b.test"],
    )
    .unwrap();
    b.create_entry(
        B_CLIENT,
        &[&selector],
        &["-federatesWith", "spiffe://a.test"],
    )
    .unwrap();
    a.wait_for_svid(A_SERVER).unwrap();
    b.wait_for_svid(B_CLIENT).unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (sa, sb) = (source(a).await, source(b).await);
        // The federated bundles reach the agents with their next sync: wait for the first
        // handshake to pass (FED-12: each bundle is delivered bound to its trust domain).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
        let mut last = Err(String::new());
        while tokio::time::Instant::now() < deadline {
            last = exchange(&sa, A_SERVER, &sb, B_CLIENT).await;
            if last.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert_eq!(last, Ok(format!("hello {B_CLIENT}: ping")));
        // And the other way round: b.test's workload serves, a.test's dials.
        let mut back = Err(String::new());
        while tokio::time::Instant::now() < deadline {
            back = exchange(&sb, B_CLIENT, &sa, A_SERVER).await;
            if back.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert_eq!(back, Ok(format!("hello {A_SERVER}: ping")));
        // A workload of a third trust domain nobody federates with is still refused: the
        // authorizer names one ID, and the bundles are per trust domain (FED-7).
        assert!(exchange(&sa, A_SERVER, &sb, "spiffe://b.test/someone-else")
            .await
            .is_err());
    });
}

#[test]
fn https_spiffe_federation_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (free_port(), free_port());
    let a = Domain::start(&dir.path().join("a"), "a.test", |server, _| {
        server.extra_server = federation_block(pa, "", &federates_spiffe("b.test", pb));
    })
    .unwrap();
    let b = Domain::start(&dir.path().join("b"), "b.test", |server, _| {
        server.extra_server = federation_block(pb, "", &federates_spiffe("a.test", pa));
    })
    .unwrap();

    // Before the bootstrap, the fetch cannot verify the endpoint (FED-21) and says so.
    let (success, _, err) = cli(&b, &["federation", "refresh", "-id", "a.test"]);
    assert!(!success);
    assert!(
        err.contains("no bundle for trust domain \"a.test\""),
        "{err}"
    );

    bootstrap(&a, &b, dir.path());
    bootstrap(&b, &a, dir.path());
    assert_eq!(
        ok(&b, &["federation", "refresh", "-id", "a.test"]),
        "Bundle refreshed\n"
    );
    assert_eq!(
        ok(&a, &["federation", "refresh", "-id", "b.test"]),
        "Bundle refreshed\n"
    );
    // The bundle B stored is A's, as A serves it (with A's sequence number).
    let served = ok(&a, &["bundle", "show", "-format", "spiffe"]);
    let stored = ok(
        &b,
        &[
            "bundle",
            "list",
            "-id",
            "spiffe://a.test",
            "-format",
            "spiffe",
        ],
    );
    let td = TrustDomain::new("a.test").unwrap();
    let served = SpiffeBundle::parse(td.clone(), served.as_bytes()).unwrap();
    let stored = SpiffeBundle::parse(td, stored.trim_end().as_bytes()).unwrap();
    assert_eq!(served.x509_authorities(), stored.x509_authorities());

    workloads_authorize_each_other(&a, &b);
}

#[test]
fn https_web_federation_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let web = TestCa::new(None);
    let ca_file = web.write(&dir.path().join("web-ca.pem"));
    let serving = |name: &str| {
        let (cert, key) = web.leaf(Some("localhost"), None);
        let (cert_path, key_path) = (
            dir.path().join(format!("{name}.crt")),
            dir.path().join(format!("{name}.key")),
        );
        std::fs::write(&cert_path, cert).unwrap();
        std::fs::write(&key_path, key).unwrap();
        format!(
            "profile \"https_web\" {{\n                serving_cert_file {{\n                    cert_file_path = \"{}\"\n                    key_file_path = \"{}\"\n                }}\n            }}",
            cert_path.display(),
            key_path.display()
        )
    };
    let (pa, pb) = (free_port(), free_port());
    let (serve_a, serve_b) = (serving("a"), serving("b"));
    let env = [("SSL_CERT_FILE", ca_file.to_str().unwrap())];
    let a = Domain::start_with_env(&dir.path().join("a"), "a.test", &env, |server, _| {
        server.extra_server = federation_block(pa, &serve_a, &federates_web("b.test", pb));
    })
    .unwrap();
    let b = Domain::start_with_env(&dir.path().join("b"), "b.test", &env, |server, _| {
        server.extra_server = federation_block(pb, &serve_b, &federates_web("a.test", pa));
    })
    .unwrap();
    // No bootstrap: Web PKI authenticates the endpoints (FED-14).
    assert!(wait_until(Duration::from_secs(30), || {
        cli(&b, &["federation", "refresh", "-id", "a.test"]).0
            && cli(&a, &["federation", "refresh", "-id", "b.test"]).0
    }));
    let listed = ok(&b, &["bundle", "list"]);
    assert!(listed.contains("* a.test"), "{listed}");

    workloads_authorize_each_other(&a, &b);
}

fn bundle_json(td: &str, authorities: &[&TestCa], sequence: u64) -> Vec<u8> {
    let td = TrustDomain::new(td).unwrap();
    let certs = authorities
        .iter()
        .map(|ca| Certificate::from_der(ca.cert.der().clone()).unwrap())
        .collect();
    let mut bundle = SpiffeBundle::from_parts(
        X509Bundle::from_authorities(td.clone(), certs),
        JwtBundle::new(td),
    )
    .unwrap();
    bundle.set_sequence(Some(sequence));
    bundle.to_json()
}

#[test]
fn bad_bundle_endpoints_keep_the_last_good_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let metrics_port = free_port();
    let b = Domain::start(&dir.path().join("b"), "b.test", |server, _| {
        server.prometheus_port = Some(metrics_port);
    })
    .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();

    // f.test: an https_spiffe endpoint run by this test, bootstrapped with its CA.
    let f_ca = TestCa::new(Some("f.test"));
    let (cert, key) = f_ca.leaf(None, Some("spiffe://f.test/endpoint"));
    let endpoint = runtime.block_on(FakeEndpoint::start(&cert, &key));
    let ca_path = f_ca.write(&dir.path().join("f-ca.pem"));
    ok(
        &b,
        &[
            "bundle",
            "set",
            "-id",
            "spiffe://f.test",
            "-path",
            ca_path.to_str().unwrap(),
        ],
    );
    let url = format!("https://127.0.0.1:{}/", endpoint.addr.port());
    let create = |td: &str, id: &str| {
        ok(
            &b,
            &[
                "federation",
                "create",
                "-trustDomain",
                td,
                "-bundleEndpointURL",
                &url,
                "-bundleEndpointProfile",
                "https_spiffe",
                "-endpointSpiffeID",
                id,
            ],
        )
    };
    create("f.test", "spiffe://f.test/endpoint");
    let refresh = || cli(&b, &["federation", "refresh", "-id", "f.test"]);
    let stored = || {
        ok(
            &b,
            &[
                "bundle",
                "list",
                "-id",
                "spiffe://f.test",
                "-format",
                "spiffe",
            ],
        )
    };

    // A good bundle: the endpoint's CA and a second one published ahead of use.
    let next_ca = TestCa::new(Some("f.test"));
    endpoint.set_body(bundle_json("f.test", &[&f_ca, &next_ca], 5));
    let (success, out, err) = refresh();
    assert!(success, "{out}{err}");
    let good = stored();
    assert!(good.contains("\"spiffe_sequence\": 5"), "{good}");

    let other = TestCa::new(Some("g.test"));
    let mut oversized = bundle_json("f.test", &[&f_ca], 6);
    oversized.truncate(oversized.len() - 1);
    oversized.extend(format!(", \"padding\": \"{}\"}}", "x".repeat(600 * 1024)).into_bytes());
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "malformed",
            b"{\"keys\": [".to_vec(),
            "the bundle document is invalid",
        ),
        ("oversized", oversized, "larger than"),
        (
            "wrong trust domain",
            bundle_json("f.test", &[&f_ca, &other], 7),
            "holds an authority of \"g.test\"",
        ),
        (
            "drops the key the connection used",
            bundle_json("f.test", &[&next_ca], 8),
            "drops the authority that verified its own endpoint",
        ),
    ];
    for (what, body, expected) in cases {
        endpoint.set_body(body);
        let (success, _, err) = refresh();
        assert!(!success, "{what}: refresh succeeded");
        assert!(err.contains(expected), "{what}: {err}");
        assert_eq!(stored(), good, "{what}: the stored bundle changed");
    }

    // A wrong endpoint SPIFFE ID (FED-25): the handshake is refused, naming both IDs.
    ok(&b, &["federation", "delete", "-id", "f.test"]);
    create("f.test", "spiffe://f.test/someone-else");
    endpoint.set_body(bundle_json("f.test", &[&f_ca], 9));
    let (success, _, err) = refresh();
    assert!(!success);
    assert!(
        err.contains("spiffe://f.test/endpoint") && err.contains("spiffe://f.test/someone-else"),
        "{err}"
    );
    assert_eq!(stored(), good);

    // Unreachable.
    let closed = free_port();
    ok(
        &b,
        &[
            "federation",
            "create",
            "-trustDomain",
            "u.test",
            "-bundleEndpointURL",
            &format!("https://127.0.0.1:{closed}/"),
            "-bundleEndpointProfile",
            "https_web",
        ],
    );
    let (success, _, err) = cli(&b, &["federation", "refresh", "-id", "u.test"]);
    assert!(!success);
    assert!(err.contains("unable to reach the bundle endpoint"), "{err}");

    // The failures are in the metrics, per relationship.
    let metrics = http_get(metrics_port, "/metrics");
    assert!(
        metrics.contains("federation_refresh_failing{trust_domain_id=\"f.test\"} 1"),
        "{metrics}"
    );
    assert!(
        // At least one each (the pollers also fetch on their own, so counts are not exact).
        metrics.contains("bundle_manager_fetch_federated_bundle{trust_domain_id=\"f.test\",status=\"malformed\"}")
            && metrics.contains("bundle_manager_fetch_federated_bundle{trust_domain_id=\"f.test\",status=\"OK\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("federation_last_refresh_timestamp_seconds{trust_domain_id=\"f.test\"}")
    );
    let log = b.server.output();
    assert!(
        log.contains("Error updating bundle; keeping the current one"),
        "{log}"
    );
}

fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = stream.read_to_string(&mut out);
    out
}
