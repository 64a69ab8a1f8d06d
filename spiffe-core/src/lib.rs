#![doc = include_str!("../README.md")]
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
