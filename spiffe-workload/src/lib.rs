//! # spiffe-workload
//!
//! The SPIFFE Workload API: the wire-exact proto (service `SpiffeWorkloadAPI`, no package,
//! [`proto`]) and a server kit, [`WorkloadApiServer`], that serves any [`IdentityProvider`]
//! over a Unix socket, handing it the caller's kernel peer credentials ([`CallerInfo`]).
#![forbid(unsafe_code)]

pub mod proto;
pub mod provider;
pub mod server;

pub use provider::{
    CallerInfo, IdentityProvider, JwtBundles, JwtSvidEntry, ProviderError, X509Context,
    X509SvidEntry,
};
pub use server::{ServeError, WorkloadApiServer, DEFAULT_MAX_STREAMS};
