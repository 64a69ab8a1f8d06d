//! JWT-SVIDs (JWT-SVID.md): JWK authorities, JWT bundles, parsing and validation.
//!
//! [`JwtSvid::validate`] is the entry point for untrusted tokens; it checks every JWT-* rule of
//! `SPIFFE-CONFORMANCE.md` §1.3 in the recommended order. [`UnverifiedJwtSvid::parse_insecure`]
//! reads a token for inspection without a key or a clock.
//!
//! Policy choices where the standard leaves room:
//! - `kid` is required (JWT-6), as in go-spiffe and SPIRE; keys are never tried one by one.
//! - Every JOSE header parameter besides `alg`, `kid` and `typ` is rejected (JWT-3), not only
//!   the key-naming ones (`jku`, `jwk`, `x5u`, `x5c`, `crit`), and so is a repeated parameter.
//! - `typ` is compared exactly (`JWT` or `JOSE`, JWT-7); a non-string `typ` is rejected.
//! - Lifetimes are whole seconds: `exp` is rounded down and `nbf` up, and a token is valid while
//!   `now < exp + leeway` and `nbf <= now + leeway` (RFC 7519 §4.1.4/5). Leeway defaults to 0.
//! - Tokens over 64 KiB are rejected before decoding.

mod alg;
mod authority;
mod bundle;
mod claims;
mod error;
mod svid;
mod token;

pub use alg::JwtAlg;
pub use authority::JwtAuthority;
pub use bundle::JwtBundle;
pub use error::{HeaderParameter, JwkError, JwtBundleError, JwtSvidError, TokenPart};
pub use svid::{JwtSvid, JwtValidationOptions, UnverifiedJwtSvid};
