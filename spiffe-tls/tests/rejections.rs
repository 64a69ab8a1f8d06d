//! Rejected peers, each with the error the application sees.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::*;
use rustls::version::{TLS12, TLS13};
use rustls::{ClientConfig, SupportedProtocolVersion};
use spiffe_core::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use spiffe_core::x509::X509VerifyError;
use spiffe_core::{Certificate, TrustDomain, X509Bundle};
use spiffe_tls::{
    mtls_client_config, mtls_server_config, tls_client_config, tls_server_config, Authorizer,
    PeerRejected, SpiffeServerCertVerifier,
};

fn rejection(error: &rustls::Error) -> &PeerRejected {
    PeerRejected::from_rustls(error).unwrap_or_else(|| panic!("not a SPIFFE rejection: {error:?}"))
}

#[test]
fn server_of_an_untrusted_trust_domain() {
    let a = Ca::new("a.test");
    let b = Ca::new("b.test");
    let client = tls_client_config(provider(), bundles(&[&a]), Authorizer::any()).unwrap();
    let server = tls_server_config(provider(), b.svid("spiffe://b.test/server")).unwrap();
    let error = handshake(client, server).err().unwrap().client();
    assert_eq!(
        rejection(&error),
        &PeerRejected::Svid(X509VerifyError::NoBundle {
            trust_domain: TrustDomain::new("b.test").unwrap()
        })
    );
    // rustls shows the structured form; our message names the trust domain.
    assert!(error.to_string().contains("NoBundle"), "{error}");
    assert!(
        rejection(&error)
            .to_string()
            .contains("no X.509 bundle for trust domain b.test"),
        "{error}"
    );
}

#[test]
fn same_trust_domain_name_other_ca() {
    // A CA that calls itself a.test but is not in the bundle: path validation fails.
    let real = Ca::new("a.test");
    let impostor = Ca::new("a.test");
    let client = tls_client_config(provider(), bundles(&[&real]), Authorizer::any()).unwrap();
    let server = tls_server_config(provider(), impostor.svid("spiffe://a.test/server")).unwrap();
    let error = handshake(client, server).err().unwrap().client();
    assert!(
        matches!(rejection(&error), PeerRejected::Svid(_)),
        "{error}"
    );
}

fn unauthorized_client(version: &'static SupportedProtocolVersion) {
    let ca = Ca::new("a.test");
    let provider = provider();
    let client = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[version])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(SpiffeServerCertVerifier::new(
            bundles(&[&ca]),
            Authorizer::any(),
            provider.clone(),
        )))
        .with_client_cert_resolver(Arc::new(spiffe_tls::SvidCertResolver::new(
            ca.svid("spiffe://a.test/intruder"),
            &provider,
        )));
    let server = mtls_server_config(
        provider,
        ca.svid("spiffe://a.test/server"),
        bundles(&[&ca]),
        Authorizer::exact(id("spiffe://a.test/client")),
    )
    .unwrap();
    let error = handshake(client, server).err().unwrap().server();
    assert_eq!(
        rejection(&error),
        &PeerRejected::Unauthorized {
            spiffe_id: id("spiffe://a.test/intruder")
        }
    );
    assert!(
        error
            .to_string()
            .contains(r#"Unauthorized { spiffe_id: SpiffeId("spiffe://a.test/intruder") }"#),
        "{error}"
    );
    assert_eq!(
        rejection(&error).to_string(),
        "peer SPIFFE ID spiffe://a.test/intruder is not authorized"
    );
}

#[test]
fn unauthorized_client_tls13() {
    unauthorized_client(&TLS13);
}

#[test]
fn unauthorized_client_tls12() {
    unauthorized_client(&TLS12);
}

#[test]
fn unauthorized_server() {
    let ca = Ca::new("a.test");
    let client = mtls_client_config(
        provider(),
        ca.svid("spiffe://a.test/client"),
        bundles(&[&ca]),
        Authorizer::path_prefix(ca.authority.trust_domain(), "/db").unwrap(),
    )
    .unwrap();
    let server = tls_server_config(provider(), ca.svid("spiffe://a.test/dbx")).unwrap();
    let error = handshake(client, server).err().unwrap().client();
    assert_eq!(
        rejection(&error),
        &PeerRejected::Unauthorized {
            spiffe_id: id("spiffe://a.test/dbx")
        }
    );
}

#[test]
fn closure_authorizer_can_refuse() {
    let ca = Ca::new("a.test");
    let client = tls_client_config(
        provider(),
        bundles(&[&ca]),
        Authorizer::from_fn(|svid| svid.spiffe_id().path().ends_with("/ok")),
    )
    .unwrap();
    let server = tls_server_config(provider(), ca.svid("spiffe://a.test/nope")).unwrap();
    let error = handshake(client, server).err().unwrap().client();
    assert!(matches!(
        rejection(&error),
        PeerRejected::Unauthorized { .. }
    ));
}

#[test]
fn expired_server_leaf() {
    let ca = Ca::new("a.test");
    // Minted two days ago with a one-hour TTL.
    let stale = ca.svid_at("spiffe://a.test/server", at(now().as_secs() - 2 * DAY));
    let client = tls_client_config(provider(), bundles(&[&ca]), Authorizer::any()).unwrap();
    let server = tls_server_config(provider(), stale).unwrap();
    let error = handshake(client, server).err().unwrap().client();
    assert_eq!(
        rejection(&error),
        &PeerRejected::Svid(X509VerifyError::Expired { index: 0 })
    );
    assert!(
        error.to_string().contains("Expired { index: 0 }"),
        "{error}"
    );
    assert!(
        rejection(&error)
            .to_string()
            .contains("expired or not yet valid"),
        "{error}"
    );
}

#[test]
fn not_yet_valid_client_leaf() {
    let ca = Ca::new("a.test");
    let early = ca.svid_at("spiffe://a.test/client", at(now().as_secs() + DAY));
    let client = mtls_client_config(provider(), early, bundles(&[&ca]), Authorizer::any()).unwrap();
    let server = mtls_server_config(
        provider(),
        ca.svid("spiffe://a.test/server"),
        bundles(&[&ca]),
        Authorizer::any(),
    )
    .unwrap();
    let error = handshake(client, server).err().unwrap().server();
    assert_eq!(
        rejection(&error),
        &PeerRejected::Svid(X509VerifyError::Expired { index: 0 })
    );
}

#[test]
fn client_leaf_with_ca_true() {
    use rcgen::{string::Ia5String, SanType};
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};

    // spiffe-ca never mints such a leaf, so rcgen does: a CA, then a "leaf" with cA=TRUE.
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.subject_alt_names = vec![SanType::URI(
        Ia5String::try_from("spiffe://evil.test").unwrap(),
    )];
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    leaf_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    leaf_params.subject_alt_names = vec![SanType::URI(
        Ia5String::try_from("spiffe://evil.test/w").unwrap(),
    )];
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();

    let td = TrustDomain::new("evil.test").unwrap();
    let bundle = Arc::new(X509Bundle::from_authorities(
        td,
        vec![Certificate::from_der(ca_cert.der().clone()).unwrap()],
    ));
    let ours = Ca::new("a.test");
    let mut set = spiffe_core::BundleSet::new();
    set.insert_x509(bundle);
    set.insert_x509(ours.bundle());

    let provider = provider();
    let client = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(SpiffeServerCertVerifier::new(
            bundles(&[&ours]),
            Authorizer::any(),
            provider.clone(),
        )))
        .with_client_auth_cert(
            vec![CertificateDer::from(leaf.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .unwrap();
    let server = mtls_server_config(
        provider,
        ours.svid("spiffe://a.test/server"),
        set,
        Authorizer::any(),
    )
    .unwrap();
    let error = handshake(client, server).err().unwrap().server();
    assert_eq!(
        rejection(&error),
        &PeerRejected::Svid(X509VerifyError::LeafIsCa)
    );
    assert!(error.to_string().contains("LeafIsCa"), "{error}");
    assert!(rejection(&error).to_string().contains("X509-21"), "{error}");
}

fn missing_client_certificate(version: &'static SupportedProtocolVersion) {
    let ca = Ca::new("a.test");
    let provider = provider();
    let client = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[version])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(SpiffeServerCertVerifier::new(
            bundles(&[&ca]),
            Authorizer::any(),
            provider.clone(),
        )))
        .with_no_client_auth();
    let server = mtls_server_config(
        provider,
        ca.svid("spiffe://a.test/server"),
        bundles(&[&ca]),
        Authorizer::any(),
    )
    .unwrap();
    let error = handshake(client, server).err().unwrap().server();
    assert_eq!(error, rustls::Error::NoCertificatesPresented);
}

#[test]
fn missing_client_certificate_tls13() {
    missing_client_certificate(&TLS13);
}

#[test]
fn missing_client_certificate_tls12() {
    missing_client_certificate(&TLS12);
}
