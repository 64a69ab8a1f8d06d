//! # spiffe-server
//!
//! The identity control plane of a trust domain, a drop-in for SPIRE's `spire-server`: it keeps
//! registration entries, attested agents, trust bundles and the CA's journal, and serves SPIRE's
//! server APIs to agents and operators.
//!
//! The crate is a library (so tests and embedders can start a server in-process) with a thin
//! binary on top. Its modules, one per concern:
//!
//! - [`config`]: SPIRE's HCL config and the `run` flags, decoded once into typed settings.
//! - [`datastore`]: everything the server stores, behind one trait, on SQLite (the default, a
//!   file under `data_dir`) or PostgreSQL (several servers sharing one database), with
//!   versioned migrations and a change log whose monotonic revision feeds incremental sync.
//! - [`cache`]: entries and attested nodes in memory, following the change log, so agents'
//!   requests never scan the datastore.
//! - [`authz`]: who may call what (SPIRE's default policy, one table) and the layer enforcing
//!   it; [`caller`]: who is calling, as the listener established it.
//! - [`api`]: SPIRE's server services, one module per service.
//! - [`context`]: the state every service shares.
#![forbid(unsafe_code)]

pub mod api;
pub mod authz;
pub mod ca;
pub mod cache;
pub mod caller;
pub mod cli;
pub mod config;
pub mod context;
pub mod datastore;
pub mod endpoints;
pub mod federation;
pub mod ops;
pub mod server;
#[doc(hidden)]
pub mod testing;
