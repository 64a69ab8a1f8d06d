//! # spiffe-attest
//!
//! Who gets which identity. This crate holds the vocabulary the server and agent daemons share:
//!
//! - [`Selector`]: a `type:value` property of a node or a workload (`unix:uid:1000`).
//! - [`RegistrationEntry`] ([`entry`]): who gets which SPIFFE ID, with SPIRE's fields and checks.
//! - [`EntryIndex`] ([`index`]): the entries an agent is authorized for and those a workload's
//!   selectors match, in time independent of the number of entries.
//! - Node attestation ([`node`]): both halves of a challenge/response exchange through which an
//!   agent proves what machine it runs on. The plugins produce and check bytes; carrying those
//!   bytes between agent and server is the daemons' job, so nothing here opens a socket.
//! - Workload attestation ([`workload`]): from a caller's kernel credentials to selectors.
//!
//! Server-side verifiers are async (they may consult a datastore or a cloud API); the agent
//! half of an exchange is synchronous because it often drives a device (a TPM) that is best used
//! from one blocking thread.
#![forbid(unsafe_code)]

pub mod entry;
mod error;
pub mod index;
pub mod node;
mod selector;
pub mod workload;

pub use entry::{EntryError, EntryId, RegistrationEntry};
pub use error::AttestError;
pub use index::EntryIndex;
pub use selector::{Selector, SelectorError};
