//! `peer_spiffe_id` reports only what a SPIFFE verifier checked: in a mixed mode, a certificate
//! verified against Web PKI roots yields no SPIFFE ID even when it carries a `spiffe://` URI.
//! And the verifiers' named leniency for go-spiffe `Verify`-compatible leaves.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::*;
use rcgen::string::Ia5String;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType};
use rustls::client::WebPkiServerVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use spiffe_core::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use spiffe_core::x509::{X509VerifyError, X509VerifyOptions};
use spiffe_core::{BundleSet, Certificate, TrustDomain, X509Bundle};
use spiffe_tls::{
    peer_spiffe_id, Authorizer, ClientConfigBuilder, PeerRejected, ServerConfigBuilder,
    SpiffeServerCertVerifier,
};

const CLIENT: &str = "spiffe://a.test/client";
const SERVER: &str = "spiffe://a.test/server";

/// A Web PKI CA (rcgen), its root store, and leaves it signs.
struct WebCa {
    cert: rcgen::Certificate,
    issuer: Issuer<'static, KeyPair>,
}

impl WebCa {
    fn new() -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        let cert = params.self_signed(&key).unwrap();
        Self {
            cert,
            issuer: Issuer::new(params, key),
        }
    }

    fn roots(&self) -> Arc<rustls::RootCertStore> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert.der().clone()).unwrap();
        Arc::new(roots)
    }

    /// A leaf for `dns` that also carries the URI SAN `uri`, valid for Web PKI.
    fn leaf(&self, dns: &str, uri: &str) -> CertifiedKey {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![dns.to_owned()]).unwrap();
        params
            .subject_alt_names
            .push(SanType::URI(Ia5String::try_from(uri).unwrap()));
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        CertifiedKey::from_der(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            &provider(),
        )
        .unwrap()
    }
}

#[test]
fn a_webpki_verified_server_with_a_spiffe_uri_yields_no_spiffe_id() {
    let web = WebCa::new();
    let ca = Ca::new("a.test");
    let webpki = WebPkiServerVerifier::builder_with_provider(web.roots(), provider())
        .build()
        .unwrap();
    let client = ClientConfigBuilder::new(provider())
        .verify_server_with(webpki)
        .with_svid(ca.svid(CLIENT))
        .unwrap();
    // The server's Web PKI certificate claims a SPIFFE ID of the client's own trust domain.
    let host = web.leaf("api.example.com", SERVER);
    let server = ServerConfigBuilder::new(provider())
        .verify_clients(bundles(&[&ca]), Authorizer::exact(id(CLIENT)))
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(host)))
        .unwrap();

    let pair = handshake_named(client, server, "api.example.com").unwrap();
    // The URI is there, but only Web PKI vouched for the certificate.
    let leaf = pair.client.peer_certificates().unwrap()[0].clone();
    let claimed = Certificate::from_der(leaf).unwrap().spiffe_id().unwrap();
    assert_eq!(claimed, Some(id(SERVER)));
    assert_eq!(peer_spiffe_id(&pair.client), None);
    // The client's SVID went through the SPIFFE verifier.
    assert_eq!(peer_spiffe_id(&pair.server), Some(id(CLIENT)));
}

#[test]
fn a_webpki_verified_client_with_a_spiffe_uri_yields_no_spiffe_id() {
    let web = WebCa::new();
    let ca = Ca::new("a.test");
    let webpki = WebPkiClientVerifier::builder_with_provider(web.roots(), provider())
        .build()
        .unwrap();
    let server = ServerConfigBuilder::new(provider())
        .verify_clients_with(webpki)
        .with_svid(ca.svid(SERVER))
        .unwrap();
    let client_cert = web.leaf("client.example.com", CLIENT);
    let client = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(SpiffeServerCertVerifier::new(
            bundles(&[&ca]),
            Authorizer::exact(id(SERVER)),
            provider(),
        )))
        .with_client_cert_resolver(Arc::new(SingleCertAndKey::from(client_cert)));

    let pair = handshake(client, server).unwrap();
    assert_eq!(peer_spiffe_id(&pair.server), None);
    assert_eq!(peer_spiffe_id(&pair.client), Some(id(SERVER)));
}

/// A SPIFFE CA (rcgen) whose leaf has keyUsage keyEncipherment only (conformance case 48).
fn leaf_without_digital_signature() -> (Arc<BundleSet>, CertifiedKey) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.subject_alt_names = vec![SanType::URI(
        Ia5String::try_from("spiffe://old.test").unwrap(),
    )];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(Vec::<String>::new()).unwrap();
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![KeyUsagePurpose::KeyEncipherment];
    leaf.subject_alt_names = vec![SanType::URI(
        Ia5String::try_from("spiffe://old.test/w").unwrap(),
    )];
    let leaf = leaf.signed_by(&key, &issuer).unwrap();
    let mut set = BundleSet::new();
    set.insert_x509(Arc::new(X509Bundle::from_authorities(
        TrustDomain::new("old.test").unwrap(),
        vec![Certificate::from_der(ca_cert.der().clone()).unwrap()],
    )));
    let certified = CertifiedKey::from_der(
        vec![CertificateDer::from(leaf.der().to_vec())],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        &provider(),
    )
    .unwrap();
    (Arc::new(set), certified)
}

#[test]
fn x509_17_a_leaf_without_digital_signature_needs_the_named_leniency() {
    let (trust, server_cert) = leaf_without_digital_signature();
    let client_for = |verifier: SpiffeServerCertVerifier| {
        rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth()
    };
    let server = || {
        ServerConfigBuilder::new(provider())
            .without_client_auth()
            .with_cert_resolver(Arc::new(SingleCertAndKey::from(server_cert.clone())))
            .unwrap()
    };
    let strict = SpiffeServerCertVerifier::new(trust.clone(), Authorizer::any(), provider());
    let error = handshake(client_for(strict), server())
        .err()
        .unwrap()
        .client();
    assert_eq!(
        PeerRejected::from_rustls(&error),
        Some(&PeerRejected::Svid(
            X509VerifyError::LeafMissingDigitalSignature
        ))
    );
    // The rejection names the requirement (rustls prints its cause's structured Debug).
    let rejected = PeerRejected::from_rustls(&error).unwrap().to_string();
    assert!(rejected.contains("X509-17"), "{rejected}");

    let lenient = SpiffeServerCertVerifier::new(trust, Authorizer::any(), provider())
        .with_verify_options(X509VerifyOptions::new().accept_leaves_without_digital_signature());
    let pair = handshake(client_for(lenient), server()).unwrap();
    assert_eq!(
        peer_spiffe_id(&pair.client),
        Some(id("spiffe://old.test/w"))
    );
}
