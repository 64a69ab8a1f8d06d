//! The gRPC method paths are SPIRE's, for every RPC of every service: checked against the
//! generated code's service names and path literals, and end to end through a tonic server on
//! a Unix socket serving all eleven services (a real `Debug.GetInfo`, the generated
//! UNIMPLEMENTED defaults for the rest) and called with raw paths and a generated client.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use spire_api_proto::{agent, server};
use tokio::net::{UnixListener, UnixStream};
use tokio_stream::wrappers::UnixListenerStream;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint, Server, Uri};
use tonic::{Code, Request, Response, Status};

/// SPIRE's services and their method paths (`SPIRE-API-WIRE.md`, spire-api-sdk), each beside
/// the generated code's name for the service.
const SERVICES: &[(&str, &[&str])] = &[
    (
        server::agent::v1::agent_server::SERVICE_NAME,
        &[
            "/spire.api.server.agent.v1.Agent/CountAgents",
            "/spire.api.server.agent.v1.Agent/ListAgents",
            "/spire.api.server.agent.v1.Agent/GetAgent",
            "/spire.api.server.agent.v1.Agent/DeleteAgent",
            "/spire.api.server.agent.v1.Agent/BanAgent",
            "/spire.api.server.agent.v1.Agent/AttestAgent",
            "/spire.api.server.agent.v1.Agent/RenewAgent",
            "/spire.api.server.agent.v1.Agent/CreateJoinToken",
            "/spire.api.server.agent.v1.Agent/PostStatus",
        ],
    ),
    (
        server::bundle::v1::bundle_server::SERVICE_NAME,
        &[
            "/spire.api.server.bundle.v1.Bundle/CountBundles",
            "/spire.api.server.bundle.v1.Bundle/GetBundle",
            "/spire.api.server.bundle.v1.Bundle/AppendBundle",
            "/spire.api.server.bundle.v1.Bundle/PublishJWTAuthority",
            "/spire.api.server.bundle.v1.Bundle/PublishWITAuthority",
            "/spire.api.server.bundle.v1.Bundle/ListFederatedBundles",
            "/spire.api.server.bundle.v1.Bundle/GetFederatedBundle",
            "/spire.api.server.bundle.v1.Bundle/BatchCreateFederatedBundle",
            "/spire.api.server.bundle.v1.Bundle/BatchUpdateFederatedBundle",
            "/spire.api.server.bundle.v1.Bundle/BatchSetFederatedBundle",
            "/spire.api.server.bundle.v1.Bundle/BatchDeleteFederatedBundle",
        ],
    ),
    (
        server::debug::v1::debug_server::SERVICE_NAME,
        &["/spire.api.server.debug.v1.Debug/GetInfo"],
    ),
    (
        server::entry::v1::entry_server::SERVICE_NAME,
        &[
            "/spire.api.server.entry.v1.Entry/CountEntries",
            "/spire.api.server.entry.v1.Entry/ListEntries",
            "/spire.api.server.entry.v1.Entry/GetEntry",
            "/spire.api.server.entry.v1.Entry/BatchCreateEntry",
            "/spire.api.server.entry.v1.Entry/BatchUpdateEntry",
            "/spire.api.server.entry.v1.Entry/BatchDeleteEntry",
            "/spire.api.server.entry.v1.Entry/GetAuthorizedEntries",
            "/spire.api.server.entry.v1.Entry/SyncAuthorizedEntries",
        ],
    ),
    (
        server::localauthority::v1::local_authority_server::SERVICE_NAME,
        &[
            "/spire.api.server.localauthority.v1.LocalAuthority/GetJWTAuthorityState",
            "/spire.api.server.localauthority.v1.LocalAuthority/PrepareJWTAuthority",
            "/spire.api.server.localauthority.v1.LocalAuthority/ActivateJWTAuthority",
            "/spire.api.server.localauthority.v1.LocalAuthority/TaintJWTAuthority",
            "/spire.api.server.localauthority.v1.LocalAuthority/RevokeJWTAuthority",
            "/spire.api.server.localauthority.v1.LocalAuthority/GetX509AuthorityState",
            "/spire.api.server.localauthority.v1.LocalAuthority/PrepareX509Authority",
            "/spire.api.server.localauthority.v1.LocalAuthority/ActivateX509Authority",
            "/spire.api.server.localauthority.v1.LocalAuthority/TaintX509Authority",
            "/spire.api.server.localauthority.v1.LocalAuthority/TaintX509UpstreamAuthority",
            "/spire.api.server.localauthority.v1.LocalAuthority/RevokeX509Authority",
            "/spire.api.server.localauthority.v1.LocalAuthority/RevokeX509UpstreamAuthority",
            "/spire.api.server.localauthority.v1.LocalAuthority/GetWITAuthorityState",
            "/spire.api.server.localauthority.v1.LocalAuthority/PrepareWITAuthority",
            "/spire.api.server.localauthority.v1.LocalAuthority/ActivateWITAuthority",
            "/spire.api.server.localauthority.v1.LocalAuthority/TaintWITAuthority",
            "/spire.api.server.localauthority.v1.LocalAuthority/RevokeWITAuthority",
        ],
    ),
    (
        server::logger::v1::logger_server::SERVICE_NAME,
        &[
            "/spire.api.server.logger.v1.Logger/GetLogger",
            "/spire.api.server.logger.v1.Logger/SetLogLevel",
            "/spire.api.server.logger.v1.Logger/ResetLogLevel",
        ],
    ),
    (
        server::svid::v1::svid_server::SERVICE_NAME,
        &[
            "/spire.api.server.svid.v1.SVID/MintX509SVID",
            "/spire.api.server.svid.v1.SVID/MintJWTSVID",
            "/spire.api.server.svid.v1.SVID/MintWITSVID",
            "/spire.api.server.svid.v1.SVID/BatchNewX509SVID",
            "/spire.api.server.svid.v1.SVID/NewJWTSVID",
            "/spire.api.server.svid.v1.SVID/BatchNewWITSVID",
            "/spire.api.server.svid.v1.SVID/NewDownstreamX509CA",
        ],
    ),
    (
        server::trustdomain::v1::trust_domain_server::SERVICE_NAME,
        &[
            "/spire.api.server.trustdomain.v1.TrustDomain/ListFederationRelationships",
            "/spire.api.server.trustdomain.v1.TrustDomain/GetFederationRelationship",
            "/spire.api.server.trustdomain.v1.TrustDomain/BatchCreateFederationRelationship",
            "/spire.api.server.trustdomain.v1.TrustDomain/BatchUpdateFederationRelationship",
            "/spire.api.server.trustdomain.v1.TrustDomain/BatchDeleteFederationRelationship",
            "/spire.api.server.trustdomain.v1.TrustDomain/RefreshBundle",
        ],
    ),
    (
        agent::debug::v1::debug_server::SERVICE_NAME,
        // SPIRE's package for the agent's debug API has no `api` segment.
        &["/spire.agent.debug.v1.Debug/GetInfo"],
    ),
    (
        agent::delegatedidentity::v1::delegated_identity_server::SERVICE_NAME,
        &[
            "/spire.api.agent.delegatedidentity.v1.DelegatedIdentity/SubscribeToX509SVIDs",
            "/spire.api.agent.delegatedidentity.v1.DelegatedIdentity/SubscribeToX509Bundles",
            "/spire.api.agent.delegatedidentity.v1.DelegatedIdentity/FetchJWTSVIDs",
            "/spire.api.agent.delegatedidentity.v1.DelegatedIdentity/SubscribeToJWTBundles",
        ],
    ),
    (
        agent::logger::v1::logger_server::SERVICE_NAME,
        &[
            "/spire.api.agent.logger.v1.Logger/GetLogger",
            "/spire.api.agent.logger.v1.Logger/SetLogLevel",
            "/spire.api.agent.logger.v1.Logger/ResetLogLevel",
        ],
    ),
];

/// The message tonic's generated defaults answer with: it tells a routed call from a path no
/// service knows (which tonic answers UNIMPLEMENTED with an empty message).
const STUB_MESSAGE: &str = "Not yet implemented";

fn all_paths() -> impl Iterator<Item = &'static str> {
    SERVICES.iter().flat_map(|(_, paths)| paths.iter().copied())
}

#[test]
fn the_table_is_spires_seventy_rpcs_under_the_generated_service_names() {
    assert_eq!(SERVICES.len(), 11);
    assert_eq!(all_paths().count(), 70);
    assert_eq!(all_paths().collect::<BTreeSet<_>>().len(), 70);
    for (service, paths) in SERVICES {
        for path in *paths {
            let (in_path, method) = path[1..].rsplit_once('/').unwrap();
            assert_eq!(in_path, *service, "{path}");
            assert!(!method.is_empty() && !method.contains('.'), "{path}");
        }
    }
}

/// Every `"/spire..."` literal of the generated code (client paths and server routes) is in
/// the table, and every table path is both a client path and a server route.
#[test]
fn the_generated_code_uses_exactly_these_paths() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/generated");
    let mut literals = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            literals.extend(
                text.split('"')
                    .skip(1)
                    .step_by(2)
                    .filter(|s| s.starts_with("/spire."))
                    .map(str::to_owned),
            );
        }
    }
    let expected: BTreeSet<String> = all_paths().map(str::to_owned).collect();
    assert_eq!(literals.iter().cloned().collect::<BTreeSet<_>>(), expected);
    for path in &expected {
        // Once in the client (`PathAndQuery::from_static`), once in the server's router.
        let count = literals.iter().filter(|l| *l == path).count();
        assert_eq!(count, 2, "{path}");
    }
}

/// Implements every service with the generated defaults (UNIMPLEMENTED), except the server's
/// `Debug.GetInfo`, which answers.
#[derive(Clone, Copy)]
struct Stub;

impl server::agent::v1::agent_server::Agent for Stub {}
impl server::bundle::v1::bundle_server::Bundle for Stub {}
impl server::entry::v1::entry_server::Entry for Stub {}
impl server::localauthority::v1::local_authority_server::LocalAuthority for Stub {}
impl server::logger::v1::logger_server::Logger for Stub {}
impl server::svid::v1::svid_server::Svid for Stub {}
impl server::trustdomain::v1::trust_domain_server::TrustDomain for Stub {}
impl agent::debug::v1::debug_server::Debug for Stub {}
impl agent::delegatedidentity::v1::delegated_identity_server::DelegatedIdentity for Stub {}
impl agent::logger::v1::logger_server::Logger for Stub {}

#[tonic::async_trait]
impl server::debug::v1::debug_server::Debug for Stub {
    async fn get_info(
        &self,
        _: Request<server::debug::v1::GetInfoRequest>,
    ) -> Result<Response<server::debug::v1::GetInfoResponse>, Status> {
        Ok(Response::new(server::debug::v1::GetInfoResponse {
            uptime: 42,
            entries_count: 7,
            ..Default::default()
        }))
    }
}

/// Serves every service on a socket in `dir`; returns a channel to it and the shutdown
/// trigger.
async fn serve_all(dir: &Path) -> (Channel, tokio::sync::oneshot::Sender<()>) {
    use agent::delegatedidentity::v1::delegated_identity_server::DelegatedIdentityServer;
    use server::localauthority::v1::local_authority_server::LocalAuthorityServer;
    use server::trustdomain::v1::trust_domain_server::TrustDomainServer;

    let socket = dir.join("api.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = Server::builder()
        .add_service(server::agent::v1::agent_server::AgentServer::new(Stub))
        .add_service(server::bundle::v1::bundle_server::BundleServer::new(Stub))
        .add_service(server::debug::v1::debug_server::DebugServer::new(Stub))
        .add_service(server::entry::v1::entry_server::EntryServer::new(Stub))
        .add_service(LocalAuthorityServer::new(Stub))
        .add_service(server::logger::v1::logger_server::LoggerServer::new(Stub))
        .add_service(server::svid::v1::svid_server::SvidServer::new(Stub))
        .add_service(TrustDomainServer::new(Stub))
        .add_service(agent::debug::v1::debug_server::DebugServer::new(Stub))
        .add_service(DelegatedIdentityServer::new(Stub))
        .add_service(agent::logger::v1::logger_server::LoggerServer::new(Stub));
    tokio::spawn(
        router.serve_with_incoming_shutdown(UnixListenerStream::new(listener), async {
            let _ = stopped.await;
        }),
    );
    let channel = Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let socket = socket.clone();
            async move {
                let stream = UnixStream::connect(socket).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
            }
        }))
        .await
        .unwrap();
    (channel, stop)
}

/// Calls `path` with an empty message (which decodes as the default of any request type).
async fn call(channel: &Channel, path: &'static str) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| Status::unknown(e.to_string()))?;
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    grpc.unary(Request::new(()), PathAndQuery::from_static(path), codec)
        .await
        .map(|_| ())
}

#[tokio::test(flavor = "current_thread")]
async fn every_path_reaches_its_generated_handler() {
    tokio::time::timeout(Duration::from_secs(20), async {
        let dir = tempfile::tempdir().unwrap();
        let (channel, stop) = serve_all(dir.path()).await;

        // The generated client, on the one RPC that answers.
        let mut client = server::debug::v1::debug_client::DebugClient::new(channel.clone());
        let info = client
            .get_info(server::debug::v1::GetInfoRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!((info.uptime, info.entries_count), (42, 7));

        for path in all_paths() {
            let outcome = call(&channel, path).await;
            if path == "/spire.api.server.debug.v1.Debug/GetInfo" {
                assert!(outcome.is_ok(), "{path}: {outcome:?}");
                continue;
            }
            let status = outcome.unwrap_err();
            assert_eq!(status.code(), Code::Unimplemented, "{path}: {status:?}");
            assert_eq!(status.message(), STUB_MESSAGE, "{path} was not routed");
        }

        // The check can fail: paths SPIRE does not have are not routed to a handler.
        for wrong in [
            "/spire.api.server.entry.v1.Entry/ListEntry",
            "/spire.api.server.entry.v1.Entries/ListEntries",
            "/spire.api.agent.debug.v1.Debug/GetInfo",
        ] {
            let status = call(&channel, wrong).await.unwrap_err();
            assert_eq!(status.code(), Code::Unimplemented, "{wrong}");
            assert_ne!(status.message(), STUB_MESSAGE, "{wrong} was routed");
        }
        let _ = stop.send(());
    })
    .await
    .expect("the test finishes within 20 s");
}
