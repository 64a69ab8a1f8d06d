//! An in-memory trust domain for the self-contained hyper and tonic examples: one spiffe-ca
//! authority and an SVID each for a server and a client, so the examples need no files.

use std::sync::Arc;
use std::time::Duration;

use spiffe_ca::keys::{KeyType, Signer, SoftwareSigner};
use spiffe_ca::x509::{X509SvidIssuer, X509SvidRequest};
use spiffe_core::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use spiffe_core::{BundleSet, Certificate, SpiffeId, TrustDomain, X509Bundle, X509Svid};

/// An error message for the user.
pub(crate) type Error = Box<dyn std::error::Error + Send + Sync>;

/// The trust domain of the demos.
pub(crate) const TRUST_DOMAIN: &str = "demo.test";
/// The server's SPIFFE ID.
pub(crate) const SERVER_ID: &str = "spiffe://demo.test/api";
/// The client's SPIFFE ID.
pub(crate) const CLIENT_ID: &str = "spiffe://demo.test/web";

/// A demo trust domain: its bundle and two SVIDs.
pub(crate) struct Pki {
    pub(crate) trust_domain: TrustDomain,
    pub(crate) bundles: Arc<BundleSet>,
    pub(crate) server: Arc<X509Svid>,
    pub(crate) client: Arc<X509Svid>,
}

impl Pki {
    /// Mints a CA valid for a day and one-hour SVIDs for [`SERVER_ID`] and [`CLIENT_ID`].
    pub(crate) fn new() -> Result<Self, Error> {
        let trust_domain = TrustDomain::new(TRUST_DOMAIN)?;
        let now = UnixTime::now().as_secs();
        let key = Arc::new(SoftwareSigner::generate("ca", KeyType::EcP256)?);
        let ca = X509SvidIssuer::self_signed(
            &trust_domain,
            key,
            UnixTime::since_unix_epoch(Duration::from_secs(now - 60)),
            UnixTime::since_unix_epoch(Duration::from_secs(now + 86_400)),
        )?;
        let mut bundles = BundleSet::new();
        bundles.insert_x509(Arc::new(X509Bundle::from_authorities(
            trust_domain.clone(),
            vec![ca.trust_anchor().clone()],
        )));
        Ok(Self {
            server: mint(&ca, SERVER_ID)?,
            client: mint(&ca, CLIENT_ID)?,
            trust_domain,
            bundles: Arc::new(bundles),
        })
    }
}

fn mint(ca: &X509SvidIssuer, spiffe_id: &str) -> Result<Arc<X509Svid>, Error> {
    let key = SoftwareSigner::generate("svid", KeyType::EcP256)?;
    let request = X509SvidRequest::new(
        SpiffeId::new(spiffe_id)?,
        key.public_key(),
        Duration::from_secs(3600),
    );
    let minted = ca.mint(&request, UnixTime::now())?;
    let chain = minted
        .chain()
        .iter()
        .map(|c| Certificate::from_der(c.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.to_pkcs8()?));
    Ok(Arc::new(X509Svid::from_parts(chain, key)?))
}

/// The crypto provider of the demos.
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}
