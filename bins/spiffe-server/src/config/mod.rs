//! Configuration: SPIRE's HCL server config (`server { … } plugins { … } health_checks { … }
//! telemetry { … }`) and the `run` flags, decoded once into typed settings.
//!
//! [`ServerConfig::load`] reads the file named by `-config` (expanding `$VARS` with
//! `-expandEnv`), applies the flags over it, fills SPIRE's defaults and checks everything; an
//! unknown key, block or plugin is an error naming it and its line, and a SPIRE plugin or
//! setting this server does not provide says so.
//!
//! ```
//! use spiffe_server::config::{RunFlags, ServerConfig};
//!
//! let text = r#"
//!     server { trust_domain = "example.org" data_dir = "/var/lib/spire" }
//!     plugins {
//!         DataStore "sql" { plugin_data { database_type = "sqlite3" } }
//!         KeyManager "memory" { plugin_data {} }
//!         NodeAttestor "join_token" { plugin_data {} }
//!     }
//! "#;
//! let config = ServerConfig::from_text(text, &RunFlags::default())?;
//! assert_eq!(config.bind_port, 8081);
//! assert_eq!(config.settings.trust_domain.as_str(), "example.org");
//! assert_eq!(config.datastore.connection_string, "/var/lib/spire/datastore.sqlite3");
//! # Ok::<(), spiffe_server::config::ServerConfigError>(())
//! ```

mod datastore;
mod error;
mod federation;
mod flags;
mod plugins;
#[cfg(test)]
mod reference_tests;
mod server_block;
mod settings;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use daemon_telemetry::{HealthConfig, LogFormat, LogLevel, LogSettings, TelemetryConfig};
use spiffe_ca::keys::KeyType;
use spiffe_core::{SpiffeId, TrustDomain};
use spire_config::catalog::SPIRE_SERVER_PLUGINS;
use spire_config::{check_plugins, decode_plugins, Config, ConfigError, PluginDecl};

use crate::datastore::SqlSettings;

pub use error::ServerConfigError;
pub use federation::{BundleEndpointConfig, FederatesWith, FederationConfig, ServingProfile};
pub use flags::{RunFlagSet, RunFlags, DEFAULT_CONFIG_PATH};
pub use plugins::{
    DiskUpstreamSettings, K8sPsatCluster, KeyManagerConfig, NodeAttestorConfig, Pkcs11Settings,
    SpireUpstreamSettings, TpmSettings, UpstreamAuthorityConfig, X509PopSettings, PROVIDED_PLUGINS,
};
pub use server_block::CaSubject;
pub use settings::{
    ServerSettings, DEFAULT_BIND_PORT, DEFAULT_CACHE_RELOAD_INTERVAL, DEFAULT_CA_TTL,
    DEFAULT_JWT_SVID_TTL, DEFAULT_SOCKET_PATH, DEFAULT_X509_SVID_TTL,
};

/// SPIRE's default `bind_address`.
pub const DEFAULT_BIND_ADDRESS: &str = "0.0.0.0";

/// The CA's settings from the `server` block.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CaSettings {
    /// `ca_ttl` (24 h): the lifetime of each X.509 CA and JWT key.
    pub ttl: Duration,
    /// `ca_key_type` (EC P-256).
    pub key_type: KeyType,
    /// `jwt_key_type` (default `ca_key_type`).
    pub jwt_key_type: KeyType,
    /// `ca_subject`, if set and not empty.
    pub subject: Option<CaSubject>,
}

/// Everything the server's runtime is configured with.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The settings the API services read.
    pub settings: ServerSettings,
    /// The config file it was read from.
    pub path: PathBuf,
    /// `bind_address` (`0.0.0.0`).
    pub bind_address: String,
    /// `bind_port` (8081).
    pub bind_port: u16,
    /// `socket_path` (`/tmp/spire-server/private/api.sock`).
    pub socket_path: PathBuf,
    /// `log_level`, `log_format`, `log_file`, `log_source_location`.
    pub log: LogSettings,
    /// The CA.
    pub ca: CaSettings,
    /// `experimental { cache_reload_interval }` (5 s): how often the entry cache reads other
    /// servers' writes.
    pub cache_reload_interval: Duration,
    /// `federation { }`, decoded (not yet served).
    pub federation: Option<FederationConfig>,
    /// `health_checks { }`.
    pub health: HealthConfig,
    /// `telemetry { }`.
    pub telemetry: TelemetryConfig,
    /// `DataStore "sql"`.
    pub datastore: SqlSettings,
    /// `KeyManager`.
    pub key_manager: KeyManagerConfig,
    /// `NodeAttestor`s, in file order.
    pub node_attestors: Vec<NodeAttestorConfig>,
    /// `UpstreamAuthority` (`disk` or `spire`), if declared.
    pub upstream: Option<UpstreamAuthorityConfig>,
}

/// The top-level sections, before the flags are applied.
struct Sections {
    server: Option<spire_config::Section>,
    plugins: Option<Vec<PluginDecl>>,
    health: Option<HealthConfig>,
    telemetry: Option<TelemetryConfig>,
}

// === impl ServerConfig ===

impl ServerConfig {
    /// Reads the file `-config` names (default `conf/server/server.conf`) and applies `flags`.
    pub fn load(flags: &RunFlags) -> Result<Self, ServerConfigError> {
        let path = flags.config_path();
        let config = spire_config::load_file(&path, flags.expand_env)?;
        Self::from_parsed(&config, flags, &path)
    }

    /// Decodes config text (as if read from `server.conf`) and applies `flags`; for tests and
    /// embedders.
    pub fn from_text(text: &str, flags: &RunFlags) -> Result<Self, ServerConfigError> {
        let path = PathBuf::from("server.conf");
        let config = Config::parse(text).map_err(|source| ServerConfigError::Decode {
            path: path.clone(),
            source: Box::new(source),
        })?;
        Self::from_parsed(&config, flags, &path)
    }

    /// Decodes a parsed config and applies `flags`.
    pub fn from_parsed(
        config: &Config,
        flags: &RunFlags,
        path: &Path,
    ) -> Result<Self, ServerConfigError> {
        let decode_err = |source: ConfigError| ServerConfigError::Decode {
            path: path.to_owned(),
            source: Box::new(source),
        };
        let sections = config
            .decode(|top| {
                let server = top.optional_section("server")?;
                let plugins = top
                    .contains("plugins")
                    .then(|| decode_plugins(top))
                    .transpose()?;
                Ok(Sections {
                    server,
                    plugins,
                    health: top.optional_block("health_checks")?,
                    telemetry: top.optional_block("telemetry")?,
                })
            })
            .map_err(decode_err)?;
        let server = sections
            .server
            .ok_or(ServerConfigError::MissingSection("server"))?;
        let raw = server_block::decode(&server).map_err(decode_err)?;

        // The flags override the file (SPIRE merges them over it).
        let trust_domain_text = flags
            .trust_domain
            .clone()
            .or_else(|| raw.trust_domain.as_ref().map(|(t, _)| t.clone()))
            .ok_or(ServerConfigError::Missing("trust_domain"))?;
        let data_dir = flags
            .data_dir
            .clone()
            .or(raw.data_dir.clone())
            .ok_or(ServerConfigError::Missing("data_dir"))?;
        let decls = sections
            .plugins
            .ok_or(ServerConfigError::MissingSection("plugins"))?;
        let trust_domain = TrustDomain::new(&trust_domain_text).map_err(|source| {
            ServerConfigError::TrustDomain {
                value: trust_domain_text.clone(),
                source,
            }
        })?;
        let log = log_settings(&raw, flags)?;
        let data_dir = PathBuf::from(data_dir);

        let mut admin_ids = Vec::new();
        for (id, pos) in &raw.admin_ids {
            let parsed = SpiffeId::new(id).map_err(|e| {
                decode_err(ConfigError::InvalidValue {
                    key: "admin_ids".into(),
                    section: spire_config::SectionPath("server".into()),
                    pos: *pos,
                    reason: format!("could not parse admin ID: {e}"),
                })
            })?;
            admin_ids.push(parsed);
        }

        let mut settings = ServerSettings::new(trust_domain);
        settings.data_dir = data_dir.clone();
        if let Some(ttl) = raw.default_x509_svid_ttl {
            settings.default_x509_svid_ttl = ttl;
        }
        if let Some(ttl) = raw.default_jwt_svid_ttl {
            settings.default_jwt_svid_ttl = ttl;
        }
        settings.agent_ttl = raw.agent_ttl;
        settings.jwt_issuer = raw.jwt_issuer.clone();
        settings.admin_ids = admin_ids;
        settings.audit_log_enabled = raw.audit_log_enabled;
        settings.ratelimit_attestation = raw.ratelimit_attestation.unwrap_or(true);
        settings.ratelimit_signing = raw.ratelimit_signing.unwrap_or(true);

        let key_type = raw.ca_key_type.unwrap_or(KeyType::EcP256);
        let ca = CaSettings {
            ttl: raw.ca_ttl.unwrap_or(DEFAULT_CA_TTL),
            key_type,
            jwt_key_type: raw.jwt_key_type.unwrap_or(key_type),
            subject: raw.ca_subject.clone().filter(|s| !s.is_empty()),
        };

        let plugins = plugin_settings(&decls, &data_dir, flags.expand_env, path)?;
        // In place: keys in memory, and ECDSA (an RSA-4096 signature takes milliseconds).
        let ecdsa = |k: KeyType| matches!(k, KeyType::EcP256 | KeyType::EcP384);
        settings.sign_in_place = !matches!(plugins.key_manager, KeyManagerConfig::Pkcs11(_))
            && ecdsa(ca.key_type)
            && ecdsa(ca.jwt_key_type);

        Ok(ServerConfig {
            settings,
            path: path.to_owned(),
            bind_address: flags
                .bind_address
                .clone()
                .or(raw.bind_address.clone())
                .unwrap_or_else(|| DEFAULT_BIND_ADDRESS.to_owned()),
            bind_port: flags
                .server_port
                .or(raw.bind_port)
                .unwrap_or(DEFAULT_BIND_PORT),
            socket_path: PathBuf::from(
                flags
                    .socket_path
                    .clone()
                    .or(raw.socket_path.clone())
                    .unwrap_or_else(|| DEFAULT_SOCKET_PATH.to_owned()),
            ),
            log,
            ca,
            cache_reload_interval: raw
                .cache_reload_interval
                .unwrap_or(DEFAULT_CACHE_RELOAD_INTERVAL),
            federation: raw.federation.clone(),
            health: sections.health.unwrap_or_default(),
            telemetry: sections.telemetry.unwrap_or_default(),
            datastore: plugins.datastore,
            key_manager: plugins.key_manager,
            node_attestors: plugins.node_attestors,
            upstream: plugins.upstream,
        })
    }

    /// Refuses what is decoded but not served (the ACME bundle endpoint profile), naming its
    /// line. `run` and `validate` call it; embedders that only want the settings need not.
    pub fn check_supported(&self) -> Result<(), ServerConfigError> {
        match &self.federation {
            Some(federation)
                if federation
                    .bundle_endpoint
                    .as_ref()
                    .is_some_and(|e| matches!(e.profile, ServingProfile::Acme { .. })) =>
            {
                Err(ServerConfigError::Decode {
                    path: self.path.clone(),
                    source: Box::new(ConfigError::NotProvided {
                        subject: "server.federation.bundle_endpoint acme (ACME, not supported)"
                            .into(),
                        what: "setting",
                        pos: federation.pos,
                    }),
                })
            }
            _ => Ok(()),
        }
    }
}

fn log_settings(
    raw: &server_block::RawServer,
    flags: &RunFlags,
) -> Result<LogSettings, ServerConfigError> {
    let mut log = raw.log.clone();
    if let Some(level) = &flags.log_level {
        log.level = LogLevel::from_str(level).map_err(|e| ServerConfigError::Flag {
            flag: "logLevel",
            reason: e.to_string(),
        })?;
    }
    if let Some(format) = &flags.log_format {
        log.format = LogFormat::from_str(format).map_err(|e| ServerConfigError::Flag {
            flag: "logFormat",
            reason: e.to_string(),
        })?;
    }
    if let Some(file) = &flags.log_file {
        log.file = Some(PathBuf::from(file));
    }
    log.source_location |= flags.log_source_location;
    Ok(log)
}

/// The plugins, decoded and counted.
struct Plugins {
    datastore: SqlSettings,
    key_manager: KeyManagerConfig,
    node_attestors: Vec<NodeAttestorConfig>,
    upstream: Option<UpstreamAuthorityConfig>,
}

fn plugin_settings(
    decls: &[PluginDecl],
    data_dir: &Path,
    expand_env: bool,
    path: &Path,
) -> Result<Plugins, ServerConfigError> {
    let decode_err = |source: ConfigError| ServerConfigError::Decode {
        path: path.to_owned(),
        source: Box::new(source),
    };
    check_plugins(decls, PROVIDED_PLUGINS, SPIRE_SERVER_PLUGINS).map_err(decode_err)?;
    let mut datastores = Vec::new();
    let mut key_managers = Vec::new();
    let mut node_attestors = Vec::new();
    let mut upstreams = Vec::new();
    for decl in decls.iter().filter(|d| d.enabled) {
        let name = decl.name.name.as_str();
        let section =
            decl.data_section(expand_env)
                .map_err(|source| ServerConfigError::PluginDataFile {
                    plugin: decl.describe(),
                    source: Box::new(source),
                })?;
        match decl.plugin_type.name.as_str() {
            "DataStore" => datastores.push(
                section
                    .decode(|d| datastore::sql(d, data_dir))
                    .map_err(decode_err)?,
            ),
            "KeyManager" => key_managers.push(
                section
                    .decode(|d| plugins::key_manager(name, d))
                    .map_err(decode_err)?,
            ),
            "NodeAttestor" => node_attestors.push(
                section
                    .decode(|d| plugins::node_attestor(name, d))
                    .map_err(decode_err)?,
            ),
            _ if name == "spire" => upstreams.push(UpstreamAuthorityConfig::Spire(
                section
                    .decode(plugins::spire_upstream)
                    .map_err(decode_err)?,
            )),
            _ => upstreams.push(UpstreamAuthorityConfig::Disk(
                section.decode(plugins::disk_upstream).map_err(decode_err)?,
            )),
        }
    }
    let exactly_one = |plugin_type, n: usize| {
        (n != 1).then_some(ServerConfigError::PluginConstraint {
            plugin_type,
            expected: "exactly 1",
            got: n,
        })
    };
    if let Some(e) = exactly_one("DataStore", datastores.len()) {
        return Err(e);
    }
    if let Some(e) = exactly_one("KeyManager", key_managers.len()) {
        return Err(e);
    }
    if node_attestors.is_empty() {
        return Err(ServerConfigError::PluginConstraint {
            plugin_type: "NodeAttestor",
            expected: "at least 1",
            got: 0,
        });
    }
    if upstreams.len() > 1 {
        return Err(ServerConfigError::PluginConstraint {
            plugin_type: "UpstreamAuthority",
            expected: "at most 1",
            got: upstreams.len(),
        });
    }
    Ok(Plugins {
        datastore: datastores.remove(0),
        key_manager: key_managers.remove(0),
        node_attestors,
        upstream: upstreams.pop(),
    })
}
