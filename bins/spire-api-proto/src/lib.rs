#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod cli_text;
pub mod convert;
mod generated;
mod secret_debug;

pub use generated::spire::api::{server, types};

/// The agent's services: packages `spire.api.agent.delegatedidentity.v1`,
/// `spire.api.agent.logger.v1` and `spire.agent.debug.v1`.
pub mod agent {
    pub use crate::generated::spire::agent::debug;
    pub use crate::generated::spire::api::agent::{delegatedidentity, logger};
}
