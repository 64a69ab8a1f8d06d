//! An agent's side of the server's TCP API, for tests and benches against a server process:
//! the bundle from the admin socket, join tokens, `join_token` attestation over TLS, and an
//! mTLS channel with the agent SVID (as `spiffe-agent` connects, without depending on it).

use std::net::SocketAddr;
use std::sync::Arc;

use spiffe_attest::node::join_token::{JoinToken, JoinTokenAgent};
use spiffe_attest::node::NodeAttestorAgent;
use spiffe_core::{Certificate, SpiffeId, TrustDomain, X509Bundle, X509Svid};
use spiffe_tls::hyper::SpiffeConnector;
use spiffe_tls::{Authorizer, ClientConfigBuilder};
use spire_api_proto::server::agent::v1::agent_client::AgentClient;
use spire_api_proto::server::agent::v1::attest_agent_request::{Params, Step as RequestStep};
use spire_api_proto::server::agent::v1::attest_agent_response::Step as ResponseStep;
use spire_api_proto::server::agent::v1::{
    AgentX509svidParams, AttestAgentRequest, CreateJoinTokenRequest,
};
use spire_api_proto::server::bundle::v1::bundle_client::BundleClient;
use spire_api_proto::server::bundle::v1::GetBundleRequest;
use spire_api_proto::types;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};
use tonic::Status;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn server_id(trust_domain: &TrustDomain) -> SpiffeId {
    SpiffeId::new(&format!("spiffe://{trust_domain}/spire/server")).expect("server ID")
}

fn channel(addr: SocketAddr, mut config: rustls::ClientConfig) -> Channel {
    config.alpn_protocols = vec![b"h2".to_vec()];
    Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect_with_connector_lazy(SpiffeConnector::new(Arc::new(config)))
}

/// A PKCS#10 request for a fresh P-256 key, and the key (PKCS#8 DER): what an agent sends
/// to attest or to have a workload's SVID signed.
pub fn csr() -> (Vec<u8>, Vec<u8>) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("P-256 key");
    let der = rcgen::CertificateParams::new(Vec::<String>::new())
        .expect("CSR parameters")
        .serialize_request(&key)
        .expect("CSR")
        .der()
        .to_vec();
    (der, key.serialize_der())
}

/// The trust domain's X.509 bundle, read with `Bundle.GetBundle` on the admin socket.
pub async fn x509_bundle(admin: &Channel, trust_domain: &TrustDomain) -> Arc<X509Bundle> {
    let bundle = BundleClient::new(admin.clone())
        .get_bundle(GetBundleRequest::default())
        .await
        .expect("GetBundle")
        .into_inner();
    let roots = bundle
        .x509_authorities
        .iter()
        .map(|a| Certificate::from_der(a.asn1.clone().into()).expect("X.509 authority"))
        .collect();
    Arc::new(X509Bundle::from_authorities(trust_domain.clone(), roots))
}

/// A join token valid for 10 minutes, from `Agent.CreateJoinToken` on the admin socket.
pub async fn create_join_token(admin: &Channel) -> String {
    AgentClient::new(admin.clone())
        .create_join_token(CreateJoinTokenRequest {
            ttl: 600,
            ..Default::default()
        })
        .await
        .expect("CreateJoinToken")
        .into_inner()
        .value
}

/// A TLS channel to `addr` without a client certificate (an agent before attestation), the
/// server verified against `bundle`.
pub fn tls_channel(addr: SocketAddr, bundle: Arc<X509Bundle>) -> Channel {
    let trust_domain = bundle.trust_domain().clone();
    let config = ClientConfigBuilder::new(provider())
        .verify_server(bundle, Authorizer::exact(server_id(&trust_domain)))
        .without_client_cert()
        .expect("TLS config");
    channel(addr, config)
}

/// `join_token` attestation on a new TLS connection to `addr` (the server verified against
/// `bundle`), with `csr` for the key `key_pkcs8`; the agent SVID.
pub async fn attest_join_token(
    addr: SocketAddr,
    bundle: Arc<X509Bundle>,
    token: &str,
    csr: Vec<u8>,
    key_pkcs8: &[u8],
) -> Result<X509Svid, Status> {
    let channel = tls_channel(addr, bundle);
    let agent = JoinTokenAgent::new(JoinToken::new(token).expect("join token"));
    let mut attempt = agent.begin().expect("attempt");
    let payload = attempt.payload().expect("payload");
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    tx.send(AttestAgentRequest {
        step: Some(RequestStep::Params(Params {
            data: Some(types::AttestationData {
                r#type: agent.name().into(),
                payload,
            }),
            params: Some(AgentX509svidParams { csr }),
        })),
    })
    .await
    .expect("queue the first message");
    let mut responses = AgentClient::new(channel)
        .attest_agent(ReceiverStream::new(rx))
        .await?
        .into_inner();
    let step = responses.message().await?.and_then(|m| m.step);
    drop(tx);
    let Some(ResponseStep::Result(result)) = step else {
        return Err(Status::internal(format!("expected a result, got {step:?}")));
    };
    let chain: Vec<u8> = result
        .svid
        .ok_or_else(|| Status::internal("no SVID in the result"))?
        .cert_chain
        .concat();
    X509Svid::parse_der(&chain, key_pkcs8).map_err(|e| Status::internal(e.to_string()))
}

/// An mTLS channel to `addr` presenting `svid`, the server verified against `bundle`.
pub fn mtls_channel(addr: SocketAddr, bundle: Arc<X509Bundle>, svid: &X509Svid) -> Channel {
    let trust_domain = bundle.trust_domain().clone();
    let config = ClientConfigBuilder::new(provider())
        .verify_server(bundle, Authorizer::exact(server_id(&trust_domain)))
        .with_svid(Arc::new(svid.clone()))
        .expect("TLS config");
    channel(addr, config)
}
