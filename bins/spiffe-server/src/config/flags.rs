//! The flags of `run` and `validate` (SPIRE's `cmd/spire-server/cli/run`): each one given
//! overrides the file's setting.

use std::path::PathBuf;

use spire_config::flags::{Flag, FlagError, FlagSet, Parsed};

/// SPIRE's default config file, relative to the working directory.
pub const DEFAULT_CONFIG_PATH: &str = "conf/server/server.conf";

/// The values of `run`'s flags; `None` (or 0) means "not given, use the file".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunFlags {
    /// `-config` (default `conf/server/server.conf`).
    pub config: Option<PathBuf>,
    /// `-expandEnv`.
    pub expand_env: bool,
    /// `-bindAddress`.
    pub bind_address: Option<String>,
    /// `-serverPort`.
    pub server_port: Option<u16>,
    /// `-socketPath`.
    pub socket_path: Option<String>,
    /// `-trustDomain`.
    pub trust_domain: Option<String>,
    /// `-dataDir`.
    pub data_dir: Option<String>,
    /// `-logLevel`.
    pub log_level: Option<String>,
    /// `-logFormat`.
    pub log_format: Option<String>,
    /// `-logFile`.
    pub log_file: Option<String>,
    /// `-logSourceLocation`.
    pub log_source_location: bool,
}

/// `run`'s flag set, named `name` (`run` or `validate`, which share it as in SPIRE).
pub struct RunFlagSet {
    set: FlagSet,
    bind_address: Flag<String>,
    server_port: Flag<i64>,
    config: Flag<String>,
    data_dir: Flag<String>,
    log_file: Flag<String>,
    log_format: Flag<String>,
    log_source_location: Flag<bool>,
    log_level: Flag<String>,
    trust_domain: Flag<String>,
    expand_env: Flag<bool>,
    socket_path: Flag<String>,
}

impl std::fmt::Debug for RunFlagSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.set.fmt(f)
    }
}

impl RunFlagSet {
    /// The flags with SPIRE's names and usage texts.
    pub fn new(name: &str) -> Self {
        let mut set = FlagSet::new(name);
        let bind_address = set.string(
            "bindAddress",
            "",
            "IP address or DNS name of the SPIRE server",
        );
        let server_port = set.int("serverPort", 0, "Port number of the SPIRE server");
        let config = set.string("config", "", "Path to a SPIRE config file");
        let data_dir = set.string("dataDir", "", "Directory to store runtime data to");
        let log_file = set.string("logFile", "", "File to write logs to");
        let log_format = set.string("logFormat", "", "'text' or 'json'");
        let log_source_location = set.bool(
            "logSourceLocation",
            false,
            "Include source file, line number and function name in log lines",
        );
        let log_level = set.string("logLevel", "", "'debug', 'info', 'warn', or 'error'");
        let trust_domain = set.string(
            "trustDomain",
            "",
            "The trust domain that this server belongs to",
        );
        let expand_env = set.bool(
            "expandEnv",
            false,
            "Expand environment variables in SPIRE config file",
        );
        let socket_path = set.string(
            "socketPath",
            "",
            "Path to bind the SPIRE Server API socket to",
        );
        Self {
            set,
            bind_address,
            server_port,
            config,
            data_dir,
            log_file,
            log_format,
            log_source_location,
            log_level,
            trust_domain,
            expand_env,
            socket_path,
        }
    }

    /// The help text (usage, then `flag: help requested`), as mitchellh/cli shows it.
    pub fn help(&self) -> String {
        self.set.help()
    }

    /// Parses `args`, writing Go's message and usage to `out` on failure.
    pub fn parse(
        &self,
        args: &[String],
        out: &mut dyn std::io::Write,
    ) -> Result<RunFlags, FlagError> {
        let m = self.set.parse_reporting(args, out)?;
        let text = |m: &Parsed, f: &Flag<String>| Some(m.get(f).clone()).filter(|s| !s.is_empty());
        let port = *m.get(&self.server_port);
        let server_port = match u16::try_from(port) {
            Ok(0) => None,
            Ok(p) => Some(p),
            Err(_) => {
                let err = FlagError::InvalidValue {
                    name: "serverPort".into(),
                    value: port.to_string(),
                    reason: "value out of range".into(),
                };
                let _ = write!(out, "{err}\n{}", self.set.usage());
                return Err(err);
            }
        };
        Ok(RunFlags {
            config: text(&m, &self.config).map(PathBuf::from),
            expand_env: *m.get(&self.expand_env),
            bind_address: text(&m, &self.bind_address),
            server_port,
            socket_path: text(&m, &self.socket_path),
            trust_domain: text(&m, &self.trust_domain),
            data_dir: text(&m, &self.data_dir),
            log_level: text(&m, &self.log_level),
            log_format: text(&m, &self.log_format),
            log_file: text(&m, &self.log_file),
            log_source_location: *m.get(&self.log_source_location),
        })
    }
}

impl RunFlags {
    /// The config file to read.
    pub fn config_path(&self) -> PathBuf {
        self.config
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH))
    }
}
