//! X.509-SVIDs (X509-SVID.md): certificate parsing, SVIDs with their keys, X.509 bundles and
//! the verifier.

mod bundle;
mod certificate;
mod error;
mod pem;
mod svid;

pub use bundle::X509Bundle;
pub use certificate::Certificate;
pub use error::X509Error;
pub use pem::parse_certificates;
pub use svid::X509Svid;
