//! JWT-SVIDs (JWT-SVID.md): JWK authorities, JWT bundles, parsing and validation.

mod authority;
mod bundle;
mod error;

pub use authority::JwtAuthority;
pub use bundle::JwtBundle;
pub use error::JwkError;
