//! The provider's HCL config, SPIRE's `oidc-discovery-provider` keys, parsed once into
//! [`Settings`] with every default stated here.
//!
//! Unknown keys are errors naming the key and its line (the `spire-config` decoder). The
//! cross-key rules and their messages are SPIRE's (`support/oidc-discovery-provider/config.go`
//! and `config_posix.go`).

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use daemon_telemetry::{LogFormat, LogLevel, LogSettings};
use http::Uri;
use spiffe_core::TrustDomain;
use spire_config::{Config, ConfigError, Decoder, Pos};
use thiserror::Error;

use crate::domain::DomainAllowlist;

/// `poll_interval` of every key source when unset or not positive.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(10);
/// `serving_cert_file.file_sync_interval` when unset.
pub const DEFAULT_FILE_SYNC_INTERVAL: Duration = Duration::from_secs(60);
/// `serving_cert_file.addr` when unset.
pub const DEFAULT_SERVING_ADDR: &str = ":443";
/// `health_checks.bind_port` when unset or not positive.
pub const DEFAULT_HEALTH_PORT: u16 = 8008;
/// `health_checks.bind_address` (our addition) when unset: every interface, as SPIRE binds.
pub const DEFAULT_HEALTH_ADDRESS: &str = "0.0.0.0";
/// `health_checks.ready_path` when unset.
pub const DEFAULT_READY_PATH: &str = "/ready";
/// `health_checks.live_path` when unset.
pub const DEFAULT_LIVE_PATH: &str = "/live";
/// The `-config` flag's default.
pub const DEFAULT_CONFIG_PATH: &str = "oidc-discovery-provider.conf";

/// Everything the provider runs with.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// `domains`, deduplicated in order: the hosts the discovery document is served for.
    pub domains: DomainAllowlist,
    /// `log_level`, `log_format`, `log_path`.
    pub log: LogSettings,
    /// `log_requests`: every request logged at DEBUG.
    pub log_requests: bool,
    /// `set_key_use`: `"use": "sig"` on every served JWK.
    pub set_key_use: bool,
    /// `allow_insecure_scheme`: `http://` URLs in the discovery document for plain-HTTP
    /// requests.
    pub allow_insecure_scheme: bool,
    /// Where and how requests are served.
    pub listener: ListenerSettings,
    /// Where the keys come from.
    pub source: SourceSettings,
    /// `health_checks`, if present.
    pub health_checks: Option<HealthSettings>,
    /// `jwt_issuer`: the issuer in the discovery document, instead of one built from the
    /// request.
    pub jwt_issuer: Option<Uri>,
    /// `jwks_uri`: the JWKS URI in the discovery document.
    pub jwks_uri: Option<Uri>,
    /// `server_path_prefix`, default `/`.
    pub server_path_prefix: String,
}

/// How requests reach the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListenerSettings {
    /// `insecure_addr`: plain HTTP on TCP (behind a TLS-terminating proxy).
    Insecure {
        /// The address as written (`:8080`, `127.0.0.1:8080`, `localhost:8080`).
        addr: String,
    },
    /// `listen_socket_path`: plain HTTP on a Unix socket (behind a local web server).
    UnixSocket {
        /// The socket path.
        path: PathBuf,
    },
    /// `serving_cert_file`: HTTPS with a certificate and key from PEM files, reloaded when
    /// they change.
    ServingCertFile(ServingCertFile),
}

/// The `serving_cert_file` block.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServingCertFile {
    /// `cert_file_path`: the certificate chain, PEM.
    pub cert_file_path: PathBuf,
    /// `key_file_path`: the private key, PEM.
    pub key_file_path: PathBuf,
    /// `addr`, resolved, default `:443`.
    pub addr: SocketAddr,
    /// `file_sync_interval`, default one minute.
    pub file_sync_interval: Duration,
}

/// Where the JWT authorities come from (exactly one).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SourceSettings {
    /// `server_api`: the server's Bundle API on its admin socket.
    ServerApi {
        /// The socket path from `address` (`unix:///path` or `unix:path`).
        socket_path: PathBuf,
        /// `poll_interval`.
        poll_interval: Duration,
    },
    /// `workload_api`: the agent's Workload API (`FetchJWTBundles`).
    WorkloadApi {
        /// `socket_path`, made absolute.
        socket_path: PathBuf,
        /// `trust_domain`: whose bundle to serve.
        trust_domain: TrustDomain,
        /// `poll_interval`.
        poll_interval: Duration,
    },
    /// `file`: a SPIFFE bundle document on disk.
    File {
        /// `path`.
        path: PathBuf,
        /// `poll_interval`.
        poll_interval: Duration,
    },
}

impl SourceSettings {
    /// How often the source is polled.
    pub fn poll_interval(&self) -> Duration {
        match self {
            SourceSettings::ServerApi { poll_interval, .. }
            | SourceSettings::WorkloadApi { poll_interval, .. }
            | SourceSettings::File { poll_interval, .. } => *poll_interval,
        }
    }
}

/// The `health_checks` block.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HealthSettings {
    /// `bind_address` (our addition; SPIRE listens on every interface).
    pub bind_address: String,
    /// `bind_port`, default 8008.
    pub bind_port: u16,
    /// `live_path`, default `/live`.
    pub live_path: String,
    /// `ready_path`, default `/ready`.
    pub ready_path: String,
}

/// Why a config cannot be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// A key-level problem: syntax, an unknown key, a wrong type or value (names the key and
    /// its line).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A rule between keys, with SPIRE's message (and the line of the block it is about).
    #[error("{message}{}", at_line(.pos))]
    Rule {
        /// SPIRE's message.
        message: &'static str,
        /// The block the rule is about; `None` for the file as a whole.
        pos: Option<Pos>,
    },
    /// An `acme` block: certificates from an ACME CA (Let's Encrypt) are not provided.
    #[error("the acme section (line {}) is not supported: this provider does not obtain certificates over ACME; use serving_cert_file, or insecure_addr or listen_socket_path behind a TLS-terminating proxy", pos.line)]
    Acme {
        /// Where the block is.
        pos: Pos,
    },
}

fn at_line(pos: &Option<Pos>) -> String {
    pos.map(|p| format!(" (line {})", p.line))
        .unwrap_or_default()
}

fn rule(message: &'static str, pos: Option<Pos>) -> SettingsError {
    SettingsError::Rule { message, pos }
}

/// A duration as SPIRE's `parseDurationField`: unset, zero or negative means the default.
fn interval(d: &mut Decoder<'_>, key: &str, default: Duration) -> Result<Duration, ConfigError> {
    Ok(d.optional_duration(key)?
        .filter(|v| !v.is_zero())
        .unwrap_or(default))
}

/// The Windows-only `experimental { named_pipe_name }` of a source block: refused by name.
fn no_named_pipe(d: &mut Decoder<'_>, key: &str) -> Result<(), ConfigError> {
    if let Some(section) = d.optional_section("experimental")? {
        section.decode(|e| {
            if let Some(pos) = e.ignore(key) {
                return Err(ConfigError::NotProvided {
                    subject: key.to_owned(),
                    what: "Windows setting",
                    pos,
                });
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// An absolute URL with a scheme and a host (`jwt_issuer`, `jwks_uri`).
fn absolute_url(value: &str) -> Result<Uri, &'static str> {
    let uri: Uri = value.parse().map_err(|_| "could not be parsed")?;
    if uri.scheme().is_none() {
        return Err("must contain a scheme");
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("must contain a host");
    }
    Ok(uri)
}

/// A Go `host:port` listen address (`:443` is every interface).
pub(crate) fn resolve_addr(addr: &str) -> Option<SocketAddr> {
    let full = if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else {
        addr.to_owned()
    };
    full.to_socket_addrs().ok()?.next()
}

impl Settings {
    /// Parses config text (already `-expandEnv`-expanded if asked).
    pub fn parse(text: &str) -> Result<Settings, SettingsError> {
        Self::from_config(&Config::parse(text)?)
    }

    /// Reads a parsed config.
    pub fn from_config(config: &Config) -> Result<Settings, SettingsError> {
        let mut rule_error = None;
        let settings = config.decode(|d| {
            let read = read_top(d);
            match read {
                Ok(Ok(s)) => Ok(Some(s)),
                Ok(Err(e)) => {
                    rule_error = Some(e);
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        })?;
        match (settings, rule_error) {
            (Some(s), _) => Ok(s),
            (None, Some(e)) => Err(e),
            (None, None) => unreachable!("read_top returns settings or a rule error"),
        }
    }
}

/// Reads the top level: key errors come out as `Err`, rule errors as `Ok(Err)` (so that an
/// unknown key anywhere is still reported first, by the decoder).
fn read_top(d: &mut Decoder<'_>) -> Result<Result<Settings, SettingsError>, ConfigError> {
    let log = LogSettings {
        level: d
            .optional_parsed::<LogLevel>("log_level")?
            .unwrap_or(LogLevel::Info),
        format: d
            .optional_parsed::<LogFormat>("log_format")?
            .unwrap_or(LogFormat::Text),
        file: d
            .optional_str("log_path")?
            .filter(|p| !p.is_empty())
            .map(PathBuf::from),
        source_location: false,
    };
    let log_requests = d.optional_bool("log_requests")?.unwrap_or(false);
    let domains = d.optional_str_list("domains")?.unwrap_or_default();
    // Each entry must be a domain a request's host can equal (SPIRE's DomainAllowlist).
    let allowlist =
        DomainAllowlist::new(&domains).map_err(|e| d.invalid("domains", e.to_string()))?;
    let set_key_use = d.optional_bool("set_key_use")?.unwrap_or(false);
    let allow_insecure_scheme = d.optional_bool("allow_insecure_scheme")?.unwrap_or(false);
    let insecure_addr = d.optional_str("insecure_addr")?.filter(|s| !s.is_empty());
    let listen_socket_path = d
        .optional_str("listen_socket_path")?
        .filter(|s| !s.is_empty());
    let jwt_issuer = match d.optional_str("jwt_issuer")?.filter(|s| !s.is_empty()) {
        None => None,
        Some(v) => Some(
            absolute_url(&v)
                .map_err(|why| d.invalid("jwt_issuer", format!("the jwt_issuer url {why}")))?,
        ),
    };
    let jwks_uri = match d.optional_str("jwks_uri")?.filter(|s| !s.is_empty()) {
        None => None,
        Some(v) => Some(
            absolute_url(&v)
                .map_err(|_| d.invalid("jwks_uri", "the jwks_uri setting could not be parsed"))?,
        ),
    };
    let server_path_prefix = match d.optional_str("server_path_prefix")? {
        None => "/".to_owned(),
        Some(p) if p.is_empty() => "/".to_owned(),
        Some(p) if !p.starts_with('/') => {
            return Err(d.invalid("server_path_prefix", "must start with \"/\""))
        }
        Some(p) => p,
    };

    // ACME needs the internet (Let's Encrypt): refused by name, after its keys are read so
    // that a typo inside is still reported as such.
    let acme = d.optional_section("acme")?;
    if let Some(acme) = &acme {
        acme.decode(|a| {
            for key in ["directory_url", "email", "tos_accepted", "cache_dir"] {
                a.ignore(key);
            }
            Ok(())
        })?;
    }
    let acme_pos = acme.as_ref().map(|a| a.pos());

    let serving_section = d.optional_section("serving_cert_file")?;
    let serving = match &serving_section {
        None => None,
        Some(section) => Some(section.decode(|s| {
            let cert = s.optional_str("cert_file_path")?.filter(|p| !p.is_empty());
            let key = s.optional_str("key_file_path")?.filter(|p| !p.is_empty());
            let raw_addr = s
                .optional_str("addr")?
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| DEFAULT_SERVING_ADDR.to_owned());
            let addr = resolve_addr(&raw_addr).ok_or_else(|| {
                s.invalid(
                    "addr",
                    "invalid addr in the serving_cert_file configuration section",
                )
            })?;
            let file_sync_interval = interval(s, "file_sync_interval", DEFAULT_FILE_SYNC_INTERVAL)?;
            let cert = cert.ok_or_else(|| s.missing("cert_file_path"))?;
            let key = key.ok_or_else(|| s.missing("key_file_path"))?;
            Ok(ServingCertFile {
                cert_file_path: cert.into(),
                key_file_path: key.into(),
                addr,
                file_sync_interval,
            })
        })?),
    };

    let mut sources = Vec::new();
    if let Some(section) = d.optional_section("server_api")? {
        let pos = section.pos();
        let source = section.decode(|s| {
            let address = s.optional_str("address")?.filter(|a| !a.is_empty());
            let poll_interval = interval(s, "poll_interval", DEFAULT_POLL_INTERVAL)?;
            no_named_pipe(s, "named_pipe_name")?;
            let address = address.ok_or_else(|| s.missing("address"))?;
            let socket_path = unix_target_path(&address).ok_or_else(|| {
                s.invalid(
                    "address",
                    "address must use the unix name system in the server_api configuration section",
                )
            })?;
            Ok(SourceSettings::ServerApi {
                socket_path,
                poll_interval,
            })
        })?;
        sources.push((source, pos));
    }
    if let Some(section) = d.optional_section("workload_api")? {
        let pos = section.pos();
        let source = section.decode(|s| {
            let socket_path = s.optional_str("socket_path")?.filter(|p| !p.is_empty());
            let trust_domain = s.optional_str("trust_domain")?.filter(|t| !t.is_empty());
            let poll_interval = interval(s, "poll_interval", DEFAULT_POLL_INTERVAL)?;
            no_named_pipe(s, "named_pipe_name")?;
            let trust_domain = trust_domain.ok_or_else(|| s.missing("trust_domain"))?;
            let trust_domain = TrustDomain::new(&trust_domain)
                .map_err(|e| s.invalid("trust_domain", e.to_string()))?;
            let socket_path = socket_path.ok_or_else(|| s.missing("socket_path"))?;
            let socket_path = std::path::absolute(&socket_path)
                .map_err(|e| s.invalid("socket_path", e.to_string()))?;
            Ok(SourceSettings::WorkloadApi {
                socket_path,
                trust_domain,
                poll_interval,
            })
        })?;
        sources.push((source, pos));
    }
    if let Some(section) = d.optional_section("file")? {
        let pos = section.pos();
        let source = section.decode(|s| {
            let path = s.optional_str("path")?.filter(|p| !p.is_empty());
            let poll_interval = interval(s, "poll_interval", DEFAULT_POLL_INTERVAL)?;
            let path = path.ok_or_else(|| s.missing("path"))?;
            Ok(SourceSettings::File {
                path: path.into(),
                poll_interval,
            })
        })?;
        sources.push((source, pos));
    }

    let health_checks = d.optional_block_with("health_checks", |h| {
        Ok(HealthSettings {
            bind_address: h
                .optional_str("bind_address")?
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| DEFAULT_HEALTH_ADDRESS.to_owned()),
            bind_port: h
                .optional_u16("bind_port")?
                .filter(|p| *p > 0)
                .unwrap_or(DEFAULT_HEALTH_PORT),
            live_path: h
                .optional_str("live_path")?
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| DEFAULT_LIVE_PATH.to_owned()),
            ready_path: h
                .optional_str("ready_path")?
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| DEFAULT_READY_PATH.to_owned()),
        })
    })?;

    // `experimental { listen_named_pipe_name }` is Windows only.
    no_named_pipe(d, "listen_named_pipe_name")?;

    // === rules between keys (SPIRE's order and messages) ===
    if let Some(pos) = acme_pos {
        return Ok(Err(SettingsError::Acme { pos }));
    }
    if domains.is_empty() {
        return Ok(Err(rule("at least one domain must be configured", None)));
    }
    let domains = allowlist;
    let serving_pos = serving_section.as_ref().map(|s| s.pos());
    let listener = match (insecure_addr, listen_socket_path, serving) {
        (None, None, None) => {
            return Ok(Err(rule(
                "either acme, serving_cert_file, insecure_addr or listen_socket_path must be configured",
                None,
            )))
        }
        (Some(_), _, Some(_)) => {
            return Ok(Err(rule(
                "serving_cert_file and insecure_addr are mutually exclusive",
                serving_pos,
            )))
        }
        (None, Some(_), Some(_)) => {
            return Ok(Err(rule(
                "serving_cert_file and listen_socket_path are mutually exclusive",
                serving_pos,
            )))
        }
        (Some(_), Some(_), None) => {
            return Ok(Err(rule(
                "insecure_addr and listen_socket_path are mutually exclusive",
                None,
            )))
        }
        (Some(addr), None, None) => ListenerSettings::Insecure { addr },
        (None, Some(path), None) => ListenerSettings::UnixSocket { path: path.into() },
        (None, None, Some(serving)) => ListenerSettings::ServingCertFile(serving),
    };
    let source =
        match sources.len() {
            0 => return Ok(Err(rule(
                "exactly one of the server_api, workload_api, or file sections must be configured",
                None,
            ))),
            1 => sources.remove(0).0,
            _ => {
                return Ok(Err(rule(
                    "the server_api, workload_api, and file sections are mutually exclusive",
                    Some(sources[1].1),
                )))
            }
        };

    Ok(Ok(Settings {
        domains,
        log,
        log_requests,
        set_key_use,
        allow_insecure_scheme,
        listener,
        source,
        health_checks,
        jwt_issuer,
        jwks_uri,
        server_path_prefix,
    }))
}

/// The socket path of a gRPC `unix:` target: `unix:///abs/path`, `unix:/abs/path` or
/// `unix:relative/path` (gRPC's naming doc).
fn unix_target_path(address: &str) -> Option<PathBuf> {
    let rest = address.strip_prefix("unix:")?;
    let path = match rest.strip_prefix("//") {
        Some(abs) if abs.starts_with('/') => abs,
        Some(_) => return None,
        None => rest,
    };
    (!path.is_empty()).then(|| PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_targets() {
        assert_eq!(
            unix_target_path("unix:///tmp/a.sock"),
            Some(PathBuf::from("/tmp/a.sock"))
        );
        assert_eq!(
            unix_target_path("unix:/tmp/a.sock"),
            Some(PathBuf::from("/tmp/a.sock"))
        );
        assert_eq!(
            unix_target_path("unix:a.sock"),
            Some(PathBuf::from("a.sock"))
        );
        assert_eq!(unix_target_path("unix://host/a.sock"), None);
        assert_eq!(unix_target_path("dns:///x:1"), None);
        assert_eq!(unix_target_path("unix:"), None);
    }

    #[test]
    fn go_listen_addresses() {
        assert_eq!(
            resolve_addr(":443"),
            Some(SocketAddr::from(([0, 0, 0, 0], 443)))
        );
        assert_eq!(
            resolve_addr("127.0.0.1:8443"),
            Some(SocketAddr::from(([127, 0, 0, 1], 8443)))
        );
        assert_eq!(resolve_addr("nonsense"), None);
    }
}
