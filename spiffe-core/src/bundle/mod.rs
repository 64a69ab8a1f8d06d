//! Trust bundles: the SPIFFE bundle JSON document, the Bundle Map, and bundle sets.
//!
//! - [`SpiffeBundle`]: one trust domain's bundle as the JWK Set document of SPIFFE Trust
//!   Domain and Bundle §4, read with the consumer rules (BUNDLE-3..13, X509-27..31,
//!   JWT-16/17) and written back losslessly.
//! - [`BundleMap`]: the `trust_domains` document of §5.1 (BUNDLE-14..17).
//! - [`BundleSet`]: bundles by trust domain, as verifiers consume them (BUNDLE-1, FED-7).
//! - Plain JWK Sets ([`JwtBundle::parse_jwks`], trap 6) and bundle files of any format, the
//!   Bundle Map included ([`BundleFile::parse`]: the format recognised once, the input parsed
//!   once).
//! - PEM/DER import and export of X.509 authorities: [`X509Bundle::parse_pem`],
//!   [`X509Bundle::to_pem`].

mod bundle_map;
mod bundle_set;
mod diagnostic;
mod error;
mod file;
mod jwk;
mod pem;
mod spiffe_bundle;
mod spki;
mod strict_json;

pub use bundle_map::BundleMap;
pub use bundle_set::{BundleSet, BundleSetEntry};
pub use diagnostic::{KeyDiagnostic, KeyIssue};
pub use error::BundleError;
pub use file::{BundleFile, BundleFormat};
pub use spiffe_bundle::{SpiffeBundle, DEFAULT_REFRESH_HINT};

#[cfg(doc)]
use crate::{JwtBundle, X509Bundle};
