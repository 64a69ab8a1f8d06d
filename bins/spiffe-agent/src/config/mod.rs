//! Configuration: SPIRE's HCL agent config (`agent { … } plugins { … } health_checks { … }
//! telemetry { … }`) and the `run` flags, decoded once into typed settings.
//!
//! [`AgentConfig::load`] reads the file named by `-config` (expanding `$VARS` with
//! `-expandEnv`), applies the flags over it, fills SPIRE's defaults and checks everything; an
//! unknown key, block or plugin is an error naming it and its line, and a SPIRE plugin or
//! setting this agent does not provide says so.
//!
//! ```
//! use spiffe_agent::config::{AgentConfig, RunFlags};
//!
//! let text = r#"
//!     agent {
//!         data_dir = "./.data"
//!         server_address = "127.0.0.1"
//!         server_port = "8081"
//!         trust_bundle_path = "./conf/agent/dummy_root_ca.crt"
//!         trust_domain = "example.org"
//!     }
//!     plugins {
//!         NodeAttestor "join_token" { plugin_data {} }
//!         KeyManager "disk" { plugin_data { directory = "./.data" } }
//!         WorkloadAttestor "unix" { plugin_data {} }
//!     }
//! "#;
//! let config = AgentConfig::from_text(text, &RunFlags::default())?;
//! assert_eq!(config.server_port, 8081);
//! assert_eq!(config.socket_path.to_str(), Some("/tmp/spire-agent/public/api.sock"));
//! # Ok::<(), spiffe_agent::config::AgentConfigError>(())
//! ```

mod error;
mod flags;
mod plugins;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use daemon_telemetry::{HealthConfig, LogFormat, LogLevel, LogSettings, TelemetryConfig};
use spiffe_ca::keys::KeyType;
use spiffe_core::{SpiffeId, TrustDomain};
use spire_config::catalog::SPIRE_AGENT_PLUGINS;
use spire_config::{check_plugins, decode_plugins, Config, ConfigError, Decoder, PluginDecl, Pos};

pub use error::AgentConfigError;
pub use flags::{RunFlagSet, RunFlags, DEFAULT_CONFIG_PATH};
pub use plugins::{
    K8sWorkloadSettings, KeyManagerConfig, NodeAttestorConfig, WorkloadAttestorConfig,
    X509PopAgentSettings, PROVIDED_PLUGINS,
};

use crate::manager::{
    DEFAULT_JWT_SVID_CACHE_MAX_SIZE, DEFAULT_SYNC_INTERVAL, DEFAULT_WORKLOAD_KEY_TYPE,
    DEFAULT_X509_SVID_CACHE_MAX_SIZE,
};

/// SPIRE's default Workload API socket.
pub const DEFAULT_SOCKET_PATH: &str = "/tmp/spire-agent/public/api.sock";
/// SPIRE's default `data_dir`.
pub const DEFAULT_DATA_DIR: &str = ".";
/// SPIRE's default `server_port`.
pub const DEFAULT_SERVER_PORT: u16 = 8081;

/// Where the agent's first trust in the server comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrustBundleSource {
    /// `trust_bundle_path`: a file, in `trust_bundle_format` (`pem` or `spiffe`).
    Path {
        /// The file.
        path: PathBuf,
        /// `true` for `spiffe` (a SPIFFE bundle document), `false` for `pem`.
        spiffe_format: bool,
    },
    /// `trust_bundle_url` (with `trust_bundle_unix_socket`): fetched at bootstrap, in
    /// `trust_bundle_format`.
    Url {
        /// Where from.
        source: crate::bootstrap::BundleUrl,
        /// `true` for `spiffe` (a SPIFFE bundle document), `false` for `pem`.
        spiffe_format: bool,
    },
    /// `insecure_bootstrap = true`: the first connection trusts any server certificate of the
    /// trust domain's server ID. Only for tests; the agent warns loudly.
    Insecure,
}

/// The agent's `sds { }` block: the names under which Envoy asks for the default SVID, the own
/// trust domain's bundle and all bundles, and whether validation contexts use Envoy's SPIFFE
/// certificate validator.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SdsSettings {
    /// `default_svid_name` (`default`).
    pub default_svid_name: String,
    /// `default_bundle_name` (`ROOTCA`).
    pub default_bundle_name: String,
    /// `default_all_bundles_name` (`ALL`).
    pub default_all_bundles_name: String,
    /// `disable_spiffe_cert_validation` (false).
    pub disable_spiffe_cert_validation: bool,
}

impl Default for SdsSettings {
    fn default() -> Self {
        Self {
            default_svid_name: "default".to_owned(),
            default_bundle_name: "ROOTCA".to_owned(),
            default_all_bundles_name: "ALL".to_owned(),
            disable_spiffe_cert_validation: false,
        }
    }
}

/// Everything the agent's runtime is configured with.
#[derive(Clone)]
#[non_exhaustive]
pub struct AgentConfig {
    /// The config file it was read from.
    pub path: PathBuf,
    /// `trust_domain` (required).
    pub trust_domain: TrustDomain,
    /// `data_dir` (`.`): the agent SVID, its key and the bundle live here.
    pub data_dir: PathBuf,
    /// `server_address` (required).
    pub server_address: String,
    /// `server_port` (8081).
    pub server_port: u16,
    /// `socket_path` (`/tmp/spire-agent/public/api.sock`): the Workload API.
    pub socket_path: PathBuf,
    /// `admin_socket_path`, if set: the Delegated Identity, Debug and Logger APIs are served there.
    pub admin_socket_path: Option<PathBuf>,
    /// `authorized_delegates`: the SPIFFE IDs allowed to use the Delegated Identity API.
    pub authorized_delegates: Vec<SpiffeId>,
    /// `sds { }`: Envoy SDS resource names and validation.
    pub sds: SdsSettings,
    /// The bootstrap bundle.
    pub trust_bundle: TrustBundleSource,
    /// `join_token` or `-joinToken`; never shown by `Debug`.
    pub join_token: Option<String>,
    /// `log_level`, `log_format`, `log_file`, `log_source_location`.
    pub log: LogSettings,
    /// `health_checks { }`.
    pub health: HealthConfig,
    /// `telemetry { }`.
    pub telemetry: TelemetryConfig,
    /// The `NodeAttestor` (exactly one).
    pub node_attestor: NodeAttestorConfig,
    /// The `KeyManager` (exactly one).
    pub key_manager: KeyManagerConfig,
    /// The `WorkloadAttestor`s (at least one).
    pub workload_attestors: Vec<WorkloadAttestorConfig>,
    /// `experimental { sync_interval }` (5 s).
    pub sync_interval: Duration,
    /// `x509_svid_cache_max_size` (1000).
    pub x509_svid_cache_max_size: usize,
    /// `jwt_svid_cache_max_size` (1000).
    pub jwt_svid_cache_max_size: usize,
    /// `workload_x509_svid_key_type` (`ec-p256`).
    pub workload_key_type: KeyType,
}

impl std::fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentConfig")
            .field("path", &self.path)
            .field("trust_domain", &self.trust_domain)
            .field("data_dir", &self.data_dir)
            .field("server_address", &self.server_address)
            .field("server_port", &self.server_port)
            .field("socket_path", &self.socket_path)
            .field("trust_bundle", &self.trust_bundle)
            .field(
                "join_token",
                &self.join_token.as_ref().map(|_| "<redacted>"),
            )
            .field("node_attestor", &self.node_attestor)
            .field("key_manager", &self.key_manager)
            .finish_non_exhaustive()
    }
}

/// The `agent` block as written.
struct RawAgent {
    trust_domain: Option<String>,
    data_dir: Option<String>,
    server_address: Option<String>,
    server_port: Option<u16>,
    socket_path: Option<String>,
    admin_socket_path: Option<String>,
    authorized_delegates: Vec<SpiffeId>,
    sds: SdsSettings,
    trust_bundle_path: Option<String>,
    trust_bundle_url: Option<(String, Pos)>,
    trust_bundle_unix_socket: Option<String>,
    trust_bundle_format: Option<(String, Pos)>,
    insecure_bootstrap: bool,
    join_token: Option<String>,
    log: LogSettings,
    sync_interval: Option<Duration>,
    x509_svid_cache_max_size: Option<usize>,
    jwt_svid_cache_max_size: Option<usize>,
    workload_key_type: Option<KeyType>,
}

struct Sections {
    agent: Option<spire_config::Section>,
    plugins: Option<Vec<PluginDecl>>,
    health: Option<HealthConfig>,
    telemetry: Option<TelemetryConfig>,
}

// === impl AgentConfig ===

impl AgentConfig {
    /// Reads the file `-config` names (default `conf/agent/agent.conf`) and applies `flags`.
    pub fn load(flags: &RunFlags) -> Result<Self, AgentConfigError> {
        let path = flags.config_path();
        let config = spire_config::load_file(&path, flags.expand_env)?;
        Self::from_parsed(&config, flags, &path)
    }

    /// Decodes config text (as if read from `agent.conf`) and applies `flags`.
    pub fn from_text(text: &str, flags: &RunFlags) -> Result<Self, AgentConfigError> {
        let path = PathBuf::from("agent.conf");
        let config = Config::parse(text).map_err(|source| AgentConfigError::Decode {
            path: path.clone(),
            source,
        })?;
        Self::from_parsed(&config, flags, &path)
    }

    /// Decodes a parsed config and applies `flags`.
    pub fn from_parsed(
        config: &Config,
        flags: &RunFlags,
        path: &Path,
    ) -> Result<Self, AgentConfigError> {
        let decode_err = |source: ConfigError| AgentConfigError::Decode {
            path: path.to_owned(),
            source,
        };
        let sections = config
            .decode(|top| {
                Ok(Sections {
                    agent: top.optional_section("agent")?,
                    plugins: top
                        .contains("plugins")
                        .then(|| decode_plugins(top))
                        .transpose()?,
                    health: top.optional_block("health_checks")?,
                    telemetry: top.optional_block("telemetry")?,
                })
            })
            .map_err(decode_err)?;
        let agent = sections
            .agent
            .ok_or(AgentConfigError::MissingSection("agent"))?;
        let raw = agent.decode(decode_agent).map_err(decode_err)?;
        let decls = sections
            .plugins
            .ok_or(AgentConfigError::MissingSection("plugins"))?;

        let trust_domain_text = flags
            .trust_domain
            .clone()
            .or(raw.trust_domain.clone())
            .ok_or(AgentConfigError::Missing("trust_domain"))?;
        let trust_domain = TrustDomain::new(&trust_domain_text).map_err(|source| {
            AgentConfigError::TrustDomain {
                value: trust_domain_text.clone(),
                source,
            }
        })?;
        let server_address = flags
            .server_address
            .clone()
            .or(raw.server_address.clone())
            .ok_or(AgentConfigError::Missing("server_address"))?;
        let data_dir = PathBuf::from(
            flags
                .data_dir
                .clone()
                .or(raw.data_dir.clone())
                .unwrap_or_else(|| DEFAULT_DATA_DIR.to_owned()),
        );
        let spiffe_format = match flags
            .trust_bundle_format
            .as_ref()
            .map(|f| (f.as_str(), None))
            .or_else(|| {
                raw.trust_bundle_format
                    .as_ref()
                    .map(|(f, p)| (f.as_str(), Some(*p)))
            }) {
            None | Some(("pem" | "", _)) => false,
            Some(("spiffe", _)) => true,
            Some((_, None)) => {
                return Err(AgentConfigError::Flag {
                    flag: "trustBundleFormat",
                    reason: "invalid value for trust_bundle_format, expected \"pem\" or \"spiffe\""
                        .into(),
                })
            }
            Some((_, Some(pos))) => {
                return Err(decode_err(ConfigError::InvalidValue {
                    key: "trust_bundle_format".into(),
                    section: spire_config::SectionPath("agent".into()),
                    pos,
                    reason: "bundle format must be \"pem\" or \"spiffe\"".into(),
                }))
            }
        };
        let bundle_path = flags.trust_bundle.clone().or(raw.trust_bundle_path.clone());
        let bundle_url = match &flags.trust_bundle_url {
            Some(url) => Some((url.clone(), None)),
            None => raw
                .trust_bundle_url
                .as_ref()
                .map(|(url, pos)| (url.clone(), Some(*pos))),
        };
        let insecure = raw.insecure_bootstrap || flags.insecure_bootstrap;
        // SPIRE's checks of the bootstrap trust sources, in its order and words.
        if insecure {
            match (&bundle_url, &bundle_path) {
                (Some(_), Some(_)) => return Err(AgentConfigError::Conflict(
                    "only one of insecure_bootstrap, trust_bundle_url, or trust_bundle_path can be specified, not the three options",
                )),
                (Some(_), None) => return Err(AgentConfigError::Conflict(
                    "only one of insecure_bootstrap or trust_bundle_url can be specified, not both",
                )),
                (None, Some(_)) => return Err(AgentConfigError::Conflict(
                    "only one of insecure_bootstrap or trust_bundle_path can be specified, not both",
                )),
                (None, None) => {}
            }
        }
        if bundle_url.is_some() && bundle_path.is_some() {
            return Err(AgentConfigError::Conflict(
                "only one of trust_bundle_url or trust_bundle_path can be specified, not both",
            ));
        }
        if raw.trust_bundle_unix_socket.is_some() && bundle_url.is_none() {
            return Err(AgentConfigError::Conflict(
                "if trust_bundle_unix_socket is specified, so must be trust_bundle_url",
            ));
        }
        let trust_bundle = match (bundle_url, bundle_path) {
            _ if insecure => TrustBundleSource::Insecure,
            (Some((url, pos)), _) => {
                let socket = raw.trust_bundle_unix_socket.clone().map(PathBuf::from);
                let source =
                    crate::bootstrap::BundleUrl::new(&url, socket).map_err(|reason| match pos {
                        Some(pos) => decode_err(ConfigError::InvalidValue {
                            key: "trust_bundle_url".into(),
                            section: spire_config::SectionPath("agent".into()),
                            pos,
                            reason,
                        }),
                        None => AgentConfigError::Flag {
                            flag: "trustBundleUrl",
                            reason,
                        },
                    })?;
                TrustBundleSource::Url {
                    source,
                    spiffe_format,
                }
            }
            (None, Some(path)) => TrustBundleSource::Path {
                path: PathBuf::from(path),
                spiffe_format,
            },
            // SPIRE: without a bundle source, the agent can only start with a stored bundle;
            // it refuses to bootstrap with none, which [`crate::daemon`] checks at start.
            (None, None) => TrustBundleSource::Path {
                path: PathBuf::new(),
                spiffe_format,
            },
        };
        let log = log_settings(&raw, flags)?;
        let plugins = plugin_settings(&decls, flags.expand_env, path)?;

        Ok(AgentConfig {
            path: path.to_owned(),
            trust_domain,
            data_dir,
            server_address,
            server_port: flags
                .server_port
                .or(raw.server_port)
                .unwrap_or(DEFAULT_SERVER_PORT),
            socket_path: PathBuf::from(
                flags
                    .socket_path
                    .clone()
                    .or(raw.socket_path.clone())
                    .unwrap_or_else(|| DEFAULT_SOCKET_PATH.to_owned()),
            ),
            admin_socket_path: raw.admin_socket_path.clone().map(PathBuf::from),
            authorized_delegates: raw.authorized_delegates.clone(),
            sds: raw.sds.clone(),
            trust_bundle,
            join_token: flags.join_token.clone().or(raw.join_token.clone()),
            log,
            health: sections.health.unwrap_or_default(),
            telemetry: sections.telemetry.unwrap_or_default(),
            node_attestor: plugins.node_attestor,
            key_manager: plugins.key_manager,
            workload_attestors: plugins.workload_attestors,
            sync_interval: raw.sync_interval.unwrap_or(DEFAULT_SYNC_INTERVAL),
            x509_svid_cache_max_size: raw
                .x509_svid_cache_max_size
                .unwrap_or(DEFAULT_X509_SVID_CACHE_MAX_SIZE),
            jwt_svid_cache_max_size: raw
                .jwt_svid_cache_max_size
                .unwrap_or(DEFAULT_JWT_SVID_CACHE_MAX_SIZE),
            workload_key_type: raw.workload_key_type.unwrap_or(DEFAULT_WORKLOAD_KEY_TYPE),
        })
    }

    /// The server's `host:port`.
    pub fn server_authority(&self) -> String {
        match self.server_address.contains(':') && !self.server_address.starts_with('[') {
            true => format!("[{}]:{}", self.server_address, self.server_port),
            false => format!("{}:{}", self.server_address, self.server_port),
        }
    }
}

fn decode_agent(d: &mut Decoder<'_>) -> Result<RawAgent, ConfigError> {
    let log = LogSettings::read(d)?;
    let text = |d: &mut Decoder<'_>, key: &str| -> Result<Option<String>, ConfigError> {
        Ok(d.optional_str(key)?.filter(|s| !s.is_empty()))
    };
    let with_pos = |d: &mut Decoder<'_>, key: &str| -> Result<Option<(String, Pos)>, ConfigError> {
        Ok(match d.optional_value(key)? {
            Some(v) => {
                let pos = v.pos;
                match v.kind {
                    spire_config::hcl::ValueKind::String(s) if s.is_empty() => None,
                    spire_config::hcl::ValueKind::String(s) => Some((s, pos)),
                    other => {
                        return Err(ConfigError::WrongType {
                            key: key.into(),
                            section: spire_config::SectionPath("agent".into()),
                            pos,
                            expected: "a string",
                            found: other.describe(),
                        })
                    }
                }
            }
            None => None,
        })
    };
    let mut experimental_sync = None;
    if let Some(section) = d.optional_section("experimental")? {
        experimental_sync = section.decode(|e| {
            let sync = e.optional_duration("sync_interval")?;
            // SPIRE's default since 1.10; the only sync this agent implements.
            e.optional_bool("use_sync_authorized_entries")?;
            Ok(sync)
        })?;
    }
    Ok(RawAgent {
        trust_domain: text(d, "trust_domain")?,
        data_dir: text(d, "data_dir")?,
        server_address: text(d, "server_address")?,
        server_port: match d.optional_value("server_port")? {
            None => None,
            Some(v) => {
                let pos = v.pos;
                let digits = match v.kind {
                    spire_config::hcl::ValueKind::String(s) => s,
                    spire_config::hcl::ValueKind::Number(n) => n.text,
                    other => {
                        return Err(ConfigError::WrongType {
                            key: "server_port".into(),
                            section: spire_config::SectionPath("agent".into()),
                            pos,
                            expected: "a port number",
                            found: other.describe(),
                        })
                    }
                };
                match digits.parse::<u16>() {
                    Ok(0) => None,
                    Ok(p) => Some(p),
                    Err(_) => {
                        return Err(ConfigError::InvalidValue {
                            key: "server_port".into(),
                            section: spire_config::SectionPath("agent".into()),
                            pos,
                            reason: "not a port number".into(),
                        })
                    }
                }
            }
        },
        socket_path: text(d, "socket_path")?,
        admin_socket_path: text(d, "admin_socket_path")?,
        authorized_delegates: match d.optional_str_list("authorized_delegates")? {
            None => Vec::new(),
            Some(ids) => ids
                .iter()
                .map(|id| {
                    SpiffeId::new(id).map_err(|e| {
                        d.invalid(
                            "authorized_delegates",
                            format!("{id:?} is not a valid SPIFFE ID: {e}"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
        },
        sds: match d.optional_section("sds")? {
            None => SdsSettings::default(),
            Some(section) => section.decode(|s| {
                let mut sds = SdsSettings::default();
                if let Some(name) = s.optional_str("default_svid_name")? {
                    sds.default_svid_name = name;
                }
                if let Some(name) = s.optional_str("default_bundle_name")? {
                    sds.default_bundle_name = name;
                }
                if let Some(name) = s.optional_str("default_all_bundles_name")? {
                    sds.default_all_bundles_name = name;
                }
                if let Some(off) = s.optional_bool("disable_spiffe_cert_validation")? {
                    sds.disable_spiffe_cert_validation = off;
                }
                Ok(sds)
            })?,
        },
        trust_bundle_path: text(d, "trust_bundle_path")?,
        trust_bundle_url: with_pos(d, "trust_bundle_url")?,
        trust_bundle_unix_socket: text(d, "trust_bundle_unix_socket")?,
        trust_bundle_format: with_pos(d, "trust_bundle_format")?,
        insecure_bootstrap: d.optional_bool("insecure_bootstrap")?.unwrap_or(false),
        join_token: text(d, "join_token")?,
        log,
        sync_interval: experimental_sync.filter(|t: &Duration| !t.is_zero()),
        x509_svid_cache_max_size: d.optional_usize("x509_svid_cache_max_size")?,
        jwt_svid_cache_max_size: d.optional_usize("jwt_svid_cache_max_size")?,
        workload_key_type: match text(d, "workload_x509_svid_key_type")? {
            None => None,
            Some(name) => {
                Some(match name.as_str() {
                    "ec-p256" => KeyType::EcP256,
                    "ec-p384" => KeyType::EcP384,
                    "rsa-2048" => KeyType::Rsa2048,
                    "rsa-4096" => KeyType::Rsa4096,
                    _ => return Err(d.invalid(
                        "workload_x509_svid_key_type",
                        "key type is unknown; must be one of [rsa-2048 rsa-4096 ec-p256 ec-p384]",
                    )),
                })
            }
        },
    })
}

fn log_settings(raw: &RawAgent, flags: &RunFlags) -> Result<LogSettings, AgentConfigError> {
    let mut log = raw.log.clone();
    if let Some(level) = &flags.log_level {
        log.level = LogLevel::from_str(level).map_err(|e| AgentConfigError::Flag {
            flag: "logLevel",
            reason: e.to_string(),
        })?;
    }
    if let Some(format) = &flags.log_format {
        log.format = LogFormat::from_str(format).map_err(|e| AgentConfigError::Flag {
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

struct Plugins {
    node_attestor: NodeAttestorConfig,
    key_manager: KeyManagerConfig,
    workload_attestors: Vec<WorkloadAttestorConfig>,
}

fn plugin_settings(
    decls: &[PluginDecl],
    expand_env: bool,
    path: &Path,
) -> Result<Plugins, AgentConfigError> {
    let decode_err = |source: ConfigError| AgentConfigError::Decode {
        path: path.to_owned(),
        source,
    };
    check_plugins(decls, PROVIDED_PLUGINS, SPIRE_AGENT_PLUGINS).map_err(decode_err)?;
    let mut node_attestors = Vec::new();
    let mut key_managers = Vec::new();
    let mut workload_attestors = Vec::new();
    for decl in decls.iter().filter(|d| d.enabled) {
        let name = decl.name.name.as_str();
        let section =
            decl.data_section(expand_env)
                .map_err(|source| AgentConfigError::PluginDataFile {
                    plugin: decl.describe(),
                    source: Box::new(source),
                })?;
        match decl.plugin_type.name.as_str() {
            "NodeAttestor" => node_attestors.push(
                section
                    .decode(|d| plugins::node_attestor(name, d))
                    .map_err(decode_err)?,
            ),
            "KeyManager" => key_managers.push(
                section
                    .decode(|d| plugins::key_manager(name, d))
                    .map_err(decode_err)?,
            ),
            _ => workload_attestors.push(
                section
                    .decode(|d| plugins::workload_attestor(name, d))
                    .map_err(decode_err)?,
            ),
        }
    }
    let constraint = |plugin_type, expected, got| AgentConfigError::PluginConstraint {
        plugin_type,
        expected,
        got,
    };
    if node_attestors.len() != 1 {
        return Err(constraint(
            "NodeAttestor",
            "exactly 1",
            node_attestors.len(),
        ));
    }
    if key_managers.len() != 1 {
        return Err(constraint("KeyManager", "exactly 1", key_managers.len()));
    }
    if workload_attestors.is_empty() {
        return Err(constraint("WorkloadAttestor", "at least 1", 0));
    }
    Ok(Plugins {
        node_attestor: node_attestors.remove(0),
        key_manager: key_managers.remove(0),
        workload_attestors,
    })
}

#[cfg(test)]
mod reference_tests;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
