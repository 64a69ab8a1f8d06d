//! The bench's identity provider: a fixed X.509 context that `rotate` swaps, and JWT-SVIDs
//! minted per request with a real ES256 signer.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use spiffe_ca::jwt::JwtSvidIssuer;
use spiffe_ca::keys::{KeyType, Signer, SoftwareSigner};
use spiffe_ca::x509::{X509SvidIssuer, X509SvidRequest};
use spiffe_core::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use spiffe_core::{Certificate, SpiffeId, TrustDomain, X509Bundle, X509Svid};
use spiffe_workload::{
    CallerInfo, IdentityProvider, JwtBundles, JwtSvidEntry, ProviderError, X509Context,
    X509SvidEntry,
};
use tokio::sync::watch;

/// Fixed material: an SVID, its bundle and a federated one; `rotate` swaps to the other SVID.
pub(crate) struct BenchProvider {
    contexts: [X509Context; 2],
    current: Mutex<usize>,
    pub(crate) jwt: JwtSvidIssuer,
    pub(crate) jwt_id: SpiffeId,
    jwt_bundles: JwtBundles,
    changes: watch::Sender<()>,
}

impl BenchProvider {
    pub(crate) fn rotate(&self) {
        let mut current = self.current.lock().unwrap();
        *current = 1 - *current;
        drop(current);
        self.changes.send_replace(());
    }
}

impl IdentityProvider for BenchProvider {
    async fn x509_context(&self, _caller: &CallerInfo) -> Result<X509Context, ProviderError> {
        let current = *self.current.lock().unwrap();
        Ok(self.contexts[current].clone())
    }

    async fn jwt_svids(
        &self,
        _caller: &CallerInfo,
        audience: &[String],
        _spiffe_id: Option<&SpiffeId>,
    ) -> Result<Vec<JwtSvidEntry>, ProviderError> {
        let audience: Vec<&str> = audience.iter().map(String::as_str).collect();
        // A real ES256 signature per request.
        let token = self
            .jwt
            .mint(
                &self.jwt_id,
                &audience,
                Duration::from_secs(300),
                &spiffe_core::json::JsonObject::new(),
                UnixTime::now(),
            )
            .map_err(|e| ProviderError::Internal(Box::new(e)))?;
        Ok(vec![JwtSvidEntry {
            spiffe_id: self.jwt_id.clone(),
            token,
            hint: String::new(),
        }])
    }

    async fn jwt_bundles(&self, _caller: &CallerInfo) -> Result<JwtBundles, ProviderError> {
        Ok(self.jwt_bundles.clone())
    }

    fn changes(&self) -> watch::Receiver<()> {
        self.changes.subscribe()
    }
}

fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

fn x509_authority(td: &TrustDomain) -> X509SvidIssuer {
    let start = UnixTime::now().as_secs() - 86_400;
    let key = Arc::new(SoftwareSigner::generate("ca", KeyType::EcP256).unwrap());
    X509SvidIssuer::self_signed(td, key, at(start), at(start + 20 * 86_400)).unwrap()
}

fn bundle(ca: &X509SvidIssuer) -> Arc<X509Bundle> {
    Arc::new(X509Bundle::from_authorities(
        ca.trust_domain().clone(),
        vec![ca.trust_anchor().clone()],
    ))
}

fn svid(ca: &X509SvidIssuer, spiffe_id: &SpiffeId) -> Arc<X509Svid> {
    let key = SoftwareSigner::generate("w", KeyType::EcP256).unwrap();
    let request = X509SvidRequest::new(
        spiffe_id.clone(),
        key.public_key(),
        Duration::from_secs(3600),
    );
    let minted = ca.mint(&request, UnixTime::now()).unwrap();
    let chain = minted
        .chain()
        .iter()
        .map(|c| Certificate::from_der(c.clone()).unwrap())
        .collect();
    let pkcs8 = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.to_pkcs8().unwrap()));
    Arc::new(X509Svid::from_parts(chain, pkcs8).unwrap())
}

pub(crate) fn bench_provider() -> Arc<BenchProvider> {
    let td = TrustDomain::new("example.org").unwrap();
    let ca = x509_authority(&td);
    let federated = x509_authority(&TrustDomain::new("other.org").unwrap());
    let id = SpiffeId::new("spiffe://example.org/workload").unwrap();
    let context = |svid| X509Context {
        svids: vec![X509SvidEntry::new(svid)],
        bundles: vec![bundle(&ca), bundle(&federated)],
    };
    let jwt_key = Arc::new(SoftwareSigner::generate("jwt", KeyType::EcP256).unwrap());
    let not_after = at(UnixTime::now().as_secs() + 20 * 86_400);
    let jwt = JwtSvidIssuer::new(&td, jwt_key, not_after).unwrap();
    let mut jwt_bundle = spiffe_core::JwtBundle::new(td.clone());
    jwt_bundle.insert(jwt.jwt_authority());
    Arc::new(BenchProvider {
        contexts: [context(svid(&ca, &id)), context(svid(&ca, &id))],
        current: Mutex::new(0),
        jwt,
        jwt_id: id,
        jwt_bundles: vec![Arc::new(jwt_bundle)],
        changes: watch::channel(()).0,
    })
}
