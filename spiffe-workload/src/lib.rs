//! # spiffe-workload
//!
//! The SPIFFE Workload API: the wire-exact proto (service `SpiffeWorkloadAPI`, no package,
//! [`proto`]) and a server kit, [`WorkloadApiServer`], that serves any [`IdentityProvider`]
//! over a Unix socket, handing it the caller's kernel peer credentials ([`CallerInfo`]).
//! [`EndpointAddress`] parses `SPIFFE_ENDPOINT_SOCKET` values by the Workload Endpoint rules.
//!
//! On the workload side, [`WorkloadApiClient`] calls every RPC and re-opens streams with
//! backoff after failures and agent restarts; [`X509Source`], [`JwtSource`] and
//! [`BundleSource`] hold the newest material behind `spiffe-core`'s source traits:
//!
//! ```no_run
//! use spiffe_core::{TrustDomain, X509BundleSource, X509SvidSource};
//! use spiffe_workload::{JwtSource, X509Source};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // Reads SPIFFE_ENDPOINT_SOCKET and waits for the first SVID.
//! let x509 = X509Source::from_env().await?;
//! let svid = x509.x509_svid().ok_or("identity redacted")?;
//! println!("I am {}", svid.spiffe_id());
//! let roots = x509.x509_bundle_for(&TrustDomain::new("example.org")?);
//!
//! // Rotations arrive on a watch channel (e.g. to rebuild a TLS configuration).
//! let mut updates = x509.subscribe();
//! tokio::spawn(async move {
//!     while updates.changed().await.is_ok() {
//!         let context = updates.borrow_and_update().clone();
//!         println!("rotated: {} SVID(s)", context.svids.len());
//!     }
//! });
//!
//! // JWT-SVIDs are cached per audience until half their life is gone.
//! let jwt = JwtSource::from_env().await?;
//! let token = jwt.fetch_jwt_svid(&["payments"]).await?;
//! # let _ = (roots, token);
//! # Ok(())
//! # }
//! ```
//!
//! Serving identities:
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use spiffe_core::SpiffeId;
//! use spiffe_workload::{
//!     CallerInfo, IdentityProvider, JwtBundles, JwtSvidEntry, ProviderError, WorkloadApiServer,
//!     X509Context,
//! };
//! use tokio::sync::watch;
//!
//! /// Serves one fixed X.509 context to callers running as uid 1000, nothing to others.
//! struct Fixed {
//!     context: X509Context,
//!     changes: watch::Sender<()>,
//! }
//!
//! impl IdentityProvider for Fixed {
//!     async fn x509_context(&self, caller: &CallerInfo) -> Result<X509Context, ProviderError> {
//!         match caller.uid {
//!             1000 => Ok(self.context.clone()),
//!             _ => Err(ProviderError::NoIdentity),
//!         }
//!     }
//!
//!     async fn jwt_svids(
//!         &self,
//!         _caller: &CallerInfo,
//!         _audience: &[String],
//!         _spiffe_id: Option<&SpiffeId>,
//!     ) -> Result<Vec<JwtSvidEntry>, ProviderError> {
//!         Err(ProviderError::NoIdentity)
//!     }
//!
//!     async fn jwt_bundles(&self, _caller: &CallerInfo) -> Result<JwtBundles, ProviderError> {
//!         Err(ProviderError::NoIdentity)
//!     }
//!
//!     fn changes(&self) -> watch::Receiver<()> {
//!         self.changes.subscribe()
//!     }
//! }
//!
//! # async fn run(context: X509Context) -> Result<(), Box<dyn std::error::Error>> {
//! let provider = Arc::new(Fixed { context, changes: watch::channel(()).0 });
//! let listener = tokio::net::UnixListener::bind("/tmp/agent.sock")?;
//! // Sending on (or dropping) `stop` shuts the server down gracefully.
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! # drop(stop);
//! WorkloadApiServer::new(provider)
//!     .serve_unix(listener, async {
//!         let _ = stopped.await;
//!     })
//!     .await?;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod client;
pub mod endpoint;
pub mod proto;
pub mod provider;
pub mod server;
pub mod source;

pub use client::{ClientError, ValidatedJwtSvid, WorkloadApiClient};
pub use endpoint::{EndpointAddress, EndpointError, ENDPOINT_ENV_VAR};
pub use provider::files::{FileIdentityConfig, FileIdentityProvider};
pub use provider::{
    IdentityProvider, JwtBundles, JwtSvidEntry, ProviderError, X509Context, X509SvidEntry,
};
pub use server::{ServeError, WorkloadApiServer, DEFAULT_MAX_STREAMS};
pub use source::{BundleSource, JwtSource, SourceError, X509Source};
/// Who is calling: `spiffe-attest`'s [`CallerInfo`](spiffe_attest::workload::CallerInfo), the
/// one type the server kit hands to providers and the workload attestors take.
pub use spiffe_attest::workload::CallerInfo;
