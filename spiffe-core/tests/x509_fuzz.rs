//! Random and mutated input never panics the certificate parser or the verifier.

use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use spiffe_core::pki_types::{CertificateDer, UnixTime};
use spiffe_core::x509::{self, parse_certificates};
use spiffe_core::{Certificate, TrustDomain, X509Bundle};

fn seed() -> Vec<u8> {
    let pem =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/x509/36i-chain.pem"))
            .expect("seed chain");
    parse_certificates(&pem).expect("seed parses")[0]
        .der()
        .to_vec()
}

/// Exercises every accessor, so lazily evaluated parts are covered too.
fn poke(cert: &Certificate) {
    let _ = cert.spiffe_id();
    let _ = (
        cert.uri_sans().count(),
        cert.dns_sans().count(),
        cert.ip_sans().count(),
    );
    let _ = (cert.subject(), cert.issuer(), cert.serial_hex());
    let _ = (
        cert.public_key_algorithm(),
        cert.signature_algorithm(),
        cert.key_usage(),
    );
    let _ = format!("{cert:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_do_not_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(cert) = Certificate::from_der(CertificateDer::from(bytes.clone())) {
            poke(&cert);
        }
        let _ = parse_certificates(&bytes);
    }

    #[test]
    fn mutated_certificates_do_not_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut der = seed();
        for (at, byte) in edits {
            let i = at.index(der.len());
            der[i] = byte;
        }
        if truncate {
            der.truncate(cut.index(der.len()));
        }
        if let Ok(cert) = Certificate::from_der(CertificateDer::from(der)) {
            poke(&cert);
            let td = TrustDomain::new("td").expect("valid");
            let bundle = Arc::new(X509Bundle::from_authorities(td, vec![cert.clone()]));
            let now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_800_000_000));
            let _ = x509::verify_parsed(&[cert], &bundle, now);
        }
    }
}
