//! The `telemetry` block: what is supported, and SPIRE's sinks that are not.

use daemon_telemetry::{PrometheusConfig, TelemetryConfig};
use spire_config::{Config, ConfigError};

fn telemetry(text: &str) -> Result<TelemetryConfig, ConfigError> {
    Config::parse(text)?.decode(|top| top.required_block::<TelemetryConfig>("telemetry"))
}

#[test]
fn prometheus_and_labels() {
    let t = telemetry("telemetry {\n Prometheus {\n  host = \"0.0.0.0\"\n  port = 9988\n }\n InMem {}\n MetricPrefix = \"spire\"\n EnableHostnameLabel = false\n}")
        .expect("decodes");
    assert_eq!(
        t,
        TelemetryConfig {
            prometheus: Some(PrometheusConfig {
                host: "0.0.0.0".into(),
                port: 9988
            }),
            metric_prefix: Some("spire".into()),
            enable_trust_domain_label: None,
            enable_hostname_label: Some(false),
        }
    );
    let t = telemetry("telemetry { Prometheus { port = \"9988\" } }").expect("decodes");
    assert_eq!(
        t.prometheus,
        Some(PrometheusConfig {
            host: "localhost".into(),
            port: 9988
        })
    );
    assert_eq!(
        telemetry("telemetry {}").expect("decodes"),
        TelemetryConfig::default()
    );
}

#[test]
fn unsupported_spire_sinks_are_named() {
    let err = telemetry("telemetry {\n DogStatsd = [{ address = \"localhost:8125\" }]\n}")
        .expect_err("not provided");
    assert_eq!(
        err.to_string(),
        "telemetry DogStatsd is a SPIRE setting this implementation does not provide (line 2)"
    );
    let err =
        telemetry("telemetry {\n Prometheus {\n  port = 1\n  tls { use_spire_svid = true }\n }\n}")
            .expect_err("tls");
    assert_eq!(
        err.to_string(),
        "Prometheus tls is a SPIRE setting this implementation does not provide (line 4)"
    );
    let err = telemetry("telemetry {\n Prometheus { prot = 1 }\n}").expect_err("typo");
    assert_eq!(
        err.to_string(),
        "unknown key \"prot\" in telemetry.Prometheus block at line 2"
    );
}
