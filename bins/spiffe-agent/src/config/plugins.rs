//! The `plugins { }` section: which plugins SPIRE's agent config may declare here, and the
//! typed settings of each one this agent provides.
//!
//! | type | provided | `plugin_data` |
//! |---|---|---|
//! | `NodeAttestor` | `join_token`, `x509pop`, `tpm` | `x509pop`: `certificate_path`, `private_key_path`, `intermediates_path`; `tpm`: `tpm_path` or `tcti` |
//! | `KeyManager` | `memory`, `disk` | `disk`: `directory` |
//! | `WorkloadAttestor` | `unix`, `docker` | `unix`: `discover_workload_path` (the `path` and `sha256` selectors; needs to read other users' `/proc/<pid>/exe`), `workload_size_limit`; `docker`: `docker_socket_path`, `docker_version` |

use std::path::PathBuf;

use spire_config::{ConfigError, Decoder, PluginTable};

/// The plugins this agent provides, by type.
pub const PROVIDED_PLUGINS: &PluginTable = &[
    ("KeyManager", &["disk", "memory"]),
    ("NodeAttestor", &["join_token", "tpm", "x509pop"]),
    ("WorkloadAttestor", &["docker", "unix"]),
];

/// `NodeAttestor`: how the agent proves its node.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeAttestorConfig {
    /// `join_token`: the token from `join_token` / `-joinToken`.
    JoinToken,
    /// `x509pop`: a certificate and its key.
    X509Pop(X509PopAgentSettings),
    /// `tpm`: the TPM behind this TCTI string (`device:/dev/tpmrm0` by default).
    Tpm {
        /// The tpm2-tss TCTI configuration.
        tcti: String,
    },
}

impl NodeAttestorConfig {
    /// The plugin name.
    pub fn name(&self) -> &'static str {
        match self {
            NodeAttestorConfig::JoinToken => "join_token",
            NodeAttestorConfig::X509Pop(_) => "x509pop",
            NodeAttestorConfig::Tpm { .. } => "tpm",
        }
    }
}

/// `NodeAttestor "x509pop"`'s `plugin_data`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct X509PopAgentSettings {
    /// `certificate_path`: the leaf certificate (PEM; may be followed by its chain).
    pub certificate_path: PathBuf,
    /// `private_key_path`: its key (PEM).
    pub private_key_path: PathBuf,
    /// `intermediates_path`: more chain certificates (PEM), if any.
    pub intermediates_path: Option<PathBuf>,
}

/// `KeyManager`: where the agent keeps its own key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyManagerConfig {
    /// `memory`: nothing survives a restart, so every start attests again.
    Memory,
    /// `disk { directory }`: the key beside the SVID (default: `data_dir`).
    Disk {
        /// `directory`, if set.
        directory: Option<PathBuf>,
    },
}

/// `WorkloadAttestor`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WorkloadAttestorConfig {
    /// `unix`: uid, gid, user and group names from the kernel and `/proc`.
    Unix {
        /// `discover_workload_path`: also the `path` selector (and `sha256`, within
        /// `workload_size_limit`).
        discover_workload_path: bool,
        /// `workload_size_limit` as SPIRE reads it: the largest binary to hash for `sha256`
        /// (`None`: no `sha256` selector; SPIRE's negative value), `Some(u64::MAX)` for SPIRE's
        /// 0 (no limit, the default).
        workload_size_limit: Option<u64>,
    },
    /// `docker`: labels, environment and image of the caller's container, from the Engine.
    Docker {
        /// `docker_socket_path` (a path, or SPIRE's `unix://` URL form), default
        /// `/var/run/docker.sock`.
        socket_path: PathBuf,
        /// `docker_version`: the Engine API version to pin (`1.41`), if any.
        api_version: Option<String>,
    },
}

fn optional_path(d: &mut Decoder<'_>, key: &str) -> Result<Option<PathBuf>, ConfigError> {
    Ok(d.optional_str(key)?
        .filter(|s| !s.is_empty())
        .map(PathBuf::from))
}

fn required_path(d: &mut Decoder<'_>, key: &str) -> Result<PathBuf, ConfigError> {
    optional_path(d, key)?.ok_or_else(|| d.missing(key))
}

/// Refuses a key whose SPIRE meaning this agent does not implement, naming its line.
/// `NodeAttestor "<name>"`'s `plugin_data`.
pub(crate) fn node_attestor(
    name: &str,
    d: &mut Decoder<'_>,
) -> Result<NodeAttestorConfig, ConfigError> {
    Ok(match name {
        "join_token" => NodeAttestorConfig::JoinToken,
        "x509pop" => NodeAttestorConfig::X509Pop(X509PopAgentSettings {
            certificate_path: required_path(d, "certificate_path")?,
            private_key_path: required_path(d, "private_key_path")?,
            intermediates_path: optional_path(d, "intermediates_path")?,
        }),
        _ => {
            let tpm_path = optional_path(d, "tpm_path")?;
            let tcti = d.optional_str("tcti")?.filter(|s| !s.is_empty());
            let tcti = match (tcti, tpm_path) {
                (Some(_), Some(_)) => {
                    return Err(d.invalid("tcti", "set tcti or tpm_path, not both"))
                }
                (Some(tcti), None) => tcti,
                (None, Some(path)) => format!("device:{}", path.display()),
                (None, None) => "device:/dev/tpmrm0".to_owned(),
            };
            NodeAttestorConfig::Tpm { tcti }
        }
    })
}

/// `KeyManager "<name>"`'s `plugin_data`.
pub(crate) fn key_manager(
    name: &str,
    d: &mut Decoder<'_>,
) -> Result<KeyManagerConfig, ConfigError> {
    Ok(match name {
        "memory" => KeyManagerConfig::Memory,
        _ => KeyManagerConfig::Disk {
            directory: optional_path(d, "directory")?,
        },
    })
}

/// `WorkloadAttestor "<name>"`'s `plugin_data`.
pub(crate) fn workload_attestor(
    name: &str,
    d: &mut Decoder<'_>,
) -> Result<WorkloadAttestorConfig, ConfigError> {
    if name == "docker" {
        let socket = d
            .optional_str("docker_socket_path")?
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| spiffe_attest::workload::docker::DEFAULT_SOCKET_PATH.to_owned());
        let socket_path = match socket.strip_prefix("unix://") {
            Some(path) => PathBuf::from(path),
            None if socket.contains("://") => {
                return Err(d.invalid(
                    "docker_socket_path",
                    "only a unix:// socket (or a plain path) is supported",
                ))
            }
            None => PathBuf::from(socket),
        };
        let api_version = d.optional_str("docker_version")?.filter(|s| !s.is_empty());
        if let Some(v) = &api_version {
            spiffe_attest::workload::docker::DockerAttestor::new(&socket_path)
                .with_api_version(v)
                .map_err(|e| d.invalid("docker_version", e.to_string()))?;
        }
        return Ok(WorkloadAttestorConfig::Docker {
            socket_path,
            api_version,
        });
    }
    let discover_workload_path = d.optional_bool("discover_workload_path")?.unwrap_or(false);
    // SPIRE: 0 (the default) hashes binaries of any size; a negative value never hashes.
    let workload_size_limit = match d.optional_i64("workload_size_limit")?.unwrap_or(0) {
        0 => Some(u64::MAX),
        n if n < 0 => None,
        n => Some(n.unsigned_abs()),
    };
    Ok(WorkloadAttestorConfig::Unix {
        discover_workload_path,
        workload_size_limit,
    })
}
