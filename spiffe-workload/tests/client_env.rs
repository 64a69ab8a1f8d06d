//! `SPIFFE_ENDPOINT_SOCKET` (WEP-8..11): one test, since it changes the process environment.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Ca, Running, StaticProvider};
use spiffe_core::X509SvidSource;
use spiffe_workload::{ClientError, WorkloadApiClient};
use spiffe_workload::{EndpointError, ENDPOINT_ENV_VAR};
use spiffe_workload::{SourceError, X509Source};

#[tokio::test]
async fn endpoint_from_the_environment() {
    // Unset: WEP-8, and the message names the rule.
    std::env::remove_var(ENDPOINT_ENV_VAR);
    let err = WorkloadApiClient::from_env().await.expect_err("unset");
    assert!(matches!(
        err,
        ClientError::Endpoint(EndpointError::NotConfigured)
    ));
    assert!(err.to_string().contains("WEP-8"), "{err}");
    let err = X509Source::from_env().await.expect_err("unset");
    assert!(matches!(
        err,
        SourceError::Client(ClientError::Endpoint(EndpointError::NotConfigured))
    ));
    // The top-level message says what is wrong; nothing repeats down the chain.
    assert_eq!(
        err.to_string(),
        "no Workload API endpoint configured and SPIFFE_ENDPOINT_SOCKET is unset (WEP-8)"
    );
    assert!(std::error::Error::source(&err).is_none());
    assert!(!ClientError::Endpoint(EndpointError::NotConfigured).is_retryable());

    // Invalid: the rule broken is named (WEP-10, WEP-11).
    for (value, rule) in [
        ("unix://host/agent.sock", "WEP-10"),
        ("tcp://localhost:8000", "WEP-11"),
        ("/run/agent.sock", "WEP-9"),
    ] {
        std::env::set_var(ENDPOINT_ENV_VAR, value);
        let err = WorkloadApiClient::from_env().await.expect_err(value);
        assert!(matches!(err, ClientError::Endpoint(_)), "{value}: {err:?}");
        assert!(err.to_string().contains(rule), "{value}: {err}");
    }

    // A socket that does not exist: the sources fail at once, naming the path.
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("agent.sock");
    std::env::set_var(ENDPOINT_ENV_VAR, format!("unix://{}", missing.display()));
    let started = std::time::Instant::now();
    let err = X509Source::from_env().await.expect_err("no socket");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(
        err.to_string(),
        format!("Workload API socket {} does not exist", missing.display())
    );

    // Valid: both unix forms reach the server.
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let server = Running::start(StaticProvider::example(&ca, &other));
    for value in [
        format!("unix://{}", server.path.display()),
        format!("unix:{}", server.path.display()),
    ] {
        std::env::set_var(ENDPOINT_ENV_VAR, &value);
        let client = WorkloadApiClient::from_env().await.unwrap();
        let svid = client.fetch_x509_svid().await.unwrap();
        assert_eq!(svid.spiffe_id().as_str(), "spiffe://example.org/workload");
        let source = X509Source::from_env().await.unwrap();
        assert_eq!(source.x509_svid().unwrap().spiffe_id(), svid.spiffe_id());
    }
    std::env::remove_var(ENDPOINT_ENV_VAR);
    server.shutdown().await;
}
