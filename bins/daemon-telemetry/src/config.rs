//! The `telemetry { }` and `health_checks { }` blocks both daemons share, decoded with
//! SPIRE's keys and defaults (`doc/telemetry/telemetry_config.md`, `pkg/common/health`).

use spire_config::{ConfigError, Decoder, FromSection};

/// `telemetry { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TelemetryConfig {
    /// `Prometheus { host port }`: serve metrics over HTTP.
    pub prometheus: Option<PrometheusConfig>,
    /// `MetricPrefix` (SPIRE's default is the service name, `spire_server`/`spire_agent`).
    pub metric_prefix: Option<String>,
    /// `EnableTrustDomainLabel` (SPIRE's default: false).
    pub enable_trust_domain_label: Option<bool>,
    /// `EnableHostnameLabel` (SPIRE's default: true).
    pub enable_hostname_label: Option<bool>,
}

/// SPIRE sinks and filters this implementation does not provide: declaring one is an error
/// rather than silently collecting nothing.
const NOT_PROVIDED: &[&str] = &[
    "DogStatsd",
    "Statsd",
    "M3",
    "AllowedPrefixes",
    "BlockedPrefixes",
    "AllowedLabels",
    "BlockedLabels",
];

fn not_provided(d: &mut Decoder<'_>, keys: &[&str], context: &str) -> Result<(), ConfigError> {
    for key in keys {
        if let Some(pos) = d.ignore(key) {
            return Err(ConfigError::NotProvided {
                subject: format!("{context} {key}"),
                what: "setting",
                pos,
            });
        }
    }
    Ok(())
}

impl FromSection for TelemetryConfig {
    fn from_section(d: &mut Decoder<'_>) -> Result<Self, ConfigError> {
        not_provided(d, NOT_PROVIDED, "telemetry")?;
        // SPIRE's in-memory sink only dumps metrics on SIGUSR1; accepting it changes nothing.
        d.ignore("InMem");
        Ok(TelemetryConfig {
            prometheus: d.optional_block("Prometheus")?,
            metric_prefix: d.optional_str("MetricPrefix")?,
            enable_trust_domain_label: d.optional_bool("EnableTrustDomainLabel")?,
            enable_hostname_label: d.optional_bool("EnableHostnameLabel")?,
        })
    }
}

/// `Prometheus { host port }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrometheusConfig {
    /// `host`, default `localhost` (SPIRE warns when it is anything else).
    pub host: String,
    /// `port`.
    pub port: u16,
}

impl FromSection for PrometheusConfig {
    fn from_section(d: &mut Decoder<'_>) -> Result<Self, ConfigError> {
        not_provided(d, &["tls"], "Prometheus")?;
        Ok(PrometheusConfig {
            host: d
                .optional_str("host")?
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "localhost".to_owned()),
            port: d.optional_u16("port")?.unwrap_or(0),
        })
    }
}

/// `health_checks { listener_enabled bind_address bind_port live_path ready_path }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthConfig {
    /// `listener_enabled`, default false: without it there is no HTTP listener.
    pub listener_enabled: bool,
    /// `bind_address`, default `localhost` (brackets around an IPv6 address are removed).
    pub bind_address: String,
    /// `bind_port`, default 80 (SPIRE reads it as a string; a number works too).
    pub bind_port: u16,
    /// `live_path`, default `/live`.
    pub live_path: String,
    /// `ready_path`, default `/ready`.
    pub ready_path: String,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            listener_enabled: false,
            bind_address: "localhost".to_owned(),
            bind_port: 80,
            live_path: "/live".to_owned(),
            ready_path: "/ready".to_owned(),
        }
    }
}

impl FromSection for HealthConfig {
    fn from_section(d: &mut Decoder<'_>) -> Result<Self, ConfigError> {
        let defaults = HealthConfig::default();
        let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
        Ok(HealthConfig {
            listener_enabled: d
                .optional_bool("listener_enabled")?
                .unwrap_or(defaults.listener_enabled),
            bind_address: nonempty(d.optional_str("bind_address")?)
                .map(|a| a.trim_start_matches('[').trim_end_matches(']').to_owned())
                .unwrap_or(defaults.bind_address),
            bind_port: d.optional_u16("bind_port")?.unwrap_or(defaults.bind_port),
            live_path: nonempty(d.optional_str("live_path")?).unwrap_or(defaults.live_path),
            ready_path: nonempty(d.optional_str("ready_path")?).unwrap_or(defaults.ready_path),
        })
    }
}
