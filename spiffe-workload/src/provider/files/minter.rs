//! JWT-SVID minting for the file provider, supplied from outside the crate.

use std::sync::Arc;

use spiffe_core::{BoxError, JwtAuthority, SpiffeId, TrustDomain};

/// Mints JWT-SVIDs for the provider's SPIFFE ID. Implemented outside this crate (e.g. with
/// `spiffe-ca`'s `JwtSvidIssuer`), so the Workload API crate does not depend on minting.
pub trait JwtSvidMinter: Send + Sync + 'static {
    /// The public key tokens are signed with, published in the JWT bundle of the SVID's trust
    /// domain (its `kid` is the one in every token header).
    fn jwt_authority(&self) -> JwtAuthority;

    /// A JWT-SVID for `spiffe_id` and `audience` (never empty).
    fn mint(&self, spiffe_id: &SpiffeId, audience: &[String]) -> Result<String, BoxError>;
}

/// Turns the bytes of the JWT key file into a [`JwtSvidMinter`] for `trust_domain` (the SVID's);
/// called at load and on every change of the file. Closures of that shape implement it.
pub trait JwtKeyLoader: Send + Sync + 'static {
    /// Loads the key in `key_file`.
    fn load(
        &self,
        trust_domain: &TrustDomain,
        key_file: &[u8],
    ) -> Result<Arc<dyn JwtSvidMinter>, BoxError>;
}

impl<F> JwtKeyLoader for F
where
    F: Fn(&TrustDomain, &[u8]) -> Result<Arc<dyn JwtSvidMinter>, BoxError> + Send + Sync + 'static,
{
    fn load(
        &self,
        trust_domain: &TrustDomain,
        key_file: &[u8],
    ) -> Result<Arc<dyn JwtSvidMinter>, BoxError> {
        self(trust_domain, key_file)
    }
}
