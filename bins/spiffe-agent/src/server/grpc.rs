//! [`GrpcServerClient`]: the [`ServerClient`] over SPIRE's server API (`spire.api.server.*.v1`)
//! on an mTLS channel authenticated with the agent SVID.
//!
//! `SyncAuthorizedEntries` follows SPIRE's protocol: the agent opens the stream with an empty
//! request; the server answers with every authorized entry in full when there are few, or
//! with pages of (id, revision, creation time); the agent then asks for the entries it lacks
//! or holds stale, by id, in chunks, and reads each answer's pages; then it closes the stream.

use std::sync::Arc;
use std::time::Duration;

use spiffe_attest::EntryId;
use spiffe_core::pki_types::{CertificateDer, UnixTime};
use spiffe_core::{Certificate, TrustDomain};
use spire_api_proto::convert::{bundle_from_proto, entry_from_proto, spiffe_id_from_proto};
use spire_api_proto::server::bundle::v1::bundle_client::BundleClient;
use spire_api_proto::server::bundle::v1::{GetBundleRequest, GetFederatedBundleRequest};
use spire_api_proto::server::entry::v1::entry_client::EntryClient;
use spire_api_proto::server::entry::v1::{
    SyncAuthorizedEntriesRequest, SyncAuthorizedEntriesResponse,
};
use spire_api_proto::server::svid::v1::svid_client::SvidClient;
use spire_api_proto::server::svid::v1::{
    BatchNewX509svidRequest, NewJwtsvidRequest, NewX509svidParams,
};
use spire_api_proto::types;
use tokio::time::Instant;
use tonic::transport::Channel;

use super::{
    AuthorizedEntries, BoxFuture, EntryRevision, KnownRevisions, MintedJwtSvid, ServerBundle,
    ServerClient, ServerError, SignedX509Svid, SvidFailure, X509SvidParams,
};
use crate::node::{AgentStore, TrustBundle};

/// Entry ids asked for in one `SyncAuthorizedEntries` request.
const IDS_PER_REQUEST: usize = 1000;
/// The longest a unary call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How soon after one replacement a timed-out call may replace the channel again (calls that
/// time out together on one dead connection replace it once).
const MIN_REPLACE_INTERVAL: Duration = Duration::from_secs(5);

/// Builds a new channel (new connections) to replace one whose call timed out.
type Reconnect = Arc<dyn Fn() -> Option<Channel> + Send + Sync>;

/// A channel that can be replaced. After the agent SVID is renewed, calls must go over new
/// connections (an established TLS connection keeps the certificate of its handshake, which
/// the server refuses once it expires). And after a call timed out ([`Self::timed_out`]): a
/// connection that went silent (a dropped NAT mapping, a server host gone without a reset)
/// would otherwise take every later call down with it until the HTTP/2 keepalive noticed,
/// minutes later. Calls in flight keep their connection.
#[derive(Clone)]
pub struct SharedChannel {
    current: Arc<std::sync::RwLock<(Channel, Instant)>>,
    reconnect: Option<Reconnect>,
}

impl std::fmt::Debug for SharedChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedChannel")
            .field("reconnects", &self.reconnect.is_some())
            .finish_non_exhaustive()
    }
}

impl SharedChannel {
    /// Holds `channel`.
    pub fn new(channel: Channel) -> Self {
        Self {
            current: Arc::new(std::sync::RwLock::new((channel, Instant::now()))),
            reconnect: None,
        }
    }

    /// Replaces the channel with one from `reconnect` when a call times out.
    pub fn with_reconnect(
        mut self,
        reconnect: impl Fn() -> Option<Channel> + Send + Sync + 'static,
    ) -> Self {
        self.reconnect = Some(Arc::new(reconnect));
        self
    }

    /// The current channel.
    pub fn get(&self) -> Channel {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .clone()
    }

    /// Replaces the channel for the calls that follow.
    pub fn set(&self, channel: Channel) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = (channel, Instant::now());
    }

    /// A call on the current channel timed out: the calls that follow get a new one (new
    /// connections), unless it was replaced moments ago.
    pub fn timed_out(&self) {
        let Some(reconnect) = &self.reconnect else {
            return;
        };
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        if current.1.elapsed() < MIN_REPLACE_INTERVAL {
            return;
        }
        if let Some(channel) = reconnect() {
            tracing::warn!("A call to the server timed out; later calls use a new connection");
            *current = (channel, Instant::now());
        }
    }
}

/// The server over gRPC. Every bundle of the agent's own trust domain it reads also updates
/// the agent's TLS trust ([`TrustBundle`]) and, when it changed, `bundle.pem` in `data_dir`.
#[derive(Debug, Clone)]
pub struct GrpcServerClient {
    channel: SharedChannel,
    trust_domain: TrustDomain,
    trust: Option<(Arc<TrustBundle>, AgentStore)>,
}

impl GrpcServerClient {
    /// A client on `channel` (mTLS with the agent SVID) for the agent of `trust_domain`.
    pub fn new(channel: SharedChannel, trust_domain: TrustDomain) -> Self {
        Self {
            channel,
            trust_domain,
            trust: None,
        }
    }

    /// Keeps `trust` (and the bundle file of `store`) current with every own bundle read.
    pub fn with_trust(mut self, trust: Arc<TrustBundle>, store: AgentStore) -> Self {
        self.trust = Some((trust, store));
        self
    }

    async fn sync(&self, known: &KnownRevisions) -> Result<AuthorizedEntries, ServerError> {
        let (tx, rx) = tokio::sync::mpsc::channel::<SyncAuthorizedEntriesRequest>(4);
        tx.send(SyncAuthorizedEntriesRequest::default())
            .await
            .map_err(|_| ServerError::unreachable("request stream closed"))?;
        // Opening the stream waits for the server's response headers: bounded like a page.
        let mut stream = self
            .bounded(
                "entry sync timed out",
                EntryClient::new(self.channel.get())
                    .sync_authorized_entries(tokio_stream::wrappers::ReceiverStream::new(rx)),
            )
            .await?
            .map_err(status_error)?
            .into_inner();
        let mut revisions = Vec::new();
        let mut entries = Vec::new();
        let mut full = Vec::new();
        // The first answer, in pages.
        loop {
            let page = self.next_page(&mut stream).await?;
            read_page(&page, &mut revisions, &mut full)?;
            if !page.more {
                break;
            }
        }
        if revisions.is_empty() {
            // Every entry in full.
            revisions = full.iter().map(EntryRevision::of).collect();
            drop(tx);
            return Ok(AuthorizedEntries::new(revisions, full));
        }
        entries.append(&mut full);
        let have: std::collections::HashSet<String> =
            entries.iter().map(|e| e.id().as_str().to_owned()).collect();
        let wanted: Vec<String> = revisions
            .iter()
            .filter(|r| !known.is_current(r) && !have.contains(r.id.as_str()))
            .map(|r| r.id.as_str().to_owned())
            .collect();
        for chunk in wanted.chunks(IDS_PER_REQUEST) {
            tx.send(SyncAuthorizedEntriesRequest {
                output_mask: None,
                ids: chunk.to_vec(),
            })
            .await
            .map_err(|_| ServerError::unreachable("request stream closed"))?;
            loop {
                let page = self.next_page(&mut stream).await?;
                let mut ignored = Vec::new();
                read_page(&page, &mut ignored, &mut entries)?;
                if !page.more {
                    break;
                }
            }
        }
        drop(tx);
        Ok(AuthorizedEntries::new(revisions, entries))
    }

    /// `call` within [`CALL_TIMEOUT`], or `what` as an unreachable server; a call that runs out
    /// replaces the channel for the calls that follow ([`SharedChannel::timed_out`]).
    async fn bounded<T>(
        &self,
        what: &'static str,
        call: impl std::future::Future<Output = T>,
    ) -> Result<T, ServerError> {
        tokio::time::timeout(CALL_TIMEOUT, call).await.map_err(|_| {
            self.channel.timed_out();
            ServerError::unreachable(what)
        })
    }

    async fn next_page(
        &self,
        stream: &mut tonic::Streaming<SyncAuthorizedEntriesResponse>,
    ) -> Result<SyncAuthorizedEntriesResponse, ServerError> {
        self.bounded("entry sync timed out", stream.message())
            .await?
            .map_err(status_error)?
            .ok_or(ServerError::Malformed {
                what: "the entry sync stream ended early",
            })
    }

    fn note_bundle(&self, bundle: &ServerBundle) {
        let Some((trust, store)) = &self.trust else {
            return;
        };
        if bundle.trust_domain() != &self.trust_domain || bundle.x509().is_empty() {
            return;
        }
        if trust.set(bundle.x509().clone()) {
            if let Err(e) = store.save_bundle(bundle.x509()) {
                tracing::warn!(error = %e, "Unable to store the trust bundle");
            }
        }
    }
}

fn read_page(
    page: &SyncAuthorizedEntriesResponse,
    revisions: &mut Vec<EntryRevision>,
    entries: &mut Vec<spiffe_attest::RegistrationEntry>,
) -> Result<(), ServerError> {
    for r in &page.entry_revisions {
        let id = EntryId::new(&r.id).map_err(|_| ServerError::Malformed {
            what: "an entry revision has an invalid id",
        })?;
        let created_at = (r.created_at > 0)
            .then(|| UnixTime::since_unix_epoch(Duration::from_secs(r.created_at as u64)));
        revisions.push(EntryRevision::new(
            id,
            u64::try_from(r.revision_number).unwrap_or(0),
            created_at,
        ));
    }
    for e in &page.entries {
        entries.push(entry_from_proto(e).map_err(|_| ServerError::Malformed {
            what: "an entry does not convert",
        })?);
    }
    Ok(())
}

fn status_error(status: tonic::Status) -> ServerError {
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::DeadlineExceeded => {
            ServerError::Unreachable(Box::new(status))
        }
        code => ServerError::Status {
            code: code as i32,
            message: status.message().to_owned(),
        },
    }
}

fn server_bundle(bundle: &types::Bundle) -> Result<ServerBundle, ServerError> {
    let api = bundle_from_proto(bundle).map_err(|_| ServerError::Malformed {
        what: "a bundle does not convert",
    })?;
    let sequence = api.bundle.sequence().unwrap_or(0);
    let (x509, jwt) = api.bundle.into_parts();
    let tainted: Vec<Certificate> = x509
        .authorities()
        .iter()
        .filter(|c| api.tainted_x509.contains(c.der()))
        .cloned()
        .collect();
    let mut out = ServerBundle::new(x509, jwt).with_sequence_number(sequence);
    for authority in tainted {
        out = out.with_tainted_x509(authority);
    }
    for (kid, state) in &api.jwt_states {
        if state.tainted {
            out = out.with_tainted_jwt(kid.clone());
        }
    }
    Ok(out)
}

impl ServerClient for GrpcServerClient {
    fn sync_authorized_entries<'a>(
        &'a self,
        known: &'a KnownRevisions,
    ) -> BoxFuture<'a, Result<AuthorizedEntries, ServerError>> {
        Box::pin(self.sync(known))
    }

    fn batch_new_x509_svid<'a>(
        &'a self,
        params: &'a [X509SvidParams],
    ) -> BoxFuture<'a, Result<Vec<SignedX509Svid>, ServerError>> {
        Box::pin(async move {
            let request = BatchNewX509svidRequest {
                params: params
                    .iter()
                    .map(|p| NewX509svidParams {
                        entry_id: p.entry_id.as_str().to_owned(),
                        csr: p.csr.as_ref().to_vec(),
                    })
                    .collect(),
            };
            let response = self
                .bounded(
                    "BatchNewX509SVID timed out",
                    SvidClient::new(self.channel.get()).batch_new_x509svid(request),
                )
                .await?
                .map_err(status_error)?
                .into_inner();
            if response.results.len() != params.len() {
                return Err(ServerError::Malformed {
                    what:
                        "BatchNewX509SVID returned a result count that does not match the request",
                });
            }
            Ok(response
                .results
                .into_iter()
                .map(|result| {
                    let status = result.status.unwrap_or_default();
                    if status.code != 0 {
                        return Err(SvidFailure::new(status.code, status.message));
                    }
                    match result.svid {
                        Some(svid) if !svid.cert_chain.is_empty() => Ok(svid
                            .cert_chain
                            .into_iter()
                            .map(CertificateDer::from)
                            .collect()),
                        _ => Err(SvidFailure::new(13, "the server returned no SVID")),
                    }
                })
                .collect())
        })
    }

    fn new_jwt_svid<'a>(
        &'a self,
        entry_id: &'a EntryId,
        audience: &'a [String],
    ) -> BoxFuture<'a, Result<MintedJwtSvid, ServerError>> {
        Box::pin(async move {
            let response = self
                .bounded(
                    "NewJWTSVID timed out",
                    SvidClient::new(self.channel.get()).new_jwtsvid(NewJwtsvidRequest {
                        entry_id: entry_id.as_str().to_owned(),
                        audience: audience.to_vec(),
                    }),
                )
                .await?
                .map_err(status_error)?
                .into_inner();
            let svid = response.svid.ok_or(ServerError::Malformed {
                what: "NewJWTSVID returned no SVID",
            })?;
            let id = svid
                .id
                .as_ref()
                .ok_or(ServerError::Malformed {
                    what: "NewJWTSVID returned no SPIFFE ID",
                })
                .and_then(|id| {
                    spiffe_id_from_proto(id).map_err(|_| ServerError::Malformed {
                        what: "NewJWTSVID returned an invalid SPIFFE ID",
                    })
                })?;
            let time =
                |secs: i64| UnixTime::since_unix_epoch(Duration::from_secs(secs.max(0) as u64));
            Ok(MintedJwtSvid::new(
                svid.token,
                id,
                time(svid.issued_at),
                time(svid.expires_at),
            ))
        })
    }

    fn get_bundle(&self) -> BoxFuture<'_, Result<ServerBundle, ServerError>> {
        Box::pin(async move {
            let response = self
                .bounded(
                    "GetBundle timed out",
                    BundleClient::new(self.channel.get()).get_bundle(GetBundleRequest::default()),
                )
                .await?
                .map_err(status_error)?
                .into_inner();
            let bundle = server_bundle(&response)?;
            if bundle.trust_domain() != &self.trust_domain {
                return Err(ServerError::Malformed {
                    what: "GetBundle returned the bundle of another trust domain",
                });
            }
            self.note_bundle(&bundle);
            Ok(bundle)
        })
    }

    fn get_federated_bundles<'a>(
        &'a self,
        trust_domains: &'a [TrustDomain],
    ) -> BoxFuture<'a, Result<Vec<ServerBundle>, ServerError>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for td in trust_domains {
                let response = self
                    .bounded(
                        "GetFederatedBundle timed out",
                        BundleClient::new(self.channel.get()).get_federated_bundle(
                            GetFederatedBundleRequest {
                                trust_domain: td.as_str().to_owned(),
                                output_mask: None,
                            },
                        ),
                    )
                    .await?;
                match response {
                    Ok(bundle) => {
                        let bundle = server_bundle(bundle.get_ref())?;
                        if bundle.trust_domain() == td {
                            out.push(bundle);
                        }
                    }
                    Err(status) if status.code() == tonic::Code::NotFound => {}
                    Err(status) => return Err(status_error(status)),
                }
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn lazy_channel() -> Channel {
        tonic::transport::Endpoint::from_static("http://127.0.0.1:9").connect_lazy()
    }

    /// A timed-out call replaces the channel, once for calls that time out together, and not
    /// without a way to reconnect.
    #[tokio::test(start_paused = true)]
    async fn a_timed_out_call_replaces_the_channel_at_most_every_few_seconds() {
        let made = Arc::new(AtomicUsize::new(0));
        let shared = SharedChannel::new(lazy_channel()).with_reconnect({
            let made = made.clone();
            move || {
                made.fetch_add(1, Ordering::SeqCst);
                Some(lazy_channel())
            }
        });
        // Just made: a timeout now is the fresh channel's own.
        shared.timed_out();
        assert_eq!(made.load(Ordering::SeqCst), 0);
        tokio::time::advance(MIN_REPLACE_INTERVAL).await;
        shared.timed_out();
        shared.timed_out();
        assert_eq!(made.load(Ordering::SeqCst), 1, "replaced once");
        tokio::time::advance(MIN_REPLACE_INTERVAL).await;
        shared.timed_out();
        assert_eq!(made.load(Ordering::SeqCst), 2);
        // A renewal's replacement counts too.
        tokio::time::advance(MIN_REPLACE_INTERVAL).await;
        shared.set(lazy_channel());
        shared.timed_out();
        assert_eq!(made.load(Ordering::SeqCst), 2);

        let fixed = SharedChannel::new(lazy_channel());
        tokio::time::advance(MIN_REPLACE_INTERVAL).await;
        fixed.timed_out();
    }
}
