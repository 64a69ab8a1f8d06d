//! [`Config`]: a parsed config file, and loading one from disk as SPIRE's `run` does.

use crate::decode::{Decoder, Section};
use crate::error::ConfigError;
use crate::expand::expand_env;
use crate::goquote::quote;
use crate::hcl::{self, Body};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A parsed SPIRE config file (HCL1, or JSON).
///
/// ```
/// use spire_config::Config;
///
/// let config = Config::parse(include_str!("../tests/data/server-minimal.conf"))?;
/// let td = config.decode(|top| {
///     let td = top.required_block_with("server", |s| {
///         let td = s.required_str("trust_domain")?;
///         s.ignore("bind_address");
///         s.ignore("bind_port");
///         s.ignore("socket_path");
///         s.ignore("data_dir");
///         s.ignore("log_level");
///         Ok(td)
///     })?;
///     top.ignore("plugins");
///     Ok(td)
/// })?;
/// assert_eq!(td, "example.org");
/// # Ok::<(), spire_config::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    body: Body,
}

impl Config {
    /// Parses config text.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        Ok(Config {
            body: hcl::parse(text)?,
        })
    }

    /// Parses config text after `-expandEnv` substitution with `lookup`.
    pub fn parse_expanded(
        text: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        Config::parse(&expand_env(text, lookup))
    }

    /// The parsed tree.
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// The top level as a section.
    pub fn root(&self) -> Section {
        Section::from_body(&self.body)
    }

    /// Decodes the top level (see [`Section::decode`]): an unknown top-level key or block is
    /// an error.
    pub fn decode<T>(
        &self,
        f: impl FnOnce(&mut Decoder<'_>) -> Result<T, ConfigError>,
    ) -> Result<T, ConfigError> {
        self.root().decode(f)
    }
}

/// Why a config file could not be loaded. The messages are SPIRE's.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file does not exist.
    #[error("could not find config file {}: please use the -config flag", path.display())]
    NotFound {
        /// The absolute path tried.
        path: PathBuf,
    },
    /// The file exists but could not be read.
    #[error("unable to read configuration at {}", quote(&path.to_string_lossy()))]
    Read {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid config.
    #[error("unable to decode configuration at {}", quote(&path.to_string_lossy()))]
    Decode {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: ConfigError,
    },
}

/// Reads and parses the config file at `path`, expanding `$VAR`/`${VAR}` from the process
/// environment first when `expand_env` (SPIRE's `-expandEnv`).
pub fn load_file(path: &Path, expand_env: bool) -> Result<Config, LoadError> {
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|e| LoadError::Read {
            path: path.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()),
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
            return Err(LoadError::NotFound { path });
        }
        Err(source) => {
            return Err(LoadError::Read {
                path: path.to_owned(),
                source,
            })
        }
    };
    let parsed = if expand_env {
        Config::parse_expanded(&text, |name| std::env::var(name).ok())
    } else {
        Config::parse(&text)
    };
    parsed.map_err(|source| LoadError::Decode {
        path: path.to_owned(),
        source,
    })
}
