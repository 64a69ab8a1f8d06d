//! # daemon-harness
//!
//! `spiffe-server` and `spiffe-agent` as processes, for process-level tests in any crate of the
//! workspace (the agent's, federation, nested servers, SDS, the OIDC provider):
//!
//! - [`agent`]: [`AgentConfigFile`] (SPIRE's agent config, generated in a test directory) and
//!   [`AgentProcess`] (`spiffe-agent run`, its output read line by line, killed on drop), and
//!   [`agent_cli`] for the agent's other verbs, bounded in time.
//! - [`domain`]: [`Domain`], a whole trust domain in one call: a server, the bootstrap bundle
//!   an operator hands the agent (`bundle show`), a join token (`token generate`) and an agent
//!   attested with it; entries are created with the server's own CLI.
//! - [`proxy`]: [`FlakyProxy`], a loopback TCP proxy that delays, stalls, cuts and refuses
//!   connections on command or on a schedule (a flaky network between agent and server).
//! - [`postgres`]: [`PgCluster`], a private PostgreSQL cluster a test may stop and start again
//!   (made with `scripts/postgres.sh`, removed on drop).
//! - [`load`]: a load run for sizing a deployment: Workload API clients on an agent process
//!   and simulated agents on one server (SQLite) or two (one PostgreSQL), every error counted,
//!   throughput, latency percentiles and each daemon's peak memory
//!   (`cargo bench -p daemon-harness --bench load`, see `docs/operations.md`).
//!
//! The binaries are the ones Cargo built beside the test binary (`target/<profile>/`), or
//! `$SPIFFE_SERVER_BIN` / `$SPIFFE_AGENT_BIN`. `cargo nextest run --workspace` builds them;
//! when testing one crate, build them first: `cargo build -p spiffe-server -p spiffe-agent`.
//!
//! ```no_run
//! use daemon_harness::Domain;
//!
//! let dir = tempfile::tempdir()?;
//! let domain = Domain::start(dir.path(), "example.org", |_server, _agent| {})?;
//! let uid = daemon_harness::current_uid();
//! domain.create_entry("spiffe://example.org/web", &[&format!("unix:uid:{uid}")], &[])?;
//! domain.wait_for_svid("spiffe://example.org/web")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod agent;
pub mod domain;
pub mod load;
pub mod postgres;
pub mod proxy;

pub use agent::{agent_cli, AgentConfigFile, AgentProcess};
pub use domain::{current_uid, Domain};
pub use postgres::PgCluster;
pub use proxy::{Fault, FlakyProxy, Step};
pub use spiffe_server::testing::process::{
    free_port, DataStoreKind, KeyManagerKind, ServerConfigFile, ServerProcess,
};
