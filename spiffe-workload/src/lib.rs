//! # spiffe-workload
//!
//! The SPIFFE Workload API: the wire-exact proto (service `SpiffeWorkloadAPI`, no package) and a
//! server kit, [`WorkloadApiServer`], that serves any [`IdentityProvider`] over a Unix socket,
//! handing it the caller's kernel peer credentials.
#![forbid(unsafe_code)]

pub mod proto;
