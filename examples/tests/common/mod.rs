//! A Workload API in the test process: one trust domain minted with spiffe-ca, and one Unix
//! socket per identity, each serving that identity's X.509-SVID, JWT-SVIDs and the trust
//! domain's bundles, as an agent serves each workload its own.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

pub mod process;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use spiffe_ca::jwt::JwtSvidIssuer;
use spiffe_ca::keys::{KeyType, Signer, SoftwareSigner};
use spiffe_ca::x509::{X509SvidIssuer, X509SvidRequest};
use spiffe_core::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use spiffe_core::{Certificate, JwtBundle, SpiffeId, TrustDomain, X509Bundle, X509Svid};
use spiffe_workload::{
    CallerInfo, IdentityProvider, JwtBundles, JwtSvidEntry, ProviderError, WorkloadApiServer,
    X509Context, X509SvidEntry,
};
use tokio::net::UnixListener;
use tokio::sync::{oneshot, watch};

const DAY: u64 = 86_400;

fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

/// The X.509 CA and the JWT signing key of one trust domain.
pub struct TrustDomainCa {
    x509: X509SvidIssuer,
    jwt: Arc<JwtSvidIssuer>,
}

impl TrustDomainCa {
    pub fn new(trust_domain: &str) -> Self {
        let td = TrustDomain::new(trust_domain).unwrap();
        let start = UnixTime::now().as_secs() - DAY;
        let key = Arc::new(SoftwareSigner::generate("ca", KeyType::EcP256).unwrap());
        let x509 = X509SvidIssuer::self_signed(&td, key, at(start), at(start + 20 * DAY)).unwrap();
        let jwt_key = Arc::new(SoftwareSigner::generate("jwt", KeyType::EcP256).unwrap());
        let jwt = JwtSvidIssuer::new(&td, jwt_key, at(start + 20 * DAY)).unwrap();
        Self {
            x509,
            jwt: Arc::new(jwt),
        }
    }

    fn x509_bundle(&self) -> Arc<X509Bundle> {
        Arc::new(X509Bundle::from_authorities(
            self.x509.trust_domain().clone(),
            vec![self.x509.trust_anchor().clone()],
        ))
    }

    fn jwt_bundle(&self) -> Arc<JwtBundle> {
        let mut bundle = JwtBundle::new(self.jwt.trust_domain().clone());
        bundle.insert(self.jwt.jwt_authority());
        Arc::new(bundle)
    }

    fn svid(&self, spiffe_id: &SpiffeId) -> Arc<X509Svid> {
        let key = SoftwareSigner::generate("w", KeyType::EcP256).unwrap();
        let request = X509SvidRequest::new(
            spiffe_id.clone(),
            key.public_key(),
            Duration::from_secs(3600),
        );
        let minted = self.x509.mint(&request, UnixTime::now()).unwrap();
        let chain = minted
            .chain()
            .iter()
            .map(|c| Certificate::from_der(c.clone()).unwrap())
            .collect();
        let pkcs8 = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.to_pkcs8().unwrap()));
        Arc::new(X509Svid::from_parts(chain, pkcs8).unwrap())
    }

    /// Serves `spiffe_id` on a new socket in `dir`; the server stops when the value is dropped.
    pub fn serve(&self, dir: &std::path::Path, spiffe_id: &str) -> Workload {
        let spiffe_id = SpiffeId::new(spiffe_id).unwrap();
        let provider = Arc::new(OneIdentity {
            context: X509Context {
                svids: vec![X509SvidEntry::new(self.svid(&spiffe_id))],
                bundles: vec![self.x509_bundle()],
            },
            jwt: self.jwt.clone(),
            jwt_bundles: vec![self.jwt_bundle()],
            spiffe_id: spiffe_id.clone(),
            changes: watch::channel(()).0,
        });
        let file = spiffe_id.path().trim_start_matches('/').replace('/', "-");
        let path = dir.join(format!("{file}.sock"));
        let listener = UnixListener::bind(&path).unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(
            WorkloadApiServer::new(provider).serve_unix(listener, async move {
                let _ = stopped.await;
            }),
        );
        Workload { path, _stop: stop }
    }
}

/// A Workload API socket serving one identity.
pub struct Workload {
    path: PathBuf,
    _stop: oneshot::Sender<()>,
}

impl Workload {
    /// The value for `SPIFFE_ENDPOINT_SOCKET`.
    pub fn endpoint(&self) -> String {
        format!("unix://{}", self.path.display())
    }
}

/// Every caller of this socket is the one workload.
struct OneIdentity {
    context: X509Context,
    jwt: Arc<JwtSvidIssuer>,
    jwt_bundles: JwtBundles,
    spiffe_id: SpiffeId,
    changes: watch::Sender<()>,
}

impl IdentityProvider for OneIdentity {
    async fn x509_context(&self, _caller: &CallerInfo) -> Result<X509Context, ProviderError> {
        Ok(self.context.clone())
    }

    async fn jwt_svids(
        &self,
        _caller: &CallerInfo,
        audience: &[String],
        spiffe_id: Option<&SpiffeId>,
    ) -> Result<Vec<JwtSvidEntry>, ProviderError> {
        if let Some(wanted) = spiffe_id.filter(|id| **id != self.spiffe_id) {
            return Err(ProviderError::NotEntitled {
                spiffe_id: wanted.clone(),
            });
        }
        let audience: Vec<&str> = audience.iter().map(String::as_str).collect();
        let token = self
            .jwt
            .mint(
                &self.spiffe_id,
                &audience,
                Duration::from_secs(300),
                &spiffe_core::json::JsonObject::new(),
                UnixTime::now(),
            )
            .map_err(|e| ProviderError::Internal(Box::new(e)))?;
        Ok(vec![JwtSvidEntry {
            spiffe_id: self.spiffe_id.clone(),
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
