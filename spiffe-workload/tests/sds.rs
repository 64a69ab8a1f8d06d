//! Envoy SDS v3 served by the kit beside the Workload API (feature `sds`), with Envoy's own API
//! types as the client: resource names as SPIRE's agent, validation contexts with the SPIFFE
//! validator (or plain roots), ACK/NACK and stale nonces, pushes on rotation, DeltaSecrets
//! UNIMPLEMENTED.
#![cfg(feature = "sds")]
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{next, Ca, Running, StaticProvider};
use envoy_types::pb::envoy::config::core::v3::{data_source, DataSource, Node};
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    secret, CertificateValidationContext, Secret, SpiffeCertValidatorConfig,
};
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DiscoveryRequest, DiscoveryResponse,
};
use envoy_types::pb::envoy::service::secret::v3::secret_discovery_service_client::SecretDiscoveryServiceClient;
use envoy_types::pb::google::protobuf::{value, Struct, Value};
use envoy_types::pb::google::rpc::Status as RpcStatus;
use prost::Message;
use spiffe_core::x509::parse_certificates;
use spiffe_workload::server::sds::{SdsConfig, SECRET_TYPE_URL, SPIFFE_CERT_VALIDATOR};
use spiffe_workload::{WorkloadApiServer, X509SvidEntry};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

const ID: &str = "spiffe://example.org/workload";

async fn client(running: &Running) -> SecretDiscoveryServiceClient<tonic::transport::Channel> {
    let path = running.path.clone();
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
    SecretDiscoveryServiceClient::new(channel)
}

fn start(provider: std::sync::Arc<StaticProvider>, config: SdsConfig) -> Running {
    Running::start_server(WorkloadApiServer::new(provider).with_sds(config))
}

fn request(names: &[&str]) -> DiscoveryRequest {
    DiscoveryRequest {
        type_url: SECRET_TYPE_URL.into(),
        resource_names: names.iter().map(|n| (*n).to_owned()).collect(),
        node: Some(Node {
            id: "envoy".into(),
            cluster: "test".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn secrets_of(response: &DiscoveryResponse) -> BTreeMap<String, Secret> {
    response
        .resources
        .iter()
        .map(|any| {
            assert_eq!(any.type_url, SECRET_TYPE_URL);
            let secret = Secret::decode(any.value.as_slice()).unwrap();
            (secret.name.clone(), secret)
        })
        .collect()
}

fn inline(source: &Option<DataSource>) -> Vec<u8> {
    match source.as_ref().and_then(|s| s.specifier.as_ref()) {
        Some(data_source::Specifier::InlineBytes(bytes)) => bytes.clone(),
        other => panic!("not inline bytes: {other:?}"),
    }
}

fn validation(secret: &Secret) -> &CertificateValidationContext {
    match &secret.r#type {
        Some(secret::Type::ValidationContext(v)) => v,
        other => panic!("not a validation context: {other:?}"),
    }
}

/// The SPIFFE validator's trust domains and their roots (DER), from a validation context.
fn spiffe_domains(context: &CertificateValidationContext) -> BTreeMap<String, Vec<Vec<u8>>> {
    let custom = context
        .custom_validator_config
        .as_ref()
        .expect("SPIFFE validator");
    assert_eq!(custom.name, SPIFFE_CERT_VALIDATOR);
    let any = custom.typed_config.as_ref().unwrap();
    assert_eq!(
        any.type_url,
        "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.SPIFFECertValidatorConfig"
    );
    let config = SpiffeCertValidatorConfig::decode(any.value.as_slice()).unwrap();
    config
        .trust_domains
        .iter()
        .map(|td| {
            let roots = parse_certificates(&inline(&td.trust_bundle)).unwrap();
            (
                td.name.clone(),
                roots.iter().map(|c| c.der().to_vec()).collect(),
            )
        })
        .collect()
}

fn roots(ca: &Ca) -> Vec<Vec<u8>> {
    ca.x509_bundle()
        .authorities()
        .iter()
        .map(|c| c.der().to_vec())
        .collect()
}

#[tokio::test]
async fn fetch_secrets_serves_spire_names_and_leaves_unknown_ones_out() {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let provider = StaticProvider::example(&ca, &other);
    let svid = provider.x509().svids[0].svid.clone();
    let running = start(provider, SdsConfig::default());
    let mut client = client(&running).await;

    let response = client
        .fetch_secrets(request(&[
            ID,
            "default",
            "spiffe://other.org",
            "ROOTCA",
            "ALL",
            "spiffe://example.org/not-mine",
            "spiffe://unknown.org",
        ]))
        .await
        .unwrap()
        .into_inner();
    // FetchSecrets carries no version or nonce (as SPIRE).
    assert_eq!(response.version_info, "");
    assert_eq!(response.nonce, "");
    let secrets = secrets_of(&response);
    assert_eq!(
        secrets.keys().map(String::as_str).collect::<Vec<_>>(),
        ["ALL", "ROOTCA", ID, "spiffe://other.org"],
        "the SVID by its ID (the default name only when not already served), bundles by \
         trust domain ID, ROOTCA and ALL; unknown names left out"
    );

    // The TLS certificate: the SVID's chain and its PKCS#8 key, PEM.
    let Some(secret::Type::TlsCertificate(tls)) = &secrets[ID].r#type else {
        panic!("not a TLS certificate");
    };
    let chain = parse_certificates(&inline(&tls.certificate_chain)).unwrap();
    assert_eq!(chain[0].der(), svid.leaf().der());
    let key = String::from_utf8(inline(&tls.private_key)).unwrap();
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    let parsed =
        spiffe_core::X509Svid::parse_pem(&inline(&tls.certificate_chain), key.as_bytes()).unwrap();
    assert_eq!(parsed.spiffe_id().as_str(), ID);

    // Bundles use Envoy's SPIFFE validator: one trust domain each, all of them under ALL.
    let own = spiffe_domains(validation(&secrets["ROOTCA"]));
    assert_eq!(own, BTreeMap::from([("example.org".into(), roots(&ca))]));
    let federated = spiffe_domains(validation(&secrets["spiffe://other.org"]));
    assert_eq!(
        federated,
        BTreeMap::from([("other.org".into(), roots(&other))])
    );
    let all = spiffe_domains(validation(&secrets["ALL"]));
    assert_eq!(
        all,
        BTreeMap::from([
            ("example.org".into(), roots(&ca)),
            ("other.org".into(), roots(&other)),
        ])
    );

    // "default" names the first SVID when asked for alone.
    let response = client
        .fetch_secrets(request(&["default"]))
        .await
        .unwrap()
        .into_inner();
    let secrets = secrets_of(&response);
    assert!(matches!(
        secrets["default"].r#type,
        Some(secret::Type::TlsCertificate(_))
    ));

    // No names: everything under its own name.
    let response = client
        .fetch_secrets(request(&[]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        secrets_of(&response).keys().cloned().collect::<Vec<_>>(),
        ["spiffe://example.org", ID, "spiffe://other.org"]
    );
    running.shutdown().await;
}

#[tokio::test]
async fn spiffe_validation_can_be_disabled_by_config_or_node_metadata() {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let mut config = SdsConfig::default();
    config.disable_spiffe_cert_validation = true;
    config.default_bundle_name = "MYROOTS".into();
    let running = start(StaticProvider::example(&ca, &other), config);
    let mut client = client(&running).await;

    let response = client
        .fetch_secrets(request(&["MYROOTS"]))
        .await
        .unwrap()
        .into_inner();
    let secrets = secrets_of(&response);
    let context = validation(&secrets["MYROOTS"]);
    assert!(context.custom_validator_config.is_none());
    let trusted: Vec<Vec<u8>> = parse_certificates(&inline(&context.trusted_ca))
        .unwrap()
        .iter()
        .map(|c| c.der().to_vec())
        .collect();
    assert_eq!(trusted, roots(&ca));

    // Without the SPIFFE validator one context cannot hold several trust domains apart.
    let status = client.fetch_secrets(request(&["ALL"])).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Internal);

    // The node metadata turns it back on for this Envoy.
    let mut req = request(&["ALL"]);
    req.node.as_mut().unwrap().metadata = Some(Struct {
        fields: [(
            "disable_spiffe_cert_validation".to_owned(),
            Value {
                kind: Some(value::Kind::BoolValue(false)),
            },
        )]
        .into(),
    });
    let response = client.fetch_secrets(req).await.unwrap().into_inner();
    assert_eq!(
        spiffe_domains(validation(&secrets_of(&response)["ALL"])).len(),
        2
    );
    running.shutdown().await;
}

#[tokio::test]
async fn stream_secrets_pushes_rotations_and_follows_ack_nack() {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let provider = StaticProvider::example(&ca, &other);
    let running = start(provider.clone(), SdsConfig::default());
    let mut client = client(&running).await;
    let (tx, rx) = mpsc::channel(8);
    let mut responses = client
        .stream_secrets(ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();

    tx.send(request(&[ID])).await.unwrap();
    let first = next(&mut responses).await.unwrap();
    assert_eq!(first.version_info, "1");
    assert!(!first.nonce.is_empty());
    assert_eq!(first.type_url, SECRET_TYPE_URL);
    let first_cert = secrets_of(&first)[ID].clone();

    // ACK: nothing new to send.
    let mut ack = request(&[ID]);
    ack.version_info = first.version_info.clone();
    ack.response_nonce = first.nonce.clone();
    tx.send(ack).await.unwrap();
    let quiet = tokio::time::timeout(Duration::from_millis(300), next(&mut responses)).await;
    assert!(quiet.is_err(), "an ACK got an answer");

    // Rotation: a new version is pushed with the new certificate.
    let rotated = ca.svid(ID);
    provider.update(|m| m.x509.svids = vec![X509SvidEntry::new(rotated.clone())]);
    let second = next(&mut responses).await.unwrap();
    assert_eq!(second.version_info, "2");
    assert_ne!(second.nonce, first.nonce);
    let second_cert = secrets_of(&second)[ID].clone();
    assert_ne!(first_cert, second_cert);
    let Some(secret::Type::TlsCertificate(tls)) = &second_cert.r#type else {
        panic!("not a TLS certificate");
    };
    assert_eq!(
        parse_certificates(&inline(&tls.certificate_chain)).unwrap()[0].der(),
        rotated.leaf().der()
    );

    // A NACK (error detail, previous version) is not answered with the same version again.
    let mut nack = request(&[ID]);
    nack.version_info = "1".into();
    nack.response_nonce = second.nonce.clone();
    nack.error_detail = Some(RpcStatus {
        code: 3,
        message: "bad certificate".into(),
        details: Vec::new(),
    });
    tx.send(nack).await.unwrap();
    let quiet = tokio::time::timeout(Duration::from_millis(300), next(&mut responses)).await;
    assert!(quiet.is_err(), "a NACK got the same version again");

    // A request with a stale nonce is ignored, even if it asks for other names.
    let mut stale = request(&["ROOTCA"]);
    stale.response_nonce = first.nonce.clone();
    tx.send(stale).await.unwrap();
    let quiet = tokio::time::timeout(Duration::from_millis(300), next(&mut responses)).await;
    assert!(quiet.is_err(), "a stale request was answered");

    // A current request for other names is answered at the current version.
    let mut more = request(&[ID, "ROOTCA"]);
    more.version_info = "2".into();
    more.response_nonce = second.nonce.clone();
    tx.send(more).await.unwrap();
    let third = next(&mut responses).await.unwrap();
    assert_eq!(third.version_info, "2");
    assert_eq!(
        secrets_of(&third).keys().cloned().collect::<Vec<_>>(),
        ["ROOTCA", ID]
    );

    // A bundle change is pushed too.
    provider.update(|m| m.x509.bundles = vec![ca.x509_bundle()]);
    let fourth = next(&mut responses).await.unwrap();
    assert_eq!(fourth.version_info, "3");
    drop(tx);
    running.shutdown().await;
}

#[tokio::test]
async fn delta_secrets_is_unimplemented_and_a_caller_without_identity_gets_nothing() {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let provider = StaticProvider::example(&ca, &other);
    let running = start(provider.clone(), SdsConfig::default());
    let mut client = client(&running).await;
    let (_tx, rx) = mpsc::channel::<DeltaDiscoveryRequest>(1);
    let status = client
        .delta_secrets(ReceiverStream::new(rx))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);

    // No identity: an empty answer, not an error.
    provider.replace(common::Material::default());
    let response = client
        .fetch_secrets(request(&[ID]))
        .await
        .unwrap()
        .into_inner();
    assert!(response.resources.is_empty());

    // The Workload API is still served on the same socket.
    let mut wapi = common::raw_client(&running.path).await;
    provider.replace(common::Material {
        x509: StaticProvider::example(&ca, &other).x509(),
        ..Default::default()
    });
    let mut stream = wapi
        .fetch_x509svid(common::request(
            spiffe_workload::proto::X509svidRequest {},
            &["true"],
        ))
        .await
        .unwrap()
        .into_inner();
    let answer = next(&mut stream).await.unwrap();
    assert_eq!(answer.svids[0].spiffe_id, ID);
    running.shutdown().await;
}
