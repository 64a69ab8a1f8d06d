//! Shared fixtures: CAs and SVIDs minted with spiffe-ca, a `StaticProvider` whose material a
//! test can replace, and a server on a temp Unix socket.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
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
use tokio::task::JoinHandle;

pub const DAY: u64 = 86_400;

pub fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

pub fn id(s: &str) -> SpiffeId {
    SpiffeId::new(s).unwrap()
}

/// A self-signed X.509 CA and a JWT signing authority of one trust domain.
pub struct Ca {
    pub x509: X509SvidIssuer,
    pub jwt: JwtSvidIssuer,
}

impl Ca {
    pub fn new(td: &str) -> Self {
        let td = TrustDomain::new(td).unwrap();
        let start = UnixTime::now().as_secs() - DAY;
        let key = Arc::new(SoftwareSigner::generate("ca", KeyType::EcP256).unwrap());
        let x509 = X509SvidIssuer::self_signed(&td, key, at(start), at(start + 20 * DAY)).unwrap();
        let jwt_key = Arc::new(SoftwareSigner::generate("jwt", KeyType::EcP256).unwrap());
        let jwt = JwtSvidIssuer::new(&td, jwt_key, at(start + 20 * DAY)).unwrap();
        Self { x509, jwt }
    }

    pub fn x509_bundle(&self) -> Arc<X509Bundle> {
        Arc::new(X509Bundle::from_authorities(
            self.x509.trust_domain().clone(),
            vec![self.x509.trust_anchor().clone()],
        ))
    }

    pub fn jwt_bundle(&self) -> Arc<JwtBundle> {
        let mut bundle = JwtBundle::new(self.jwt.trust_domain().clone());
        bundle.insert(self.jwt.jwt_authority());
        Arc::new(bundle)
    }

    pub fn svid(&self, spiffe_id: &str) -> Arc<X509Svid> {
        let key = SoftwareSigner::generate("w", KeyType::EcP256).unwrap();
        let request =
            X509SvidRequest::new(id(spiffe_id), key.public_key(), Duration::from_secs(3600));
        let minted = self.x509.mint(&request, UnixTime::now()).unwrap();
        let chain = minted
            .chain()
            .iter()
            .map(|c| Certificate::from_der(c.clone()).unwrap())
            .collect();
        let pkcs8 = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.to_pkcs8().unwrap()));
        Arc::new(X509Svid::from_parts(chain, pkcs8).unwrap())
    }
}

/// What a `StaticProvider` hands out, to every caller alike.
#[derive(Default)]
pub struct Material {
    pub x509: X509Context,
    pub jwt_ids: Vec<SpiffeId>,
    pub jwt_signer: Option<Arc<JwtSvidIssuer>>,
    pub jwt_bundles: JwtBundles,
}

/// A provider with fixed material that a test can replace (notifying open streams).
pub struct StaticProvider {
    material: Mutex<Material>,
    changes: watch::Sender<()>,
    pub callers: Mutex<Vec<CallerInfo>>,
}

impl StaticProvider {
    pub fn new(material: Material) -> Arc<Self> {
        Arc::new(Self {
            material: Mutex::new(material),
            changes: watch::channel(()).0,
            callers: Mutex::new(Vec::new()),
        })
    }

    /// The usual fixture: one SVID of `example.org` (hint `main`), a federated bundle of
    /// `other.org`, JWT-SVIDs for the same ID.
    pub fn example(ca: &Ca, federated: &Ca) -> Arc<Self> {
        Self::new(Material {
            x509: X509Context {
                svids: vec![
                    X509SvidEntry::new(ca.svid("spiffe://example.org/workload")).with_hint("main")
                ],
                bundles: vec![ca.x509_bundle(), federated.x509_bundle()],
            },
            jwt_ids: vec![id("spiffe://example.org/workload")],
            jwt_signer: Some(Arc::new(
                JwtSvidIssuer::new(
                    ca.jwt.trust_domain(),
                    ca.jwt.signer().clone(),
                    ca.jwt.not_after(),
                )
                .unwrap()
                .with_kid(ca.jwt.kid())
                .unwrap(),
            )),
            jwt_bundles: vec![ca.jwt_bundle(), federated.jwt_bundle()],
        })
    }

    pub fn x509(&self) -> X509Context {
        self.material.lock().unwrap().x509.clone()
    }

    pub fn replace(&self, material: Material) {
        *self.material.lock().unwrap() = material;
        self.changes.send_replace(());
    }

    pub fn update(&self, f: impl FnOnce(&mut Material)) {
        f(&mut self.material.lock().unwrap());
        self.changes.send_replace(());
    }
}

impl IdentityProvider for StaticProvider {
    async fn x509_context(&self, caller: &CallerInfo) -> Result<X509Context, ProviderError> {
        self.callers.lock().unwrap().push(*caller);
        let material = self.material.lock().unwrap();
        if material.x509.svids.is_empty() && material.x509.bundles.is_empty() {
            return Err(ProviderError::NoIdentity);
        }
        Ok(material.x509.clone())
    }

    async fn jwt_svids(
        &self,
        _caller: &CallerInfo,
        audience: &[String],
        spiffe_id: Option<&SpiffeId>,
    ) -> Result<Vec<JwtSvidEntry>, ProviderError> {
        let material = self.material.lock().unwrap();
        let Some(signer) = &material.jwt_signer else {
            return Err(ProviderError::NoIdentity);
        };
        if let Some(wanted) = spiffe_id {
            if !material.jwt_ids.contains(wanted) {
                return Err(ProviderError::NotEntitled {
                    spiffe_id: wanted.clone(),
                });
            }
        }
        let audience: Vec<&str> = audience.iter().map(String::as_str).collect();
        material
            .jwt_ids
            .iter()
            .filter(|id| spiffe_id.is_none_or(|wanted| wanted == *id))
            .map(|id| {
                let token = signer
                    .mint(
                        id,
                        &audience,
                        Duration::from_secs(300),
                        &spiffe_core::json::JsonObject::new(),
                        UnixTime::now(),
                    )
                    .map_err(|e| ProviderError::Internal(Box::new(e)))?;
                Ok(JwtSvidEntry {
                    spiffe_id: id.clone(),
                    token,
                    hint: String::new(),
                })
            })
            .collect()
    }

    async fn jwt_bundles(&self, _caller: &CallerInfo) -> Result<JwtBundles, ProviderError> {
        let material = self.material.lock().unwrap();
        if material.jwt_bundles.is_empty() {
            return Err(ProviderError::NoIdentity);
        }
        Ok(material.jwt_bundles.clone())
    }

    fn changes(&self) -> watch::Receiver<()> {
        self.changes.subscribe()
    }
}

/// A server for `provider` on a fresh socket in a temp dir.
pub struct Running {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<Result<(), spiffe_workload::ServeError>>,
}

impl Running {
    pub fn start<P: IdentityProvider>(provider: Arc<P>) -> Self {
        Self::start_server(WorkloadApiServer::new(provider))
    }

    pub fn start_server<P: IdentityProvider>(server: WorkloadApiServer<P>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.serve_unix(listener, async move {
            let _ = stopped.await;
        }));
        Self {
            dir,
            path,
            stop: Some(stop),
            task,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("unix:{}", self.path.display())
    }

    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(5), &mut self.task)
            .await
            .expect("graceful shutdown within 5 s")
            .unwrap()
            .unwrap();
    }
}

/// A raw tonic client on the socket (no security header added).
pub async fn raw_client(
    path: &std::path::Path,
) -> spiffe_workload::proto::spiffe_workload_api_client::SpiffeWorkloadApiClient<
    tonic::transport::Channel,
> {
    let path = path.to_path_buf();
    let channel = tonic::transport::Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
            let path = path.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(path).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
            }
        }))
        .await
        .unwrap();
    spiffe_workload::proto::spiffe_workload_api_client::SpiffeWorkloadApiClient::new(channel)
}

/// A request with the given `workload.spiffe.io` values.
pub fn request<T>(message: T, header: &[&'static str]) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    for value in header {
        request.metadata_mut().append(
            "workload.spiffe.io",
            tonic::metadata::MetadataValue::from_static(value),
        );
    }
    request
}

/// The next stream item, within 5 s.
pub async fn next<S: tokio_stream::Stream + Unpin>(stream: &mut S) -> S::Item {
    use tokio_stream::StreamExt;
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("a message within 5 s")
        .expect("stream open")
}
