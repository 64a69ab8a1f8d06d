//! Successful handshakes in each mode, TLS 1.2 and 1.3, with both sides seeing the other's
//! SPIFFE ID.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::*;
use rustls::version::{TLS12, TLS13};
use rustls::{ClientConfig, ProtocolVersion, SupportedProtocolVersion};
use spiffe_tls::{
    mtls_client_config, mtls_server_config, peer_spiffe_id, tls_client_config, tls_server_config,
    Authorizer, ClientConfigBuilder, ServerConfigBuilder,
};

const CLIENT: &str = "spiffe://a.test/client";
const SERVER: &str = "spiffe://a.test/server";

/// A client built with the typestate builder, limited to one protocol version.
fn client_with_version(
    version: &'static SupportedProtocolVersion,
    ca: &Ca,
    authorizer: Authorizer,
) -> ClientConfig {
    ClientConfigBuilder::new(provider())
        .with_protocol_versions(&[version])
        .verify_server(bundles(&[ca]), authorizer)
        .with_svid(ca.svid(CLIENT))
        .unwrap()
}

fn mtls_with(version: &'static SupportedProtocolVersion, expected: ProtocolVersion) {
    let ca = Ca::new("a.test");
    let client = client_with_version(version, &ca, Authorizer::exact(id(SERVER)));
    let server = mtls_server_config(
        provider(),
        ca.svid(SERVER),
        bundles(&[&ca]),
        Authorizer::exact(id(CLIENT)),
    )
    .unwrap();
    let mut pair = handshake(client, server).unwrap();
    assert_eq!(pair.client.protocol_version(), Some(expected));
    assert_eq!(peer_spiffe_id(&pair.client), Some(id(SERVER)));
    assert_eq!(peer_spiffe_id(&pair.server), Some(id(CLIENT)));
    assert_eq!(client_to_server(&mut pair, b"ping\n"), b"ping\n");
}

#[test]
fn mtls_tls13_both_sides_see_the_peer_id() {
    mtls_with(&TLS13, ProtocolVersion::TLSv1_3);
}

#[test]
fn mtls_tls12_both_sides_see_the_peer_id() {
    mtls_with(&TLS12, ProtocolVersion::TLSv1_2);
}

#[test]
fn mtls_config_functions_default_to_tls13() {
    let ca = Ca::new("a.test");
    let client = mtls_client_config(
        provider(),
        ca.svid(CLIENT),
        bundles(&[&ca]),
        Authorizer::member_of(ca.authority.trust_domain().clone()),
    )
    .unwrap();
    let server = mtls_server_config(
        provider(),
        ca.svid(SERVER),
        bundles(&[&ca]),
        Authorizer::path_prefix(ca.authority.trust_domain(), "/client").unwrap(),
    )
    .unwrap();
    let pair = handshake(client, server).unwrap();
    assert_eq!(
        pair.client.protocol_version(),
        Some(ProtocolVersion::TLSv1_3)
    );
    assert_eq!(peer_spiffe_id(&pair.server), Some(id(CLIENT)));
}

#[test]
fn federated_trust_domain_verifies_with_its_own_bundle() {
    let a = Ca::new("a.test");
    let b = Ca::new("b.test");
    // The client lives in b.test; the server trusts both trust domains.
    let client = mtls_client_config(
        provider(),
        b.svid("spiffe://b.test/client"),
        bundles(&[&a, &b]),
        Authorizer::exact(id(SERVER)),
    )
    .unwrap();
    let server = mtls_server_config(
        provider(),
        a.svid(SERVER),
        bundles(&[&a, &b]),
        Authorizer::one_of([id("spiffe://b.test/client"), id("spiffe://b.test/other")]),
    )
    .unwrap();
    let pair = handshake(client, server).unwrap();
    assert_eq!(
        peer_spiffe_id(&pair.server),
        Some(id("spiffe://b.test/client"))
    );
}

#[test]
fn tls_server_presents_svid_to_an_unauthenticated_client() {
    let ca = Ca::new("a.test");
    let client = tls_client_config(
        provider(),
        bundles(&[&ca]),
        Authorizer::from_fn(|svid| {
            // The closure sees the verified chain: leaf, then the bundle authority.
            svid.spiffe_id().path() == "/server" && svid.chain().len() == 2
        }),
    )
    .unwrap();
    let server = tls_server_config(provider(), ca.svid(SERVER)).unwrap();
    let pair = handshake(client, server).unwrap();
    assert_eq!(peer_spiffe_id(&pair.client), Some(id(SERVER)));
    assert_eq!(peer_spiffe_id(&pair.server), None);
}

#[test]
fn peer_id_is_none_before_the_handshake() {
    let ca = Ca::new("a.test");
    let client = tls_client_config(provider(), bundles(&[&ca]), Authorizer::any()).unwrap();
    let conn =
        rustls::ClientConnection::new(Arc::new(client), "x.invalid".try_into().unwrap()).unwrap();
    assert_eq!(peer_spiffe_id(&conn), None);
}

#[test]
fn server_builder_limited_to_tls12() {
    let ca = Ca::new("a.test");
    let server = ServerConfigBuilder::new(provider())
        .with_protocol_versions(&[&TLS12])
        .verify_clients(bundles(&[&ca]), Authorizer::exact(id(CLIENT)))
        .with_svid(ca.svid(SERVER))
        .unwrap();
    let client = mtls_client_config(
        provider(),
        ca.svid(CLIENT),
        bundles(&[&ca]),
        Authorizer::exact(id(SERVER)),
    )
    .unwrap();
    let pair = handshake(client, server).unwrap();
    assert_eq!(
        pair.server.protocol_version(),
        Some(ProtocolVersion::TLSv1_2)
    );
    assert_eq!(peer_spiffe_id(&pair.server), Some(id(CLIENT)));
}

/// Mixed mode: the server has a WebPKI certificate for a DNS name and authenticates clients
/// by SPIFFE ID; the client checks the server with rustls' WebPKI verifier and presents its
/// SVID.
#[test]
fn mixed_webpki_server_spiffe_client() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    use rustls::client::WebPkiServerVerifier;
    use rustls::sign::{CertifiedKey, SingleCertAndKey};
    use spiffe_core::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

    let web_ca_key = KeyPair::generate().unwrap();
    let mut web_ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    web_ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    web_ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let web_ca_cert = web_ca.self_signed(&web_ca_key).unwrap();
    let issuer = Issuer::new(web_ca, web_ca_key);
    let host_key = KeyPair::generate().unwrap();
    let host = CertificateParams::new(vec!["api.example.com".to_owned()])
        .unwrap()
        .signed_by(&host_key, &issuer)
        .unwrap();

    let provider = provider();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(web_ca_cert.der().clone()).unwrap();
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .unwrap();

    let ca = Ca::new("a.test");
    let client = ClientConfigBuilder::new(provider.clone())
        .verify_server_with(webpki)
        .with_svid(ca.svid(CLIENT))
        .unwrap();
    let host_key = CertifiedKey::from_der(
        vec![CertificateDer::from(host.der().to_vec())],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(host_key.serialize_der())),
        &provider,
    )
    .unwrap();
    let server = ServerConfigBuilder::new(provider)
        .verify_clients(bundles(&[&ca]), Authorizer::exact(id(CLIENT)))
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(host_key)))
        .unwrap();
    let pair = handshake_named(client, server, "api.example.com").unwrap();
    assert_eq!(peer_spiffe_id(&pair.server), Some(id(CLIENT)));
    // The server's certificate is not an SVID.
    assert_eq!(peer_spiffe_id(&pair.client), None);
}
