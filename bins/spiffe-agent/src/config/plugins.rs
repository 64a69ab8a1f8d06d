//! The `plugins { }` section: which plugins SPIRE's agent config may declare here, and the
//! typed settings of each one this agent provides.
//!
//! | type | provided | `plugin_data` |
//! |---|---|---|
//! | `NodeAttestor` | `join_token`, `x509pop`, `tpm`, `k8s_psat` | `x509pop`: `certificate_path`, `private_key_path`, `intermediates_path`; `tpm`: `tpm_path` or `tcti`; `k8s_psat`: `cluster`, `token_path` |
//! | `KeyManager` | `memory`, `disk` | `disk`: `directory` |
//! | `WorkloadAttestor` | `unix`, `docker`, `k8s`, `systemd` | `unix`: `discover_workload_path` (the `path` and `sha256` selectors; needs to read other users' `/proc/<pid>/exe`), `workload_size_limit`; `docker`: `docker_socket_path`, `docker_version`; `k8s`: `kubelet_read_only_port`, `kubelet_secure_port`, `kubelet_ca_path`, `skip_kubelet_verification`, `token_path`, `use_anonymous_authentication`, `node_name_env`, `node_name`, `max_poll_attempts`, `poll_retry_interval`, `disable_container_selectors`; `systemd`: none |

use std::path::PathBuf;

use spire_config::{ConfigError, Decoder, PluginTable};

/// The plugins this agent provides, by type.
pub const PROVIDED_PLUGINS: &PluginTable = &[
    ("KeyManager", &["disk", "memory"]),
    (
        "NodeAttestor",
        &["join_token", "k8s_psat", "tpm", "x509pop"],
    ),
    ("WorkloadAttestor", &["docker", "k8s", "systemd", "unix"]),
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
    /// `k8s_psat`: the projected service account token of this agent's pod.
    K8sPsat {
        /// `cluster`: the name the server's `clusters` map knows this cluster by.
        cluster: String,
        /// `token_path` (default `/var/run/secrets/tokens/spire-agent`).
        token_path: PathBuf,
    },
}

impl NodeAttestorConfig {
    /// The plugin name.
    pub fn name(&self) -> &'static str {
        match self {
            NodeAttestorConfig::JoinToken => "join_token",
            NodeAttestorConfig::X509Pop(_) => "x509pop",
            NodeAttestorConfig::Tpm { .. } => "tpm",
            NodeAttestorConfig::K8sPsat { .. } => "k8s_psat",
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
    /// `k8s`: the caller's pod and container, from the kubelet.
    K8s(K8sWorkloadSettings),
    /// `systemd`: the caller's unit, from systemd over the system D-Bus.
    Systemd,
}

/// `WorkloadAttestor "k8s"`'s `plugin_data`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct K8sWorkloadSettings {
    /// `kubelet_read_only_port`, if set (plain HTTP, no authentication).
    pub read_only_port: Option<u16>,
    /// `kubelet_secure_port` (default 10250).
    pub secure_port: u16,
    /// `kubelet_ca_path` (default the service account's `ca.crt`); `None` with
    /// `skip_kubelet_verification`.
    pub kubelet_ca_path: Option<PathBuf>,
    /// `token_path` (default the service account's token); `None` with
    /// `use_anonymous_authentication`.
    pub token_path: Option<PathBuf>,
    /// `node_name`, or else the value of the `node_name_env` variable at start (default
    /// `MY_NODE_NAME`); `127.0.0.1` when neither is set.
    pub node_name: Option<String>,
    /// `node_name_env`.
    pub node_name_env: String,
    /// `max_poll_attempts` (default 60).
    pub max_poll_attempts: u32,
    /// `poll_retry_interval` (default 500 ms).
    pub poll_retry_interval: std::time::Duration,
    /// `disable_container_selectors`.
    pub disable_container_selectors: bool,
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
        "k8s_psat" => NodeAttestorConfig::K8sPsat {
            cluster: d
                .optional_str("cluster")?
                .filter(|s| !s.is_empty())
                .ok_or_else(|| d.missing("cluster"))?,
            token_path: optional_path(d, "token_path")?.unwrap_or_else(|| {
                PathBuf::from(spiffe_attest::node::k8s_psat::DEFAULT_TOKEN_PATH)
            }),
        },
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
    if name == "systemd" {
        return Ok(WorkloadAttestorConfig::Systemd);
    }
    if name == "k8s" {
        use spiffe_attest::workload::k8s;
        let read_only_port = d
            .optional_u16("kubelet_read_only_port")?
            .filter(|p| *p != 0);
        let secure_port = d.optional_u16("kubelet_secure_port")?.filter(|p| *p != 0);
        if read_only_port.is_some() && secure_port.is_some() {
            return Err(d.invalid(
                "kubelet_read_only_port",
                "cannot use both the read-only and secure port",
            ));
        }
        let skip = d
            .optional_bool("skip_kubelet_verification")?
            .unwrap_or(false);
        let ca = optional_path(d, "kubelet_ca_path")?;
        let anonymous = d
            .optional_bool("use_anonymous_authentication")?
            .unwrap_or(false);
        let token = optional_path(d, "token_path")?;
        if anonymous && token.is_some() {
            return Err(d.invalid(
                "token_path",
                "cannot be set with use_anonymous_authentication",
            ));
        }
        let node_name = d.optional_str("node_name")?.filter(|s| !s.is_empty());
        let node_name_env = d
            .optional_str("node_name_env")?
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "MY_NODE_NAME".to_owned());
        let max_poll_attempts = match d.optional_i64("max_poll_attempts")?.unwrap_or(0) {
            n if n <= 0 => k8s::DEFAULT_MAX_POLL_ATTEMPTS,
            n => u32::try_from(n).map_err(|_| d.invalid("max_poll_attempts", "too large"))?,
        };
        let poll_retry_interval = d
            .optional_duration("poll_retry_interval")?
            .filter(|i| !i.is_zero())
            .unwrap_or(k8s::DEFAULT_POLL_RETRY_INTERVAL);
        return Ok(WorkloadAttestorConfig::K8s(K8sWorkloadSettings {
            read_only_port,
            secure_port: secure_port.unwrap_or(k8s::DEFAULT_SECURE_PORT),
            kubelet_ca_path: match skip {
                true => None,
                false => Some(ca.unwrap_or_else(|| PathBuf::from(k8s::DEFAULT_KUBELET_CA_PATH))),
            },
            token_path: match anonymous {
                true => None,
                false => Some(token.unwrap_or_else(|| PathBuf::from(k8s::DEFAULT_TOKEN_PATH))),
            },
            node_name,
            node_name_env,
            max_poll_attempts,
            poll_retry_interval,
            disable_container_selectors: d
                .optional_bool("disable_container_selectors")?
                .unwrap_or(false),
        }));
    }
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
