//! # spiffe-agent
//!
//! The SPIFFE node agent, a drop-in for SPIRE's `spire-agent`, as a library the daemon (and an
//! embedder, or a test) composes:
//!
//! - [`server`]: the seam to the SPIRE server ([`server::ServerClient`]: entry sync by revision,
//!   batch X.509-SVID signing from CSRs, JWT-SVID minting, bundles), and with the feature
//!   `fake-server` an in-process fake that mints with `spiffe-ca`.
//! - [`manager`]: the cache ([`manager::AgentManager`]): authorized entries in an
//!   [`EntryIndex`](spiffe_attest::EntryIndex), a key per entry generated locally, CSRs signed
//!   in batches of 500, a bounded X.509-SVID cache rotated at half-life with jitter, re-signing
//!   under a new CA when the old one is tainted, a JWT-SVID cache, and the sync loop with
//!   backoff that keeps serving through server outages.
//! - [`workload`]: the Workload API provider ([`workload::AgentIdentityProvider`]) that
//!   `spiffe-workload`'s server kit serves: callers attested by the configured workload
//!   attestors, matched to entries, answered from precomputed, shared answers.
//! - [`clock`]: wall-clock time that tests can drive with tokio's paused clock.
//! - [`config`]: SPIRE's agent config (HCL) and `run` flags, decoded and checked.
//! - [`node`]: the agent's own identity: `AttestAgent` with a node attestor's agent half, the
//!   agent SVID and key in `data_dir`, `RenewAgent`, the TLS channels to the server.
//! - [`daemon`]: `spiffe-agent run`, composing all of the above with
//!   [`server::GrpcServerClient`] and the Workload API server.
//! - [`cli`]: SPIRE's `spire-agent` command line (`run`, `validate`, `healthcheck`, `api …`).
//!
//! ```no_run
//! use std::sync::Arc;
//! use spiffe_agent::clock::SystemClock;
//! use spiffe_agent::manager::{AgentManager, ManagerConfig};
//! use spiffe_agent::server::ServerClient;
//! use spiffe_agent::workload::{AgentIdentityProvider, ProviderConfig};
//! use spiffe_attest::workload::unix::UnixAttestor;
//! use spiffe_core::{SpiffeId, TrustDomain};
//! use spiffe_workload::WorkloadApiServer;
//!
//! # async fn run(server: Arc<dyn ServerClient>) -> Result<(), Box<dyn std::error::Error>> {
//! let config = ManagerConfig::new(
//!     TrustDomain::new("example.org")?,
//!     SpiffeId::new("spiffe://example.org/spire/agent/join_token/abc")?,
//! );
//! let manager = AgentManager::new(config, server, Arc::new(SystemClock));
//! tokio::spawn({
//!     let manager = manager.clone();
//!     async move { manager.run(std::future::pending()).await }
//! });
//! let provider = AgentIdentityProvider::new(
//!     manager,
//!     vec![Arc::new(UnixAttestor::new())],
//!     ProviderConfig::default(),
//! );
//! let listener = tokio::net::UnixListener::bind("/tmp/spire-agent/public/api.sock")?;
//! WorkloadApiServer::new(Arc::new(provider))
//!     .serve_unix(listener, std::future::pending())
//!     .await?;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod admin;
pub mod bootstrap;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod manager;
pub mod node;
pub mod server;
pub mod workload;
