//! Why a server configuration cannot be used. The messages follow SPIRE's `run` command where
//! it has one; everything about a place in the file names its line. No message quotes a value
//! that may be secret (connection strings, PINs).

use std::path::PathBuf;

use spire_config::{ConfigError, LoadError};
use thiserror::Error;

/// A configuration that `run` and `validate` refuse.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ServerConfigError {
    /// The file is missing, unreadable or not HCL.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The file parses but its content is wrong: an unknown key or plugin, a bad value, a SPIRE
    /// plugin or setting this server does not provide.
    #[error("unable to decode configuration at {}", spire_config::goquote::quote(&path.to_string_lossy()))]
    Decode {
        /// The config file.
        path: PathBuf,
        /// What is wrong, with its line.
        #[source]
        source: ConfigError,
    },
    /// A `plugin_data_file` could not be read or parsed.
    #[error("unable to load plugin data file of {plugin}")]
    PluginDataFile {
        /// `KeyManager "disk"`.
        plugin: String,
        /// Why.
        #[source]
        source: LoadError,
    },
    /// A required section is absent (SPIRE: `server section must be configured`).
    #[error("{0} section must be configured")]
    MissingSection(&'static str),
    /// A required setting is absent from the file and the flags (SPIRE:
    /// `trust_domain must be configured`).
    #[error("{0} must be configured")]
    Missing(&'static str),
    /// `trust_domain` (from the file or `-trustDomain`) is not a trust domain name.
    #[error("could not parse trust_domain {}", spire_config::goquote::quote(value))]
    TrustDomain {
        /// The value given.
        value: String,
        /// Why.
        #[source]
        source: spiffe_core::IdError,
    },
    /// A `-logLevel` or `-logFormat` flag SPIRE does not know.
    #[error("invalid value for flag -{flag}: {reason}")]
    Flag {
        /// The flag.
        flag: &'static str,
        /// Why, without the value.
        reason: String,
    },
    /// The plugins of a type are too few or too many (SPIRE:
    /// `plugin type "KeyManager" constraint not satisfied: expected exactly 1 but got 0`).
    #[error(
        "plugin type \"{plugin_type}\" constraint not satisfied: expected {expected} but got {got}"
    )]
    PluginConstraint {
        /// The plugin type.
        plugin_type: &'static str,
        /// `exactly 1`, `at least 1`, `at most 1`.
        expected: &'static str,
        /// How many are declared (enabled).
        got: usize,
    },
}
