//! What a Workload API server serves: the [`IdentityProvider`] trait and its material.

mod error;
pub mod files;
mod material;

use std::future::Future;
use std::sync::Arc;

use spiffe_attest::workload::CallerInfo;
use spiffe_core::jwt::{JwtSvid, JwtValidationOptions};
use spiffe_core::pki_types::UnixTime;
use spiffe_core::{BundleSet, SpiffeId};
use tokio::sync::watch;

pub use error::ProviderError;
pub use material::{JwtBundles, JwtSvidEntry, X509Context, X509SvidEntry};

/// The identities a Workload API server hands out: given the caller's kernel-attested
/// credentials, its X.509-SVIDs and bundles, JWT-SVIDs on demand, and JWT bundles.
///
/// The server calls the provider again for every open stream whenever [`Self::changes`]
/// notifies, and sends the complete new state (WAPI-6); identical answers are not resent.
pub trait IdentityProvider: Send + Sync + 'static {
    /// The caller's X.509-SVIDs and the X.509 bundles it trusts (own and federated).
    fn x509_context(
        &self,
        caller: &CallerInfo,
    ) -> impl Future<Output = Result<X509Context, ProviderError>> + Send;

    /// JWT-SVIDs for `audience` (never empty): for `spiffe_id` only when given, else one per
    /// identity the caller holds (WAPI-19). Answer [`ProviderError::NotEntitled`] when the
    /// caller does not hold `spiffe_id` (WAPI-20).
    fn jwt_svids(
        &self,
        caller: &CallerInfo,
        audience: &[String],
        spiffe_id: Option<&SpiffeId>,
    ) -> impl Future<Output = Result<Vec<JwtSvidEntry>, ProviderError>> + Send;

    /// The JWT bundles the caller trusts, one per trust domain (WAPI-21).
    fn jwt_bundles(
        &self,
        caller: &CallerInfo,
    ) -> impl Future<Output = Result<JwtBundles, ProviderError>> + Send;

    /// Validates `token` for `audience` exactly as JWT-SVID.md requires (WAPI-22).
    ///
    /// The default validates against [`Self::jwt_bundles`] at the current system time, with no
    /// leeway, using the bundle of the token's own trust domain (WAPI-23).
    fn validate_jwt_svid(
        &self,
        caller: &CallerInfo,
        audience: &str,
        token: &str,
    ) -> impl Future<Output = Result<JwtSvid, ProviderError>> + Send {
        async move {
            let mut set = BundleSet::new();
            for bundle in self.jwt_bundles(caller).await? {
                set.insert_jwt(bundle);
            }
            let options = JwtValidationOptions::new(UnixTime::now());
            JwtSvid::validate(token, &set, &[audience], &options)
                .map_err(ProviderError::InvalidJwtSvid)
        }
    }

    /// A receiver that is notified whenever any answer may have changed (rotation, new
    /// bundles, revoked entries). Streams re-query the provider on each notification.
    fn changes(&self) -> watch::Receiver<()>;
}

impl<P: IdentityProvider> IdentityProvider for Arc<P> {
    fn x509_context(
        &self,
        caller: &CallerInfo,
    ) -> impl Future<Output = Result<X509Context, ProviderError>> + Send {
        (**self).x509_context(caller)
    }

    fn jwt_svids(
        &self,
        caller: &CallerInfo,
        audience: &[String],
        spiffe_id: Option<&SpiffeId>,
    ) -> impl Future<Output = Result<Vec<JwtSvidEntry>, ProviderError>> + Send {
        (**self).jwt_svids(caller, audience, spiffe_id)
    }

    fn jwt_bundles(
        &self,
        caller: &CallerInfo,
    ) -> impl Future<Output = Result<JwtBundles, ProviderError>> + Send {
        (**self).jwt_bundles(caller)
    }

    fn validate_jwt_svid(
        &self,
        caller: &CallerInfo,
        audience: &str,
        token: &str,
    ) -> impl Future<Output = Result<JwtSvid, ProviderError>> + Send {
        (**self).validate_jwt_svid(caller, audience, token)
    }

    fn changes(&self) -> watch::Receiver<()> {
        (**self).changes()
    }
}
