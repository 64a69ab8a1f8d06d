//! # spiffe-core
//!
//! The SPIFFE standards as pure types and checks: SPIFFE IDs and trust domains, X.509-SVIDs
//! and JWT-SVIDs (parse and validate), trust bundles (X.509, JWT, the SPIFFE bundle JSON
//! document, the Bundle Map), bundle sets, and the source traits that other crates implement.
//!
//! No I/O and no async: everything here is a function of its inputs, including the time, which
//! callers pass in. Requirement ids in the docs (`ID-5`, `X509-24`, …) refer to
//! `spec/SPIFFE-CONFORMANCE.md`; `docs/conformance.md` maps each one to code and tests.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod boxed;
pub mod bundle;
mod der;
pub mod id;
pub mod json;
pub mod jwt;
mod matcher;
pub mod source;
pub mod time;
pub mod x509;

pub use boxed::{BoxError, BoxFuture};
pub use bundle::{BundleMap, BundleSet, SpiffeBundle};
pub use id::{IdError, SpiffeId, TrustDomain};
pub use jwt::{JwtAuthority, JwtBundle, JwtSvid, JwtValidationOptions, UnverifiedJwtSvid};
pub use matcher::IdMatcher;
pub use source::{JwtBundleSource, X509BundleSource, X509SvidSource};
pub use x509::{Certificate, VerifiedX509Svid, X509Bundle, X509Svid};

/// The pki-types crate, re-exported: its `CertificateDer`, `PrivateKeyDer` and `UnixTime` are
/// this crate's public vocabulary.
pub use rustls_pki_types as pki_types;
