//! Fuzz target: X.509 certificate parsing, chain verification and SVID assembly (X509-*).
//!
//! Input layout: a 2-byte big-endian split point `s`, then `body`. All of `body` goes to
//! `x509::parse_certificates` (PEM or concatenated DER) and, certificate by certificate, to
//! `Certificate::from_der`; a parsed chain is verified with `x509::verify_parsed` against the
//! fixed bundle of `spiffe://td` (the `root-td.pem` CA of the test vectors) at a fixed time.
//! `body[..s]` and `body[s..]` go to `X509Svid::parse_der` as chain and key (WAPI-14).
//!
//! Nothing may panic; every accessor of an accepted certificate is exercised; a verified
//! SVID's ID is the leaf's ID and belongs to `td`; an accepted SVID agrees with its chain.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use spiffe_core::pki_types::{CertificateDer, UnixTime};
use spiffe_core::x509::{self, parse_certificates};
use spiffe_core::{Certificate, TrustDomain, X509Bundle, X509Svid};

/// The time of the X.509 test vectors (inside every vector certificate's validity).
const NOW_SECS: u64 = 1_800_000_000;

fn bundle() -> &'static Arc<X509Bundle> {
    static BUNDLE: OnceLock<Arc<X509Bundle>> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let roots = parse_certificates(include_bytes!(
            "../../spiffe-core/tests/data/x509/root-td.pem"
        ))
        .expect("the checked-in CA parses");
        let td = TrustDomain::new("td").expect("valid trust domain");
        Arc::new(X509Bundle::from_authorities(td, roots))
    })
}

/// Calls every accessor, so lazily decoded parts are covered too.
fn poke(cert: &Certificate) {
    if let Ok(Some(id)) = cert.spiffe_id() {
        // X509-2: a certificate's SPIFFE ID is one of its URI SANs.
        assert!(cert.uri_sans().any(|uri| uri == id.as_str()));
    }
    // uri_sans() skips non-ASCII entries, which uri_san_count() counts (X509-1).
    assert!(cert.uri_sans().count() <= cert.uri_san_count() as usize);
    let _ = (
        cert.dns_sans().count(),
        cert.ip_sans().count(),
        cert.san_critical(),
    );
    let _ = (
        cert.subject(),
        cert.issuer(),
        cert.serial_hex(),
        cert.serial(),
    );
    let _ = (cert.subject_der(), cert.issuer_der(), cert.is_self_issued());
    let _ = (cert.not_before(), cert.not_after(), cert.is_valid_at(now()));
    let _ = (
        cert.is_ca(),
        cert.has_basic_constraints(),
        cert.path_len_constraint(),
    );
    if let Some(ku) = cert.key_usage() {
        let _ = ku.names().count();
    }
    let _ = (cert.key_usage_critical(), cert.has_name_constraints());
    if let Some(eku) = cert.extended_key_usage() {
        let _ = (
            eku.server_auth(),
            eku.client_auth(),
            eku.any(),
            eku.other_count(),
        );
    }
    let _ = (cert.subject_public_key_info(), cert.public_key_algorithm());
    let _ = (
        cert.signature_algorithm(),
        cert.subject_key_id(),
        cert.authority_key_id(),
    );
    let _ = format!("{cert:?}");
}

fn now() -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(NOW_SECS))
}

fuzz_target!(|data: &[u8]| {
    let (split, body) = match data {
        [hi, lo, body @ ..] => (usize::from(u16::from_be_bytes([*hi, *lo])), body),
        _ => (0, data),
    };

    if let Ok(chain) = parse_certificates(body) {
        assert!(
            !chain.is_empty(),
            "NoCertificates is an error, not an empty list"
        );
        for cert in &chain {
            poke(cert);
            // One parser: re-parsing a certificate's own DER gives the same certificate.
            let again = Certificate::from_der(cert.der().clone()).expect("own DER re-parses");
            assert_eq!(again.der(), cert.der());
        }
        if let Ok(verified) = x509::verify_parsed(&chain, bundle(), now()) {
            assert_eq!(verified.leaf().der(), chain[0].der());
            assert_eq!(
                chain[0].spiffe_id().ok().flatten().as_ref(),
                Some(verified.spiffe_id())
            );
            assert_eq!(verified.spiffe_id().trust_domain().as_str(), "td");
            assert!(
                !verified.spiffe_id().path().is_empty(),
                "X509-24: leaf path is non-root"
            );
            assert!(!verified.leaf().is_ca(), "X509-21: a leaf is not a CA");
            assert!(
                verified.leaf().key_usage().is_some_and(|ku| ku.digital_signature()),
                "X509-17: a leaf has digitalSignature"
            );
        }
    }
    if let Ok(cert) = Certificate::from_der(CertificateDer::from(body.to_vec())) {
        poke(&cert);
    }

    let split = split.min(body.len());
    let (chain_der, key_der) = body.split_at(split);
    if let Ok(svid) = X509Svid::parse_der(chain_der, key_der) {
        assert_eq!(svid.leaf().der(), svid.chain()[0].der());
        assert_eq!(
            svid.leaf().spiffe_id().ok().flatten().as_ref(),
            Some(svid.spiffe_id())
        );
        assert!(X509Svid::key_matches(svid.leaf(), svid.private_key()).is_ok());
    }
});
