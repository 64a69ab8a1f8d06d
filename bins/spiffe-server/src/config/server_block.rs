//! The `server { }` block, read key by key with SPIRE's names (`cmd/spire-server/cli/run`):
//! what this server implements is decoded, what it accepts without effect is read and dropped
//! (listed in `docs/server.md`), and a SPIRE feature it does not provide is an error naming
//! the key and its line.

use std::time::Duration;

use daemon_telemetry::LogSettings;
use spiffe_ca::keys::KeyType;
use spire_config::{ConfigError, Decoder, Pos, Section};

use super::federation::{self, FederationConfig};

/// The `server` block as written, before the flags are applied and defaults chosen.
#[derive(Debug, Clone)]
pub(crate) struct RawServer {
    pub(crate) bind_address: Option<String>,
    pub(crate) bind_port: Option<u16>,
    pub(crate) socket_path: Option<String>,
    pub(crate) trust_domain: Option<(String, Pos)>,
    pub(crate) data_dir: Option<String>,
    pub(crate) log: LogSettings,
    pub(crate) admin_ids: Vec<(String, Pos)>,
    pub(crate) agent_ttl: Option<Duration>,
    pub(crate) audit_log_enabled: bool,
    pub(crate) ca_key_type: Option<KeyType>,
    pub(crate) jwt_key_type: Option<KeyType>,
    pub(crate) ca_ttl: Option<Duration>,
    pub(crate) ca_subject: Option<CaSubject>,
    pub(crate) default_x509_svid_ttl: Option<Duration>,
    pub(crate) default_jwt_svid_ttl: Option<Duration>,
    pub(crate) jwt_issuer: Option<String>,
    pub(crate) ratelimit_attestation: Option<bool>,
    pub(crate) ratelimit_signing: Option<bool>,
    pub(crate) cache_reload_interval: Option<Duration>,
    pub(crate) federation: Option<FederationConfig>,
}

/// `ca_subject { country organization common_name }`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CaSubject {
    /// `country`.
    pub country: Vec<String>,
    /// `organization`.
    pub organization: Vec<String>,
    /// `common_name`.
    pub common_name: String,
}

impl CaSubject {
    /// Whether nothing is set (SPIRE then uses its default subject).
    pub fn is_empty(&self) -> bool {
        self.country.is_empty() && self.organization.is_empty() && self.common_name.is_empty()
    }
}

/// Parses SPIRE's key type names.
pub(crate) fn key_type(d: &mut Decoder<'_>, key: &str) -> Result<Option<KeyType>, ConfigError> {
    match d.optional_str(key)?.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(name) => match name.as_str() {
            "ec-p256" => Ok(Some(KeyType::EcP256)),
            "ec-p384" => Ok(Some(KeyType::EcP384)),
            "rsa-2048" => Ok(Some(KeyType::Rsa2048)),
            "rsa-4096" => Ok(Some(KeyType::Rsa4096)),
            _ => Err(d.invalid(
                key,
                "key type is unknown; must be one of [rsa-2048 rsa-4096 ec-p256 ec-p384]",
            )),
        },
    }
}

/// A key naming a SPIRE feature this server does not provide, when `active` says it is used.
fn not_provided(pos: Option<Pos>, active: bool, subject: &str) -> Result<(), ConfigError> {
    match pos {
        Some(pos) if active => Err(ConfigError::NotProvided {
            subject: subject.to_owned(),
            what: "setting",
            pos,
        }),
        _ => Ok(()),
    }
}

fn key_pos(section: &Section, key: &str) -> Option<Pos> {
    section
        .keys()
        .find(|k| k.name.eq_ignore_ascii_case(key))
        .map(|k| k.pos)
}

/// Reads the `server` block.
pub(crate) fn decode(section: &Section) -> Result<RawServer, ConfigError> {
    section.decode(|d| {
        let log = LogSettings::read(d)?;
        let trust_domain = match d.optional_value("trust_domain")? {
            Some(v) => {
                let pos = v.pos;
                let text = match v.kind {
                    spire_config::hcl::ValueKind::String(s) => s,
                    spire_config::hcl::ValueKind::Number(n) => n.text,
                    other => {
                        return Err(ConfigError::WrongType {
                            key: "trust_domain".into(),
                            section: spire_config::SectionPath("server".into()),
                            pos,
                            expected: "a string",
                            found: other.describe(),
                        })
                    }
                };
                Some((text, pos)).filter(|(t, _)| !t.is_empty())
            }
            None => None,
        };
        let admin_ids = admin_ids(d)?;
        let raw = RawServer {
            bind_address: d.optional_str("bind_address")?.filter(|s| !s.is_empty()),
            bind_port: d.optional_u16("bind_port")?.filter(|p| *p != 0),
            socket_path: d.optional_str("socket_path")?.filter(|s| !s.is_empty()),
            trust_domain,
            data_dir: d.optional_str("data_dir")?.filter(|s| !s.is_empty()),
            log,
            admin_ids,
            agent_ttl: d.optional_duration("agent_ttl")?.filter(|t| !t.is_zero()),
            audit_log_enabled: d.optional_bool("audit_log_enabled")?.unwrap_or(false),
            ca_key_type: key_type(d, "ca_key_type")?,
            jwt_key_type: key_type(d, "jwt_key_type")?,
            ca_ttl: d.optional_duration("ca_ttl")?.filter(|t| !t.is_zero()),
            ca_subject: d.optional_block_with("ca_subject", |s| {
                Ok(CaSubject {
                    country: s.optional_str_list("country")?.unwrap_or_default(),
                    organization: s.optional_str_list("organization")?.unwrap_or_default(),
                    common_name: s.optional_str("common_name")?.unwrap_or_default(),
                })
            })?,
            default_x509_svid_ttl: d
                .optional_duration("default_x509_svid_ttl")?
                .filter(|t| !t.is_zero()),
            default_jwt_svid_ttl: d
                .optional_duration("default_jwt_svid_ttl")?
                .filter(|t| !t.is_zero()),
            jwt_issuer: d.optional_str("jwt_issuer")?.filter(|s| !s.is_empty()),
            ratelimit_attestation: None,
            ratelimit_signing: None,
            cache_reload_interval: None,
            federation: None,
        };
        let mut raw = raw;
        if let Some((attestation, signing)) = d.optional_block_with("ratelimit", |r| {
            Ok((r.optional_bool("attestation")?, r.optional_bool("signing")?))
        })? {
            raw.ratelimit_attestation = attestation;
            raw.ratelimit_signing = signing;
        }
        if let Some(experimental) = d.optional_section("experimental")? {
            raw.cache_reload_interval = experimental.decode(experimental_block)?;
        }
        if let Some(federation) = d.optional_section("federation")? {
            raw.federation = Some(federation::decode(&federation)?);
        }
        unsupported_server_keys(section, d)?;
        Ok(raw)
    })
}

fn admin_ids(d: &mut Decoder<'_>) -> Result<Vec<(String, Pos)>, ConfigError> {
    let pos = d.pos();
    let ids = d.optional_str_list("admin_ids")?.unwrap_or_default();
    Ok(ids.into_iter().map(|id| (id, pos)).collect())
}

/// The keys of `server` that name SPIRE features this server does not provide: an error when
/// they turn the feature on, accepted when they leave it off.
fn unsupported_server_keys(section: &Section, d: &mut Decoder<'_>) -> Result<(), ConfigError> {
    let disable_jwt = d.optional_bool("disable_jwt_svids")?.unwrap_or(false);
    not_provided(
        key_pos(section, "disable_jwt_svids"),
        disable_jwt,
        "server disable_jwt_svids",
    )?;
    let prune = d
        .optional_str("prune_attested_nodes_expired_for")?
        .is_some_and(|s| !s.is_empty());
    not_provided(
        key_pos(section, "prune_attested_nodes_expired_for"),
        prune,
        "server prune_attested_nodes_expired_for",
    )?;
    d.optional_i64("prune_attested_nodes_batch_size")?;
    d.optional_bool("prune_tofu_nodes")?;
    let cidrs = d.optional_str_list("proxy_protocol_trusted_cidrs")?;
    not_provided(
        key_pos(section, "proxy_protocol_trusted_cidrs"),
        cidrs.is_some_and(|c| !c.is_empty()),
        "server proxy_protocol_trusted_cidrs",
    )?;
    let profiling = d.optional_bool("profiling_enabled")?.unwrap_or(false);
    not_provided(
        key_pos(section, "profiling_enabled"),
        profiling,
        "server profiling_enabled",
    )?;
    d.optional_i64("profiling_port")?;
    d.optional_i64("profiling_freq")?;
    d.optional_str_list("profiling_names")?;
    // This server's node records are always read fresh (the cache follows the change log),
    // so there is no staleness to bound.
    d.optional_duration("max_attested_node_info_staleness")?;
    Ok(())
}

/// `experimental { }`: `cache_reload_interval` is used; settings of SPIRE's cache strategies
/// are accepted (this server always follows the change log); features this server does not
/// provide are errors when turned on.
fn experimental_block(d: &mut Decoder<'_>) -> Result<Option<Duration>, ConfigError> {
    let subject = |k: &str| format!("server.experimental {k}");
    let pos = d.pos();
    if let Some(p) = d.ignore("named_pipe_name") {
        return Err(ConfigError::InvalidValue {
            key: "named_pipe_name".into(),
            section: spire_config::SectionPath("server.experimental".into()),
            pos: p,
            reason:
                "named_pipe_name is not supported in this platform; please use socket_path instead"
                    .into(),
        });
    }
    if d.optional_bool("agent_spiffe_id_as_selector")? == Some(true) {
        return Err(ConfigError::NotProvided {
            subject: subject("agent_spiffe_id_as_selector"),
            what: "setting",
            pos,
        });
    }
    if d.optional_bool("require_pq_kem")? == Some(true) {
        return Err(ConfigError::NotProvided {
            subject: subject("require_pq_kem"),
            what: "setting",
            pos,
        });
    }
    for key in ["auth_opa_policy_engine", "wit_key_type", "wit_issuer"] {
        if let Some(p) = d.ignore(key) {
            return Err(ConfigError::NotProvided {
                subject: subject(key),
                what: "setting",
                pos: p,
            });
        }
    }
    if d.optional_str_list("feature_flags")?
        .is_some_and(|f| !f.is_empty())
    {
        return Err(ConfigError::NotProvided {
            subject: subject("feature_flags"),
            what: "setting",
            pos,
        });
    }
    d.optional_duration("full_cache_reload_interval")?;
    d.optional_bool("events_based_cache")?;
    d.optional_duration("prune_events_older_than")?;
    d.optional_duration("event_timeout")?;
    d.optional_duration("sql_transaction_timeout")?;
    d.optional_duration("cache_reload_interval")
        .map(|i| i.filter(|i| !i.is_zero()))
}
