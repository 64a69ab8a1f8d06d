//! # spiffe-ca
//!
//! The SPIFFE certificate authority as a library: key managers (memory, disk, PKCS#11), X.509-SVID
//! and JWT-SVID issuers, and CA rotation.
//!
//! Signing is synchronous on a [`Signer`](keys::Signer) (a software signature costs tens of
//! microseconds; an async hop would cost as much), while key management
//! ([`KeyManager`](keys::KeyManager)) is async because it may touch disks and HSMs. Time is always
//! passed in (or read from a [`Clock`]), so rotation can be tested with a controllable clock.
//!
//! [`secret_file::write`] is how this crate, the daemons and the `spiffe` tool write private
//! keys and other secrets to disk: mode 0600, atomically, never through a symlink.
#![forbid(unsafe_code)]

mod clock;
mod der_writer;
mod error;
pub mod jwt;
pub mod keys;
pub mod manager;
pub mod secret_file;
pub mod x509;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::CaError;
