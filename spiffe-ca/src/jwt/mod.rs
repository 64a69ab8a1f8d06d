//! JWT-SVIDs: the [`JwtSvidIssuer`] that mints them and publishes its public key, and
//! [`new_jti`] for tokens that carry a unique JWT ID.

mod issuer;
mod jti;

pub use issuer::JwtSvidIssuer;
pub use jti::new_jti;
