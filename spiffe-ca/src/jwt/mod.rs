//! JWT-SVIDs: the [`JwtSigningAuthority`] that mints them and publishes its public key.

mod authority;

pub use authority::JwtSigningAuthority;
