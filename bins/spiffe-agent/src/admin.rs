//! The admin socket (`admin_socket_path`): SPIRE's Delegated Identity API
//! (`spire.api.agent.delegatedidentity.v1.DelegatedIdentity`), the agent's Debug API
//! (`spire.agent.debug.v1.Debug`) and its Logger API (`spire.api.agent.logger.v1.Logger`,
//! [`daemon_telemetry::LoggerService`] over the process's logger). As SPIRE, the Debug and
//! Logger APIs exist only there: without `admin_socket_path`, `debug getinfo` and `logger`
//! have nothing to talk to.
//!
//! Delegated Identity lets a trusted node-level component (a CNI, a mesh's node proxy, a CSI
//! driver) obtain the identities of other workloads, named by their selectors or by their pid.
//! Every call attests the caller as the Workload API does (its peer credentials through the
//! configured workload attestors); the caller is a delegate when one of the entries its
//! selectors match has a SPIFFE ID listed in `authorized_delegates`. Anyone else gets
//! PERMISSION_DENIED ("no identity issued" when nothing matches it at all, as SPIRE). Streams
//! check again on every change, so a delegate whose entry is deleted is cut off.
//!
//! The Debug and Logger APIs answer anyone who can open the socket (protect it with file permissions, as
//! SPIRE's admin socket).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use daemon_telemetry::{LogHandle, LoggerService};
use spiffe_core::{SpiffeId, X509Svid};
use spiffe_workload::{CallerInfo, ProviderError};
use spire_api_proto::agent::debug::v1 as debug;
use spire_api_proto::agent::delegatedidentity::v1 as delegated;
use spire_api_proto::convert::{selector_from_proto, spiffe_id_to_proto};
use spire_api_proto::types;
use tokio::net::UnixListener;
use tokio::sync::mpsc;
use tonic::codegen::BoxStream;
use tonic::transport::server::UdsConnectInfo;
use tonic::{Request, Response, Status};

use crate::manager::AgentManager;
use crate::workload::{AgentIdentityProvider, Answer, SelectorSet};

/// What the admin services share.
#[derive(Clone)]
pub struct AdminApi {
    provider: Arc<AgentIdentityProvider>,
    delegates: Arc<HashSet<SpiffeId>>,
    agent_svid: Arc<dyn Fn() -> Arc<X509Svid> + Send + Sync>,
    started: Instant,
    logger: Option<LoggerService>,
}

impl std::fmt::Debug for AdminApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminApi")
            .field("delegates", &self.delegates)
            .finish_non_exhaustive()
    }
}

fn status(error: ProviderError) -> Status {
    match error {
        ProviderError::NoIdentity | ProviderError::NotEntitled { .. } => {
            Status::permission_denied("no identity issued")
        }
        ProviderError::Unavailable => Status::unavailable("workload attestation failed"),
        _ => Status::internal("identity provider failed"),
    }
}

// === impl AdminApi ===

impl AdminApi {
    /// The admin API over `provider`'s cache, authorizing `delegates`; `agent_svid` reads the
    /// agent's current SVID (for `GetInfo`).
    pub fn new(
        provider: Arc<AgentIdentityProvider>,
        delegates: impl IntoIterator<Item = SpiffeId>,
        agent_svid: Arc<dyn Fn() -> Arc<X509Svid> + Send + Sync>,
    ) -> Self {
        Self {
            provider,
            delegates: Arc::new(delegates.into_iter().collect()),
            agent_svid,
            started: Instant::now(),
            logger: None,
        }
    }

    /// Serves the Logger API over `log` too (when given).
    pub fn with_logger(mut self, log: Option<LogHandle>) -> Self {
        self.logger = log.map(LoggerService::new);
        self
    }

    fn manager(&self) -> &AgentManager {
        self.provider.manager()
    }

    /// Serves the services on `listener` until `shutdown`.
    pub async fn serve(
        self,
        listener: UnixListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), tonic::transport::Error> {
        let incoming = tokio_stream::wrappers::UnixListenerStream::new(listener);
        let logger = self.logger.clone().map(LoggerService::agent_service);
        tonic::transport::Server::builder()
            .add_service(
                delegated::delegated_identity_server::DelegatedIdentityServer::new(self.clone()),
            )
            .add_service(debug::debug_server::DebugServer::new(self))
            .add_optional_service(logger)
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await
    }

    /// The caller's kernel credentials.
    fn caller<T>(request: &Request<T>) -> Result<CallerInfo, Status> {
        let cred = request
            .extensions()
            .get::<UdsConnectInfo>()
            .and_then(|info| info.peer_cred)
            .ok_or_else(|| Status::unavailable("workload attestation failed"))?;
        let pid = cred
            .pid()
            .ok_or_else(|| Status::unavailable("workload attestation failed"))?;
        let start_time = spiffe_attest::workload::unix::process_start_time(pid)
            .map_err(|_| Status::unavailable("workload attestation failed"))?;
        Ok(CallerInfo::new(Some(pid), cred.uid(), cred.gid()).with_start_time(start_time))
    }

    /// Whether `caller` is an authorized delegate (one of its entries' SPIFFE IDs is listed).
    async fn authorize(&self, caller: &CallerInfo) -> Result<(), Status> {
        let answer = self.provider.caller_answer(caller).await.map_err(status)?;
        if answer.view.is_empty() {
            tracing::warn!(caller = %caller, "Delegated Identity caller has no identity");
            return Err(Status::permission_denied("no identity issued"));
        }
        let authorized = answer
            .view
            .identities
            .iter()
            .any(|identity| self.delegates.contains(identity.entry.spiffe_id()));
        if !authorized {
            tracing::warn!(
                caller = %caller,
                default_id = %answer.view.identities[0].entry.spiffe_id(),
                "Permission denied; caller not configured as an authorized delegate"
            );
            return Err(Status::permission_denied(
                "caller not configured as an authorized delegate",
            ));
        }
        Ok(())
    }

    /// The workload a delegate names: selectors or a pid, exactly one of them.
    async fn subject(
        &self,
        selectors: &[types::Selector],
        pid: i32,
    ) -> Result<Arc<SelectorSet>, Status> {
        match (selectors.is_empty(), pid) {
            (false, 0) => {
                let selectors = selectors
                    .iter()
                    .map(selector_from_proto)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| Status::invalid_argument("could not parse provided selectors"))?;
                Ok(self.provider.selectors_set(selectors))
            }
            (true, pid) if pid != 0 => self.provider.pid_set(pid).await.map_err(|error| {
                tracing::warn!(pid, error = %error, "Delegated workload attestation failed");
                Status::unavailable("workload attestation failed")
            }),
            _ => Err(Status::invalid_argument(
                "must provide either selectors or non-zero PID, but not both",
            )),
        }
    }

    /// A stream task: sends `message()` now and whenever the cache changes and it differs,
    /// while the caller stays authorized.
    fn stream<T, F, Fut>(&self, caller: CallerInfo, message: F) -> BoxStream<T>
    where
        T: PartialEq + Clone + Send + 'static,
        F: Fn(AdminApi) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, Status>> + Send,
    {
        let (tx, rx) = mpsc::channel(2);
        let api = self.clone();
        tokio::spawn(async move {
            let mut changes = api.manager().changes();
            let mut last: Option<T> = None;
            loop {
                changes.mark_unchanged();
                let next = match api.authorize(&caller).await {
                    Ok(()) => message(api.clone()).await,
                    Err(status) => Err(status),
                };
                match next {
                    Ok(msg) => {
                        if last.as_ref() != Some(&msg) {
                            last = Some(msg.clone());
                            if tx.send(Ok(msg)).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(status) => {
                        let _ = tx.send(Err(status)).await;
                        return;
                    }
                }
                tokio::select! {
                    changed = changes.changed() => if changed.is_err() { return },
                    () = tx.closed() => return,
                }
            }
        });
        Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
    }

    /// The X.509 answer for a delegated workload.
    fn x509_svids(answer: &Answer) -> Result<delegated::SubscribeToX509sviDsResponse, Status> {
        let mut x509_svids = Vec::new();
        for identity in &answer.view.identities {
            let entry = &identity.entry;
            // As SPIRE: admin and downstream entries are not handed to delegates.
            if entry.admin() || entry.downstream() {
                continue;
            }
            let Some(svid) = &identity.svid else {
                continue;
            };
            let spiffe_core::pki_types::PrivateKeyDer::Pkcs8(key) = svid.private_key() else {
                return Err(Status::internal("could not serialize response"));
            };
            x509_svids.push(delegated::X509svidWithKey {
                x509_svid: Some(types::X509svid {
                    cert_chain: svid.chain().iter().map(|c| c.der().to_vec()).collect(),
                    id: Some(spiffe_id_to_proto(entry.spiffe_id())),
                    expires_at: unix_seconds(svid.leaf().not_after()),
                    hint: entry.hint().unwrap_or_default().to_owned(),
                }),
                x509_svid_key: key.secret_pkcs8_der().to_vec(),
            });
        }
        // The own bundle comes first in the view; the rest are federated.
        let mut federates_with: Vec<String> = answer
            .view
            .x509_bundles
            .iter()
            .skip(1)
            .map(|b| b.trust_domain().id_str().to_owned())
            .collect();
        federates_with.sort();
        federates_with.dedup();
        Ok(delegated::SubscribeToX509sviDsResponse {
            x509_svids,
            federates_with,
        })
    }

    /// Every bundle the agent holds: its own and those its entries federate with.
    fn bundles(&self) -> Vec<crate::server::ServerBundle> {
        let manager = self.manager();
        let mut out: Vec<_> = manager.bundle().into_iter().collect();
        let mut seen = HashSet::new();
        for entry in manager.entries() {
            for td in entry.federates_with() {
                if seen.insert(td.clone()) {
                    out.extend(manager.federated_bundle(td));
                }
            }
        }
        out
    }
}

fn unix_seconds(time: spiffe_core::pki_types::UnixTime) -> i64 {
    i64::try_from(time.as_secs()).unwrap_or(i64::MAX)
}

#[tonic::async_trait]
impl delegated::delegated_identity_server::DelegatedIdentity for AdminApi {
    async fn subscribe_to_x509svi_ds(
        &self,
        request: Request<delegated::SubscribeToX509sviDsRequest>,
    ) -> Result<Response<BoxStream<delegated::SubscribeToX509sviDsResponse>>, Status> {
        let caller = Self::caller(&request)?;
        self.authorize(&caller).await?;
        let request = request.into_inner();
        let set = self.subject(&request.selectors, request.pid).await?;
        Ok(Response::new(self.stream(caller, move |api| {
            let set = set.clone();
            async move {
                // Waits (bounded) for SVIDs being signed, as a Workload API caller does.
                let answer = api
                    .provider
                    .set_answer(&set, |a| a.pending.is_empty() || !a.x509.svids.is_empty())
                    .await
                    .map_err(status)?;
                Self::x509_svids(&answer)
            }
        })))
    }

    async fn subscribe_to_x509_bundles(
        &self,
        request: Request<delegated::SubscribeToX509BundlesRequest>,
    ) -> Result<Response<BoxStream<delegated::SubscribeToX509BundlesResponse>>, Status> {
        let caller = Self::caller(&request)?;
        self.authorize(&caller).await?;
        Ok(Response::new(self.stream(caller, |api| async move {
            let ca_certificates: HashMap<String, Vec<u8>> = api
                .bundles()
                .iter()
                .map(|b| {
                    (
                        b.x509().trust_domain().id_str().to_owned(),
                        b.x509().to_der(),
                    )
                })
                .collect();
            Ok(delegated::SubscribeToX509BundlesResponse { ca_certificates })
        })))
    }

    async fn fetch_jwtsvi_ds(
        &self,
        request: Request<delegated::FetchJwtsviDsRequest>,
    ) -> Result<Response<delegated::FetchJwtsviDsResponse>, Status> {
        let caller = Self::caller(&request)?;
        if request.get_ref().audience.is_empty() {
            return Err(Status::invalid_argument("audience must be specified"));
        }
        self.authorize(&caller).await?;
        let request = request.into_inner();
        let set = self.subject(&request.selectors, request.pid).await?;
        let answer = self
            .provider
            .set_answer(&set, |_| true)
            .await
            .map_err(status)?;
        let mut svids = Vec::new();
        for identity in &answer.view.identities {
            let entry = &identity.entry;
            if entry.admin() || entry.downstream() {
                continue;
            }
            let svid = self
                .manager()
                .fetch_jwt_svid(entry, &request.audience)
                .await
                .map_err(|e| Status::unavailable(format!("could not fetch JWT-SVID: {e}")))?;
            svids.push(types::Jwtsvid {
                token: svid.token,
                id: Some(spiffe_id_to_proto(&svid.spiffe_id)),
                expires_at: unix_seconds(svid.expires_at),
                issued_at: unix_seconds(svid.issued_at),
                hint: entry.hint().unwrap_or_default().to_owned(),
            });
        }
        if svids.is_empty() {
            return Err(Status::permission_denied("no identity issued"));
        }
        Ok(Response::new(delegated::FetchJwtsviDsResponse { svids }))
    }

    async fn subscribe_to_jwt_bundles(
        &self,
        request: Request<delegated::SubscribeToJwtBundlesRequest>,
    ) -> Result<Response<BoxStream<delegated::SubscribeToJwtBundlesResponse>>, Status> {
        let caller = Self::caller(&request)?;
        self.authorize(&caller).await?;
        Ok(Response::new(self.stream(caller, |api| async move {
            let bundles: HashMap<String, Vec<u8>> = api
                .bundles()
                .iter()
                .map(|b| {
                    (
                        b.jwt().trust_domain().id_str().to_owned(),
                        b.jwt().to_jwks_json(),
                    )
                })
                .collect();
            Ok(delegated::SubscribeToJwtBundlesResponse { bundles })
        })))
    }
}

#[tonic::async_trait]
impl debug::debug_server::Debug for AdminApi {
    async fn get_info(
        &self,
        _request: Request<debug::GetInfoRequest>,
    ) -> Result<Response<debug::GetInfoResponse>, Status> {
        let svid = (self.agent_svid)();
        let svid_chain = svid
            .chain()
            .iter()
            .enumerate()
            .map(|(i, cert)| debug::get_info_response::Cert {
                // Only the leaf names a SPIFFE ID.
                id: (i == 0).then(|| spiffe_id_to_proto(svid.spiffe_id())),
                expires_at: unix_seconds(cert.not_after()),
                subject: cert.subject(),
            })
            .collect();
        let stats = self.manager().cache_stats();
        let status = self.manager().status();
        let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        Ok(Response::new(debug::GetInfoResponse {
            svid_chain,
            uptime: i32::try_from(self.started.elapsed().as_secs()).unwrap_or(i32::MAX),
            svids_count: count(stats.x509_svids),
            last_sync_success: status.last_success.map_or(0, unix_seconds),
            cached_x509_svids_count: count(stats.x509_svids),
            cached_jwt_svids_count: count(stats.jwt.cached),
            cached_svidstore_x509_svids_count: 0,
        }))
    }
}
