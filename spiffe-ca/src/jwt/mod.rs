//! JWT-SVIDs: the [`JwtSvidIssuer`] that mints them and publishes its public key.

mod issuer;

pub use issuer::JwtSvidIssuer;
