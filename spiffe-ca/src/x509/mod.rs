//! X.509: the [`X509SvidIssuer`] of a trust domain (self-signed or under an
//! [`UpstreamAuthority`]) and minting X.509-SVIDs from a public key or a PKCS#10 CSR.

mod csr;
pub(crate) mod issuer;
mod profile;
mod request;
pub(crate) mod spki;
mod upstream;

pub use csr::certification_request;
pub use issuer::X509SvidIssuer;
pub use request::{MintedX509Svid, SubjectName, X509SvidRequest};
pub use upstream::{DiskUpstreamAuthority, UpstreamAuthority, UpstreamCa, UpstreamCaRequest};
