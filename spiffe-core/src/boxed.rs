//! The two boxed trait objects the crates above share: an error from elsewhere and an
//! object-safe future.
//!
//! `spiffe-core` does no I/O and runs nothing asynchronously; these are plain `std` type aliases
//! (no runtime, no executor), defined here because this is the lowest crate both `spiffe-ca`
//! and `spiffe-attest` depend on, so their object-safe async traits name one type.

use std::future::Future;
use std::pin::Pin;

/// A boxed, `Send` future: what the object-safe async traits of `spiffe-ca` (`KeyManager`,
/// `Journal`, `UpstreamAuthority`) and `spiffe-attest` (`NodeAttestorServer`,
/// `WorkloadAttestor`, `JoinTokenStore`) return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A boxed error from outside this workspace (a transport, a PKCS#11 module, an embedder's
/// callback), kept as the `source` of our own errors.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
