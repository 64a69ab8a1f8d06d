//! The verifiers' cache of verified chains changes no verdict: a chain that verified is
//! rejected once it has expired, once its trust domain's bundle is replaced, and whenever the
//! authorizer now says no (it runs on every handshake).
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use common::*;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::ServerName;
use spiffe_core::x509::X509VerifyError;
use spiffe_core::{BundleSet, TrustDomain, X509Bundle, X509BundleSource, X509Svid};
use spiffe_tls::{Authorizer, PeerRejected, SpiffeServerCertVerifier};

const SERVER: &str = "spiffe://a.test/server";

/// Bundles the test replaces, as a Workload API source does on a bundle update.
struct Swappable(RwLock<Arc<BundleSet>>);

impl X509BundleSource for Swappable {
    fn x509_bundle_for(&self, trust_domain: &TrustDomain) -> Option<Arc<X509Bundle>> {
        self.0.read().unwrap().x509_bundle_for(trust_domain)
    }
}

fn check(
    verifier: &SpiffeServerCertVerifier,
    svid: &X509Svid,
    now: spiffe_core::pki_types::UnixTime,
) -> Result<(), PeerRejected> {
    let chain: Vec<_> = svid.chain().iter().map(|c| c.der().clone()).collect();
    let name = ServerName::try_from("ignored.invalid").unwrap();
    verifier
        .verify_server_cert(&chain[0], &chain[1..], &name, &[], now)
        .map(|_| ())
        .map_err(|e| PeerRejected::from_rustls(&e).unwrap().clone())
}

#[test]
fn an_expired_chain_is_rejected_after_it_verified() {
    let ca = Ca::new("a.test");
    let svid = ca.svid(SERVER);
    let verifier = SpiffeServerCertVerifier::new(bundles(&[&ca]), Authorizer::any(), provider());
    check(&verifier, &svid, now()).unwrap();
    check(&verifier, &svid, now()).unwrap();
    let later = at(svid.leaf().not_after().as_secs() + 1);
    assert!(matches!(
        check(&verifier, &svid, later),
        Err(PeerRejected::Svid(X509VerifyError::Expired { index: 0 }))
    ));
}

#[test]
fn a_replaced_bundle_rejects_a_chain_that_verified() {
    let ca = Ca::new("a.test");
    let svid = ca.svid(SERVER);
    let source = Arc::new(Swappable(RwLock::new(bundles(&[&ca]))));
    let verifier = SpiffeServerCertVerifier::new(source.clone(), Authorizer::any(), provider());
    check(&verifier, &svid, now()).unwrap();

    // Same trust domain, another authority: the old chain no longer verifies.
    let successor = Ca::new("a.test");
    *source.0.write().unwrap() = bundles(&[&successor]);
    assert!(matches!(
        check(&verifier, &svid, now()),
        Err(PeerRejected::Svid(_))
    ));

    // An equal bundle in a new object: verified again, from scratch, and accepted.
    *source.0.write().unwrap() = bundles(&[&ca]);
    check(&verifier, &svid, now()).unwrap();
}

#[test]
fn the_authorizer_runs_on_every_verification() {
    let ca = Ca::new("a.test");
    let svid = ca.svid(SERVER);
    let calls = Arc::new(AtomicUsize::new(0));
    let allow = Arc::new(AtomicBool::new(true));
    let authorizer = {
        let (calls, allow) = (calls.clone(), allow.clone());
        Authorizer::from_fn(move |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            allow.load(Ordering::SeqCst)
        })
    };
    let verifier = SpiffeServerCertVerifier::new(bundles(&[&ca]), authorizer, provider());
    for _ in 0..3 {
        check(&verifier, &svid, now()).unwrap();
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    allow.store(false, Ordering::SeqCst);
    assert_eq!(
        check(&verifier, &svid, now()),
        Err(PeerRejected::Unauthorized {
            spiffe_id: id(SERVER)
        })
    );
}
