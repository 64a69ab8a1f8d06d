//! The helper's config file: spiffe-helper's HCL keys, with its defaults, decoded with
//! `spire-config` (so an unknown key is an error naming it and its line).

use std::path::{Path, PathBuf};

use spire_config::{ConfigError, Decoder};

/// spiffe-helper's default Workload API address when neither `agent_address` nor
/// `SPIFFE_ENDPOINT_SOCKET` is set.
pub(super) const DEFAULT_AGENT_ADDRESS: &str = "/tmp/spire-agent/public/api.sock";
/// spiffe-helper's default modes.
const DEFAULT_CERT_FILE_MODE: u32 = 0o644;
const DEFAULT_KEY_FILE_MODE: u32 = 0o600;
const DEFAULT_JWT_BUNDLE_FILE_MODE: u32 = 0o600;
const DEFAULT_JWT_SVID_FILE_MODE: u32 = 0o600;
/// spiffe-helper's health check defaults.
const DEFAULT_BIND_PORT: u16 = 8081;
const DEFAULT_LIVENESS_PATH: &str = "/live";
const DEFAULT_READINESS_PATH: &str = "/ready";

/// The decoded config file.
#[derive(Debug, Clone)]
pub(super) struct HelperConfig {
    /// `agent_address`, empty when unset (resolved later from the environment).
    pub(super) agent_address: String,
    pub(super) cmd: String,
    pub(super) cmd_args: Vec<String>,
    pub(super) pid_file_name: Option<PathBuf>,
    pub(super) cert_dir: PathBuf,
    /// `daemon_mode`, `None` when unset (default true; the `-daemon-mode` flag overrides).
    pub(super) daemon_mode: Option<bool>,
    pub(super) add_intermediates_to_bundle: bool,
    pub(super) include_federated_domains: bool,
    pub(super) omit_expired: bool,
    pub(super) renew_signal: Option<RenewSignal>,
    /// `svid_file_name`, `svid_key_file_name`, `svid_bundle_file_name`: all or none.
    pub(super) x509: Option<X509Files>,
    pub(super) jwt_svids: Vec<JwtSvidConfig>,
    pub(super) jwt_bundle_file_name: Option<String>,
    pub(super) cert_file_mode: u32,
    pub(super) key_file_mode: u32,
    pub(super) jwt_bundle_file_mode: u32,
    pub(super) jwt_svid_file_mode: u32,
    pub(super) hint: String,
    pub(super) health: Option<HealthConfig>,
}

/// The X.509 file names, inside `cert_dir`.
#[derive(Debug, Clone)]
pub(super) struct X509Files {
    pub(super) svid: String,
    pub(super) key: String,
    pub(super) bundle: String,
}

/// One entry of `jwt_svids`.
#[derive(Debug, Clone)]
pub(super) struct JwtSvidConfig {
    pub(super) audience: String,
    pub(super) extra_audiences: Vec<String>,
    pub(super) file_name: String,
}

/// `health_checks` with `listener_enabled = true`.
#[derive(Debug, Clone)]
pub(super) struct HealthConfig {
    /// Our addition: the address to listen on (spiffe-helper listens on every interface,
    /// which stays the default).
    pub(super) bind_address: std::net::IpAddr,
    pub(super) bind_port: u16,
    pub(super) liveness_path: String,
    pub(super) readiness_path: String,
}

/// A signal name as spiffe-helper takes it (`"SIGHUP"`, `"SIGUSR1"`…).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RenewSignal {
    pub(super) name: &'static str,
    pub(super) signal: rustix::process::Signal,
}

/// The signals `renew_signal` may name (those spiffe-helper's POSIX table has that make sense
/// for a reload).
const SIGNALS: &[(&str, rustix::process::Signal)] = {
    use rustix::process::Signal;
    &[
        ("SIGHUP", Signal::HUP),
        ("SIGINT", Signal::INT),
        ("SIGQUIT", Signal::QUIT),
        ("SIGKILL", Signal::KILL),
        ("SIGUSR1", Signal::USR1),
        ("SIGUSR2", Signal::USR2),
        ("SIGPIPE", Signal::PIPE),
        ("SIGALRM", Signal::ALARM),
        ("SIGTERM", Signal::TERM),
        ("SIGCONT", Signal::CONT),
        ("SIGSTOP", Signal::STOP),
        ("SIGTSTP", Signal::TSTP),
        ("SIGWINCH", Signal::WINCH),
    ]
};

impl RenewSignal {
    fn parse(name: &str) -> Option<Self> {
        SIGNALS
            .iter()
            .find(|(known, _)| *known == name)
            .map(|&(name, signal)| Self { name, signal })
    }
}

/// Why the config cannot be used.
#[derive(Debug)]
pub(super) enum ConfigProblem {
    /// Reading or parsing the file, or a key the decoder refused (names key and line).
    Load(spire_config::LoadError),
    /// A combination of keys spiffe-helper refuses, or a mode that would expose the key.
    Invalid(String),
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Load(e) => {
                write!(f, "{e}")?;
                let mut source = std::error::Error::source(e);
                while let Some(s) = source {
                    write!(f, ": {s}")?;
                    source = s.source();
                }
                Ok(())
            }
            Self::Invalid(reason) => f.write_str(reason),
        }
    }
}

impl HelperConfig {
    /// Reads, decodes and checks the config file (spiffe-helper's `ValidateConfig` rules).
    pub(super) fn load(path: &Path, daemon_override: Option<bool>) -> Result<Self, ConfigProblem> {
        let config = spire_config::load_file(path, false).map_err(ConfigProblem::Load)?;
        let mut decoded = config.decode(decode).map_err(|source| {
            ConfigProblem::Load(spire_config::LoadError::Decode {
                path: path.to_owned(),
                source,
            })
        })?;
        if daemon_override.is_some() {
            decoded.daemon_mode = daemon_override;
        }
        decoded.check()?;
        Ok(decoded)
    }

    /// Whether the helper keeps running (`daemon_mode`, default true).
    pub(super) fn daemon(&self) -> bool {
        self.daemon_mode.unwrap_or(true)
    }

    fn check(&self) -> Result<(), ConfigProblem> {
        let invalid = |s: &str| Err(ConfigProblem::Invalid(s.to_owned()));
        if !self.daemon() && self.pid_file_name.is_some() {
            return invalid(
                "pid_file_name is set but daemon_mode is false. pid_file_name is only supported in daemon_mode",
            );
        }
        if self.pid_file_name.is_some() && self.renew_signal.is_none() {
            return invalid("must specify renew_signal when using pid_file_name");
        }
        if self.x509.is_none() && self.jwt_svids.is_empty() && self.jwt_bundle_file_name.is_none() {
            return invalid(
                "at least one of the sets ('svid_file_name', 'svid_key_file_name', 'svid_bundle_file_name'), 'jwt_svids', or 'jwt_bundle_file_name' must be fully specified",
            );
        }
        // The private key must never be readable by other users (issue 20): refuse a mode
        // that grants them anything.
        if self.key_file_mode & 0o007 != 0 {
            return Err(ConfigProblem::Invalid(format!(
                "key_file_mode {:04o} would give every user access to the private key; use 0600 (or 0640 for a group)",
                self.key_file_mode
            )));
        }
        Ok(())
    }
}

fn decode(d: &mut Decoder<'_>) -> Result<HelperConfig, ConfigError> {
    let agent_address = d.optional_str("agent_address")?.unwrap_or_default();
    let cmd = d.optional_str("cmd")?.unwrap_or_default();
    let cmd_args = match d.optional_str("cmd_args")? {
        Some(args) => split_args(&args).map_err(|reason| d.invalid("cmd_args", reason))?,
        None => Vec::new(),
    };
    let pid_file_name = non_empty(d.optional_str("pid_file_name")?).map(PathBuf::from);
    let cert_dir = PathBuf::from(d.optional_str("cert_dir")?.unwrap_or_default());
    let daemon_mode = d.optional_bool("daemon_mode")?;
    let add_intermediates_to_bundle = d.optional_bool("add_intermediates_to_bundle")?;
    let include_federated_domains = d.optional_bool("include_federated_domains")?;
    let omit_expired = d.optional_bool("omit_expired")?;
    let renew_signal = match non_empty(d.optional_str("renew_signal")?) {
        Some(name) => Some(RenewSignal::parse(&name).ok_or_else(|| {
            d.invalid(
                "renew_signal",
                format!(
                    "not a signal name this helper knows (one of {})",
                    SIGNALS
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?),
        None => None,
    };
    let svid = non_empty(d.optional_str("svid_file_name")?);
    let key = non_empty(d.optional_str("svid_key_file_name")?);
    let bundle = non_empty(d.optional_str("svid_bundle_file_name")?);
    let x509 = match (svid, key, bundle) {
        (Some(svid), Some(key), Some(bundle)) => Some(X509Files { svid, key, bundle }),
        (None, None, None) => None,
        _ => {
            return Err(d.invalid(
                "svid_file_name",
                "all or none of 'svid_file_name', 'svid_key_file_name', 'svid_bundle_file_name' must be specified",
            ))
        }
    };
    let mut jwt_svids = Vec::new();
    for section in d.repeated_sections("jwt_svids")? {
        jwt_svids.push(section.decode(|j| {
            let audience = non_empty(j.optional_str("jwt_audience")?)
                .ok_or_else(|| j.missing("jwt_audience"))?;
            let extra_audiences = j
                .optional_str_list("jwt_extra_audiences")?
                .unwrap_or_default();
            let file_name = non_empty(j.optional_str("jwt_svid_file_name")?)
                .ok_or_else(|| j.missing("jwt_svid_file_name"))?;
            Ok(JwtSvidConfig {
                audience,
                extra_audiences,
                file_name,
            })
        })?);
    }
    let jwt_bundle_file_name = non_empty(d.optional_str("jwt_bundle_file_name")?);
    let cert_file_mode = mode(d, "cert_file_mode", DEFAULT_CERT_FILE_MODE)?;
    let key_file_mode = mode(d, "key_file_mode", DEFAULT_KEY_FILE_MODE)?;
    let jwt_bundle_file_mode = mode(d, "jwt_bundle_file_mode", DEFAULT_JWT_BUNDLE_FILE_MODE)?;
    let jwt_svid_file_mode = mode(d, "jwt_svid_file_mode", DEFAULT_JWT_SVID_FILE_MODE)?;
    let hint = d.optional_str("hint")?.unwrap_or_default();
    let health = d
        .optional_block_with("health_checks", |h| {
            let enabled = h.optional_bool("listener_enabled")?.unwrap_or(false);
            let bind_port = match h.optional_u16("bind_port")? {
                None | Some(0) => DEFAULT_BIND_PORT,
                Some(port) => port,
            };
            let bind_address = h
                .optional_parsed::<std::net::IpAddr>("bind_address")?
                .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into());
            let liveness_path = non_empty(h.optional_str("liveness_path")?)
                .unwrap_or_else(|| DEFAULT_LIVENESS_PATH.to_owned());
            let readiness_path = non_empty(h.optional_str("readiness_path")?)
                .unwrap_or_else(|| DEFAULT_READINESS_PATH.to_owned());
            Ok(enabled.then_some(HealthConfig {
                bind_address,
                bind_port,
                liveness_path,
                readiness_path,
            }))
        })?
        .flatten();
    Ok(HelperConfig {
        agent_address,
        cmd,
        cmd_args,
        pid_file_name,
        cert_dir,
        daemon_mode,
        add_intermediates_to_bundle: add_intermediates_to_bundle.unwrap_or(false),
        include_federated_domains: include_federated_domains.unwrap_or(false),
        omit_expired: omit_expired.unwrap_or(false),
        renew_signal,
        x509,
        jwt_svids,
        jwt_bundle_file_name,
        cert_file_mode,
        key_file_mode,
        jwt_bundle_file_mode,
        jwt_svid_file_mode,
        hint,
        health,
    })
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// A file mode: an integer (octal when written `0644`, as in HCL1); 0 or unset is the default.
fn mode(d: &mut Decoder<'_>, key: &str, default: u32) -> Result<u32, ConfigError> {
    match d.optional_i64(key)? {
        None | Some(0) => Ok(default),
        Some(mode) if (1..=0o777).contains(&mode) => Ok(mode as u32),
        Some(_) => Err(d.invalid(key, "a file mode is 0001 to 0777 (octal, e.g. 0644)")),
    }
}

/// Splits `cmd_args` as spiffe-helper does: on spaces, except inside double quotes (which are
/// removed); a doubled quote inside quotes is one literal quote. No shell rules otherwise.
fn split_args(args: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut started = false;
    let mut quoted = false;
    let mut chars = args.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                current.push('"');
            }
            '"' => {
                quoted = !quoted;
                started = true;
            }
            ' ' if !quoted => {
                if started {
                    out.push(std::mem::take(&mut current));
                    started = false;
                }
            }
            c => {
                current.push(c);
                started = true;
            }
        }
    }
    if quoted {
        return Err("a double quote is not closed".to_owned());
    }
    if started {
        out.push(current);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cmd_args_split_like_spiffe_helper() {
        assert_eq!(
            split_args(r#"-c "echo hello"  x"#).unwrap(),
            ["-c", "echo hello", "x"]
        );
        assert_eq!(split_args(r#""one "" quote""#).unwrap(), [r#"one " quote"#]);
        assert_eq!(split_args("-c 'a b'").unwrap(), ["-c", "'a", "b'"]);
        assert_eq!(split_args(r#""""#).unwrap(), [""]);
        assert!(split_args(r#""open"#).is_err());
    }

    fn parse(text: &str) -> Result<HelperConfig, ConfigError> {
        spire_config::Config::parse(text)?.decode(decode)
    }

    #[test]
    fn keys_defaults_and_octal_modes() {
        let c = parse(
            r#"
            agent_address = "/tmp/a.sock"
            cert_dir = "certs"
            svid_file_name = "svid.pem"
            svid_key_file_name = "svid_key.pem"
            svid_bundle_file_name = "svid_bundle.pem"
            jwt_svids = [{jwt_audience="a", jwt_extra_audiences=["b", "c"], jwt_svid_file_name="a.token"},
                         {jwt_audience="d", jwt_svid_file_name="d.token"}]
            jwt_bundle_file_name = "bundle.json"
            cert_file_mode = 0444
            renew_signal = "SIGHUP"
            health_checks { listener_enabled = true }
            "#,
        )
        .unwrap();
        assert_eq!(c.cert_file_mode, 0o444);
        assert_eq!(c.key_file_mode, 0o600);
        assert_eq!(c.jwt_svids.len(), 2);
        assert_eq!(c.jwt_svids[0].extra_audiences, ["b", "c"]);
        assert_eq!(c.jwt_svids[1].file_name, "d.token");
        assert_eq!(c.renew_signal.unwrap().name, "SIGHUP");
        let health = c.health.as_ref().unwrap();
        assert_eq!(
            (health.bind_port, health.readiness_path.as_str()),
            (8081, "/ready")
        );
        assert!(c.daemon());
    }

    #[test]
    fn refusals_name_the_key() {
        let unknown = parse("cert_dir = \"x\"\n\nsvid_fle_name = \"a\"").unwrap_err();
        assert!(unknown.to_string().contains("svid_fle_name"), "{unknown}");
        assert!(unknown.to_string().contains("line 3"), "{unknown}");
        let nested = parse("jwt_svids = [{jwt_audience=\"a\", jwt_svid_file_name=\"t\", aud=1}]")
            .unwrap_err();
        assert!(nested.to_string().contains("\"aud\""), "{nested}");
        let signal = parse("renew_signal = \"SIGFOO\"").unwrap_err();
        assert!(signal.to_string().contains("renew_signal"), "{signal}");
        let partial = parse("svid_file_name = \"a\"").unwrap_err();
        assert!(partial.to_string().contains("all or none"), "{partial}");
        let mode = parse("key_file_mode = 01777").unwrap_err();
        assert!(mode.to_string().contains("key_file_mode"), "{mode}");
    }
}
