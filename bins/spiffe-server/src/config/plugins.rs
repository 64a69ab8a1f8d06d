//! The `plugins { }` section: which plugins SPIRE's server config may declare here, and the
//! typed settings of each one this server provides.
//!
//! | type | provided | `plugin_data` |
//! |---|---|---|
//! | `DataStore` | `sql` | see [`super::datastore`] |
//! | `KeyManager` | `memory`, `disk`, `pkcs11` | `disk`: `keys_path`; `pkcs11`: `module_path`, `token_label`, `user_pin_path` or `user_pin_env`, `key_label_prefix` |
//! | `NodeAttestor` | `join_token`, `x509pop`, `tpm`, `k8s_psat` | `x509pop`: `ca_bundle_path(s)`, `agent_path_template`, `mode`; `tpm`: `ca_path`, `hash_path`; `k8s_psat`: `clusters` (per cluster `service_account_allow_list`, `audience`, `allowed_node_label_keys`, `allowed_pod_label_keys`; the in-cluster API server) |
//! | `UpstreamAuthority` | `disk`, `spire` | `disk`: `cert_file_path`, `key_file_path`, `bundle_file_path`; `spire`: `server_address`, `server_port`, `workload_api_socket` |
//!
//! Any other SPIRE plugin is an error saying this server does not provide it; a name neither
//! SPIRE nor this server knows is an unknown plugin; both name the line.

use std::path::PathBuf;

use spire_config::{ConfigError, Decoder, PluginTable};

/// The plugins this server provides, by type.
pub const PROVIDED_PLUGINS: &PluginTable = &[
    ("DataStore", &["sql"]),
    ("KeyManager", &["disk", "memory", "pkcs11"]),
    (
        "NodeAttestor",
        &["join_token", "k8s_psat", "tpm", "x509pop"],
    ),
    ("UpstreamAuthority", &["disk", "spire"]),
];

/// `KeyManager`: where the CA's keys live.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyManagerConfig {
    /// `memory`: keys in memory, new ones on every start (the CA's journal then cannot
    /// resume its authorities; a restarted server starts new ones, as SPIRE's).
    Memory,
    /// `disk { keys_path }`: one file per key in the directory `keys_path`.
    Disk {
        /// `keys_path`.
        keys_path: PathBuf,
    },
    /// `pkcs11 { … }`: keys in a PKCS#11 token.
    Pkcs11(Pkcs11Settings),
}

/// `KeyManager "pkcs11"`'s `plugin_data`. The PIN is never written in the config: it is read
/// from a file or an environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pkcs11Settings {
    /// `module_path`: the PKCS#11 library.
    pub module_path: PathBuf,
    /// `token_label`.
    pub token_label: String,
    /// `user_pin_path`: a file whose first line is the user PIN.
    pub user_pin_path: Option<PathBuf>,
    /// `user_pin_env`: an environment variable holding the user PIN.
    pub user_pin_env: Option<String>,
    /// `key_label_prefix` (default empty): prepended to key labels so several servers can
    /// share a token.
    pub key_label_prefix: String,
}

/// `NodeAttestor`: how agents prove their node.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeAttestorConfig {
    /// `join_token`: one-time tokens created through the API (no settings).
    JoinToken,
    /// `x509pop`: a certificate chaining to configured CAs, and proof of its key.
    X509Pop(X509PopSettings),
    /// `tpm`: a TPM's endorsement key, pinned by hash or certified by a manufacturer CA.
    Tpm(TpmSettings),
    /// `k8s_psat`: projected service account tokens checked with each cluster's API server.
    K8sPsat(Vec<K8sPsatCluster>),
}

/// One entry of `NodeAttestor "k8s_psat"`'s `clusters`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct K8sPsatCluster {
    /// The cluster name (the map key; agents send it).
    pub name: String,
    /// `service_account_allow_list`: `<namespace>:<service account>` (at least one).
    pub service_account_allow_list: Vec<String>,
    /// `audience` (default `["spire-server"]`).
    pub audience: Vec<String>,
    /// `allowed_node_label_keys`.
    pub allowed_node_label_keys: Vec<String>,
    /// `allowed_pod_label_keys`.
    pub allowed_pod_label_keys: Vec<String>,
}

impl NodeAttestorConfig {
    /// The plugin name (`join_token`, `x509pop`, `tpm`).
    pub fn name(&self) -> &'static str {
        match self {
            NodeAttestorConfig::JoinToken => "join_token",
            NodeAttestorConfig::X509Pop(_) => "x509pop",
            NodeAttestorConfig::Tpm(_) => "tpm",
            NodeAttestorConfig::K8sPsat(_) => "k8s_psat",
        }
    }
}

/// `NodeAttestor "x509pop"`'s `plugin_data` (SPIRE's `external_pki` mode).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct X509PopSettings {
    /// `ca_bundle_path` and `ca_bundle_paths`: PEM files of the trusted CA certificates.
    pub ca_bundle_paths: Vec<PathBuf>,
    /// `agent_path_template`, if set (SPIRE's default `{{ .PluginName }}/{{ .Fingerprint }}`).
    pub agent_path_template: Option<String>,
}

/// `NodeAttestor "tpm"`'s `plugin_data` (the keys of the community `tpm` plugin).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TpmSettings {
    /// `ca_path`: a directory of manufacturer CA certificates (PEM or DER) that may certify
    /// endorsement keys.
    pub ca_path: Option<PathBuf>,
    /// `hash_path`: a directory whose file names are the endorsement key hashes allowed.
    pub hash_path: Option<PathBuf>,
}

/// `UpstreamAuthority`: who signs this server's X.509 CA.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpstreamAuthorityConfig {
    /// `disk`: a CA certificate and key in files.
    Disk(DiskUpstreamSettings),
    /// `spire`: an upstream server of the same trust domain (nested servers).
    Spire(SpireUpstreamSettings),
}

/// `UpstreamAuthority "spire"`'s `plugin_data`: where the upstream (root) server listens, and
/// the local agent's Workload API socket this server gets its own X.509-SVID from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpireUpstreamSettings {
    /// `server_address`: IP address or DNS name of the upstream server.
    pub server_address: String,
    /// `server_port`: its port (a number or a string of one, as SPIRE's samples write it).
    pub server_port: u16,
    /// `workload_api_socket`: the local agent's Workload API socket.
    pub workload_api_socket: PathBuf,
}

/// `UpstreamAuthority "disk"`'s `plugin_data`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiskUpstreamSettings {
    /// `cert_file_path`: the upstream CA certificate (then its chain).
    pub cert_file_path: PathBuf,
    /// `key_file_path`: its key.
    pub key_file_path: PathBuf,
    /// `bundle_file_path`: the upstream roots, when `cert_file_path` is not self-signed.
    pub bundle_file_path: Option<PathBuf>,
}

fn required_path(d: &mut Decoder<'_>, key: &str) -> Result<PathBuf, ConfigError> {
    match d.optional_str(key)?.filter(|s| !s.is_empty()) {
        Some(p) => Ok(PathBuf::from(p)),
        None => Err(d.missing(key)),
    }
}

fn optional_path(d: &mut Decoder<'_>, key: &str) -> Result<Option<PathBuf>, ConfigError> {
    Ok(d.optional_str(key)?
        .filter(|s| !s.is_empty())
        .map(PathBuf::from))
}

/// Refuses a key whose SPIRE meaning this server does not implement.
fn refuse(d: &mut Decoder<'_>, key: &str, subject: &str) -> Result<(), ConfigError> {
    match d.ignore(key) {
        Some(pos) => Err(ConfigError::NotProvided {
            subject: format!("{subject} {key}"),
            what: "setting",
            pos,
        }),
        None => Ok(()),
    }
}

// === decoders ===

/// `KeyManager "<name>"`'s `plugin_data`.
pub(crate) fn key_manager(
    name: &str,
    d: &mut Decoder<'_>,
) -> Result<KeyManagerConfig, ConfigError> {
    Ok(match name {
        "memory" => KeyManagerConfig::Memory,
        "disk" => KeyManagerConfig::Disk {
            keys_path: required_path(d, "keys_path")?,
        },
        _ => {
            if let Some(pos) = d.ignore("user_pin") {
                return Err(ConfigError::InvalidValue {
                    key: "user_pin".into(),
                    section: spire_config::SectionPath(d.path().to_owned()),
                    pos,
                    reason:
                        "a PIN is never written in the config; use user_pin_path or user_pin_env"
                            .into(),
                });
            }
            let settings = Pkcs11Settings {
                module_path: required_path(d, "module_path")?,
                token_label: d
                    .optional_str("token_label")?
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| d.missing("token_label"))?,
                user_pin_path: optional_path(d, "user_pin_path")?,
                user_pin_env: d.optional_str("user_pin_env")?.filter(|s| !s.is_empty()),
                key_label_prefix: d.optional_str("key_label_prefix")?.unwrap_or_default(),
            };
            if settings.user_pin_path.is_some() == settings.user_pin_env.is_some() {
                return Err(d.invalid(
                    "user_pin_path",
                    "exactly one of user_pin_path and user_pin_env must be set",
                ));
            }
            KeyManagerConfig::Pkcs11(settings)
        }
    })
}

/// `NodeAttestor "<name>"`'s `plugin_data`.
pub(crate) fn node_attestor(
    name: &str,
    d: &mut Decoder<'_>,
) -> Result<NodeAttestorConfig, ConfigError> {
    Ok(match name {
        "join_token" => NodeAttestorConfig::JoinToken,
        "k8s_psat" => {
            let mut clusters = Vec::new();
            for (key, section) in d.named_sections("clusters")? {
                clusters.push(section.decode(|c| {
                    let allow = c
                        .optional_str_list("service_account_allow_list")?
                        .unwrap_or_default();
                    if allow.is_empty() {
                        return Err(c.invalid(
                            "service_account_allow_list",
                            format!(
                                "cluster {:?} configuration must have at least one service account allowed",
                                key.name
                            ),
                        ));
                    }
                    if c.optional_str("kube_config_file")?
                        .is_some_and(|f| !f.is_empty())
                    {
                        return Err(c.invalid(
                            "kube_config_file",
                            "not supported: this server uses the in-cluster API server",
                        ));
                    }
                    Ok(K8sPsatCluster {
                        name: key.name.clone(),
                        service_account_allow_list: allow,
                        audience: c.optional_str_list("audience")?.unwrap_or_else(|| {
                            vec![spiffe_attest::node::k8s_psat::DEFAULT_AUDIENCE.to_owned()]
                        }),
                        allowed_node_label_keys: c
                            .optional_str_list("allowed_node_label_keys")?
                            .unwrap_or_default(),
                        allowed_pod_label_keys: c
                            .optional_str_list("allowed_pod_label_keys")?
                            .unwrap_or_default(),
                    })
                })?);
            }
            if clusters.is_empty() {
                return Err(d.missing("clusters"));
            }
            NodeAttestorConfig::K8sPsat(clusters)
        }
        "x509pop" => {
            let subject = "NodeAttestor \"x509pop\"";
            if let Some(mode) = d.optional_str("mode")? {
                if mode == "spiffe" {
                    return Err(ConfigError::NotProvided {
                        subject: format!("{subject} mode \"spiffe\""),
                        what: "setting",
                        pos: d.pos(),
                    });
                }
                if !mode.is_empty() && mode != "external_pki" {
                    return Err(d.invalid("mode", "must be external_pki or spiffe"));
                }
            }
            refuse(d, "svid_prefix", subject)?;
            if d.optional_bool("verify_client_ip")? == Some(true) {
                return Err(ConfigError::NotProvided {
                    subject: format!("{subject} verify_client_ip"),
                    what: "setting",
                    pos: d.pos(),
                });
            }
            // Resource limits: the attestor enforces its own (chain length, key sizes).
            d.optional_u32("max_intermediates")?;
            d.optional_u32("max_rsa_key_size")?;
            let mut paths: Vec<PathBuf> = optional_path(d, "ca_bundle_path")?.into_iter().collect();
            for p in d.optional_str_list("ca_bundle_paths")?.unwrap_or_default() {
                paths.push(PathBuf::from(p));
            }
            if paths.is_empty() {
                return Err(d.missing("ca_bundle_path"));
            }
            NodeAttestorConfig::X509Pop(X509PopSettings {
                ca_bundle_paths: paths,
                agent_path_template: d
                    .optional_str("agent_path_template")?
                    .filter(|s| !s.is_empty()),
            })
        }
        _ => {
            let settings = TpmSettings {
                ca_path: optional_path(d, "ca_path")?,
                hash_path: optional_path(d, "hash_path")?,
            };
            if settings.ca_path.is_none() && settings.hash_path.is_none() {
                return Err(d.missing("ca_path"));
            }
            NodeAttestorConfig::Tpm(settings)
        }
    })
}

/// `UpstreamAuthority "disk"`'s `plugin_data`.
pub(crate) fn disk_upstream(d: &mut Decoder<'_>) -> Result<DiskUpstreamSettings, ConfigError> {
    Ok(DiskUpstreamSettings {
        cert_file_path: required_path(d, "cert_file_path")?,
        key_file_path: required_path(d, "key_file_path")?,
        bundle_file_path: optional_path(d, "bundle_file_path")?,
    })
}

/// `UpstreamAuthority "spire"`'s `plugin_data`. SPIRE's `experimental` options (Windows named
/// pipes, post-quantum key exchange) are refused by name.
pub(crate) fn spire_upstream(d: &mut Decoder<'_>) -> Result<SpireUpstreamSettings, ConfigError> {
    let subject = "UpstreamAuthority \"spire\"";
    refuse(d, "experimental", subject)?;
    let server_address = d
        .optional_str("server_address")?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| d.missing("server_address"))?;
    let server_port = match d.optional_u16("server_port")? {
        Some(0) => return Err(d.invalid("server_port", "must be a port from 1 to 65535")),
        Some(port) => port,
        None => return Err(d.missing("server_port")),
    };
    Ok(SpireUpstreamSettings {
        server_address,
        server_port,
        workload_api_socket: required_path(d, "workload_api_socket")?,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::{RunFlags, ServerConfig};

    fn with_psat(data: &str) -> Result<Vec<NodeAttestorConfig>, String> {
        let text = include_str!("../../../../conf/server/server.conf").replace(
            "NodeAttestor \"join_token\" {\n        plugin_data {\n        }",
            &format!("NodeAttestor \"k8s_psat\" {{\n        plugin_data {{\n{data}\n}}"),
        );
        assert!(text.contains("k8s_psat"), "the test edits the plugin block");
        ServerConfig::from_text(&text, &RunFlags::default())
            .map(|c| c.node_attestors)
            .map_err(|e| spire_config::cli::error_chain(&e))
    }

    #[test]
    fn k8s_psat_clusters() {
        let got = with_psat(
            "clusters = {\n\"prod\" = {\nservice_account_allow_list = [\"spire:spire-agent\"]\nallowed_pod_label_keys = [\"app\"]\n}\n\"dev\" = {\nservice_account_allow_list = [\"a:b\"]\naudience = [\"x\"]\n}\n}",
        )
        .unwrap();
        let NodeAttestorConfig::K8sPsat(mut clusters) = got[0].clone() else {
            panic!("{got:?}")
        };
        clusters.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(clusters.len(), 2);
        assert_eq!(clusters[0].name, "dev");
        assert_eq!(clusters[0].audience, ["x"]);
        assert_eq!(clusters[1].name, "prod");
        assert_eq!(clusters[1].audience, ["spire-server"]);
        assert_eq!(
            clusters[1].service_account_allow_list,
            ["spire:spire-agent"]
        );
        assert_eq!(clusters[1].allowed_pod_label_keys, ["app"]);

        let msg = with_psat("clusters = {\n\"prod\" = {\n}\n}").unwrap_err();
        assert!(msg.contains("at least one service account"), "{msg}");
        let msg = with_psat("").unwrap_err();
        assert!(msg.contains("clusters"), "{msg}");
        let msg = with_psat(
            "clusters = {\n\"prod\" = {\nservice_account_allow_list = [\"a:b\"]\nkube_config_file = \"/k\"\n}\n}",
        )
        .unwrap_err();
        assert!(msg.contains("kube_config_file"), "{msg}");
    }

    /// Signatures are made in place only with keys in memory and ECDSA (an HSM, or an RSA
    /// signature's milliseconds, stays off the async threads).
    #[test]
    fn sign_in_place_follows_the_key_manager_and_key_types() {
        let quickstart = include_str!("../../../../conf/server/server.conf");
        let in_place = |text: &str| {
            ServerConfig::from_text(text, &RunFlags::default())
                .map_err(|e| spire_config::cli::error_chain(&e))
                .unwrap()
                .settings
                .sign_in_place
        };
        assert!(in_place(quickstart), "memory, ECDSA P-256 by default");
        let with_server_line = |line: &str| {
            let text = quickstart.replacen("server {", &format!("server {{\n    {line}"), 1);
            assert_ne!(text, quickstart, "the test edits the server block");
            text
        };
        assert!(in_place(&with_server_line("ca_key_type = \"ec-p384\"")));
        assert!(!in_place(&with_server_line("ca_key_type = \"rsa-2048\"")));
        assert!(!in_place(&with_server_line("jwt_key_type = \"rsa-4096\"")));
        let pin = std::env::temp_dir().join("unused-pin");
        let pkcs11 = quickstart.replace(
            "KeyManager \"memory\" {\n        plugin_data = {}\n    }",
            &format!(
                "KeyManager \"pkcs11\" {{\n        plugin_data {{\n            module_path = \"/m.so\"\n            token_label = \"t\"\n            user_pin_path = \"{}\"\n        }}\n    }}",
                pin.display()
            ),
        );
        assert_ne!(pkcs11, quickstart, "the test edits the key manager");
        assert!(!in_place(&pkcs11));
    }
}
