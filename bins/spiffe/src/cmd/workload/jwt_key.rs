//! The JWT signing key of `spiffe workload serve --jwt-key`: a PKCS#8 key file turned into a
//! [`JwtSvidMinter`] with spiffe-ca's [`JwtSvidIssuer`] (the provider in spiffe-workload
//! does not depend on spiffe-ca; the CLI joins the two).

use std::sync::Arc;
use std::time::Duration;

use spiffe_ca::jwt::JwtSvidIssuer;
use spiffe_ca::keys::{KeyType, SoftwareSigner};
use spiffe_core::pki_types::{PrivateKeyDer, UnixTime};
use spiffe_core::BoxError;
use spiffe_core::{JwtAuthority, SpiffeId, TrustDomain, X509Svid};
use spiffe_workload::provider::files::{JwtKeyLoader, JwtSvidMinter};

/// The signing key never expires on its own: tokens live `ttl`.
const AUTHORITY_LIFETIME: Duration = Duration::from_secs(100 * 365 * 86_400);

/// Mints with a fixed TTL.
struct CaMinter {
    authority: JwtSvidIssuer,
    ttl: Duration,
}

impl JwtSvidMinter for CaMinter {
    fn jwt_authority(&self) -> JwtAuthority {
        self.authority.jwt_authority()
    }

    fn mint(&self, spiffe_id: &SpiffeId, audience: &[String]) -> Result<String, BoxError> {
        let audience: Vec<&str> = audience.iter().map(String::as_str).collect();
        Ok(self.authority.mint(
            spiffe_id,
            &audience,
            self.ttl,
            &spiffe_core::json::JsonObject::new(),
            UnixTime::now(),
        )?)
    }
}

/// A loader for PKCS#8 keys (PEM `PRIVATE KEY` or DER) of type EC P-256/P-384 or RSA
/// 2048/4096, signing with the key type's default algorithm under `kid`.
pub(super) fn loader(kid: String, ttl: Duration) -> impl JwtKeyLoader {
    move |trust_domain: &TrustDomain, data: &[u8]| -> Result<Arc<dyn JwtSvidMinter>, BoxError> {
        let PrivateKeyDer::Pkcs8(pkcs8) = X509Svid::parse_key(data)? else {
            return Err("the key must be PKCS#8 (PEM `PRIVATE KEY` or DER)".into());
        };
        let signer = [
            KeyType::EcP256,
            KeyType::EcP384,
            KeyType::Rsa2048,
            KeyType::Rsa4096,
        ]
        .into_iter()
        .find_map(|key_type| {
            SoftwareSigner::from_pkcs8("jwt", key_type, pkcs8.secret_pkcs8_der()).ok()
        })
        .ok_or("not an EC P-256/P-384 or RSA 2048/4096 key")?;
        let now = UnixTime::now().as_secs();
        let not_after = UnixTime::since_unix_epoch(Duration::from_secs(
            now.saturating_add(AUTHORITY_LIFETIME.as_secs()),
        ));
        let authority =
            JwtSvidIssuer::new(trust_domain, Arc::new(signer), not_after)?.with_kid(&kid)?;
        Ok(Arc::new(CaMinter { authority, ttl }))
    }
}
