//! Why an agent configuration cannot be used. The messages follow SPIRE's `run` command where
//! it has one; everything about a place in the file names its line. No message quotes a join
//! token.

use std::path::PathBuf;

use spire_config::{ConfigError, LoadError};
use thiserror::Error;

/// A configuration that `run` and `validate` refuse.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AgentConfigError {
    /// The file is missing, unreadable or not HCL.
    #[error(transparent)]
    Load(Box<LoadError>),
    /// The file parses but its content is wrong: an unknown key or plugin, a bad value, a SPIRE
    /// plugin or setting this agent does not provide.
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
        /// `NodeAttestor "x509pop"`.
        plugin: String,
        /// Why.
        #[source]
        source: Box<LoadError>,
    },
    /// A required section is absent (SPIRE: `agent section must be configured`).
    #[error("{0} section must be configured")]
    MissingSection(&'static str),
    /// A required setting is absent from the file and the flags.
    #[error("{0} must be configured")]
    Missing(&'static str),
    /// Two settings that exclude each other are both set.
    #[error("{0}")]
    Conflict(&'static str),
    /// `trust_domain` is not a trust domain name.
    #[error("could not parse trust_domain {}", spire_config::goquote::quote(value))]
    TrustDomain {
        /// The value given.
        value: String,
        /// Why.
        #[source]
        source: spiffe_core::IdError,
    },
    /// A flag with a value SPIRE does not accept.
    #[error("invalid value for flag -{flag}: {reason}")]
    Flag {
        /// The flag.
        flag: &'static str,
        /// Why.
        reason: String,
    },
    /// Too few or too many plugins of a type (SPIRE's message).
    #[error(
        "plugin type \"{plugin_type}\" constraint not satisfied: expected {expected} but got {got}"
    )]
    PluginConstraint {
        /// The plugin type.
        plugin_type: &'static str,
        /// `exactly 1`, `at least 1`.
        expected: &'static str,
        /// How many are declared (enabled).
        got: usize,
    },
}

impl From<LoadError> for AgentConfigError {
    fn from(e: LoadError) -> Self {
        AgentConfigError::Load(Box::new(e))
    }
}
