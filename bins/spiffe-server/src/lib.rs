//! # spiffe-server
//!
//! The identity control plane of a trust domain, a drop-in for SPIRE's `spire-server`: it keeps
//! registration entries, attested agents, trust bundles and the CA's journal, and serves SPIRE's
//! server APIs to agents and operators.
//!
//! The crate is a library (so tests and embedders can start a server in-process) with a thin
//! binary on top. Its modules, one per concern:
//!
//! - [`datastore`]: everything the server stores, behind one trait, on SQLite (the default, a
//!   file under `data_dir`) or PostgreSQL (several servers sharing one database), with
//!   versioned migrations and a change log whose monotonic revision feeds incremental sync.
#![forbid(unsafe_code)]

pub mod datastore;
