//! Fuzz target: trust-bundle documents (BUNDLE-3..17, X509-27..31, JWT-16/17) on arbitrary
//! bytes.
//!
//! `SpiffeBundle::parse`, `SpiffeBundle::parse_any`, `BundleFile::parse`, `BundleMap::parse` and
//! `JwtBundle::parse_jwks` must not panic, and whatever they accept must survive a round trip
//! through its writer: `parse(to_json(b)) == b`. A file read without a trust domain holds the
//! same authorities as when read with one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spiffe_core::bundle::{BundleFile, BundleFormat};
use spiffe_core::{BundleMap, JwtBundle, SpiffeBundle, TrustDomain};

fuzz_target!(|data: &[u8]| {
    let td = TrustDomain::new("td").expect("valid trust domain");

    if let Ok(bundle) = SpiffeBundle::parse(td.clone(), data) {
        let again = SpiffeBundle::parse(td.clone(), &bundle.to_json());
        assert_eq!(again.as_ref(), Ok(&bundle), "SpiffeBundle round trip");
        let compact = SpiffeBundle::parse(td.clone(), &bundle.to_json_compact());
        assert_eq!(
            compact.as_ref(),
            Ok(&bundle),
            "SpiffeBundle compact round trip"
        );
    }

    if let Ok((bundle, format)) = SpiffeBundle::parse_any(td.clone(), data) {
        assert_eq!(bundle.trust_domain(), &td);
        let again = SpiffeBundle::parse(td.clone(), &bundle.to_json());
        assert_eq!(
            again.as_ref(),
            Ok(&bundle),
            "parse_any ({format:?}) round trip"
        );
        match format {
            BundleFormat::Jwks => assert!(bundle.x509_authorities().is_empty()),
            BundleFormat::Pem | BundleFormat::Der => assert!(bundle.jwt_authorities().is_empty()),
            _ => {}
        }
    }

    if let Ok(file) = BundleFile::parse(data, None) {
        let named = BundleFile::parse(data, Some(&td)).expect("parses with a trust domain too");
        assert_eq!(file.format(), named.format());
        assert_eq!(file.x509_authorities(), named.x509_authorities());
        assert_eq!(file.diagnostics(), named.diagnostics());
        if let Some(bundle) = named.bundle() {
            assert_eq!(bundle.trust_domain(), &td);
        }
    }

    if let Ok(map) = BundleMap::parse(data) {
        let again = BundleMap::parse(&map.to_json());
        assert_eq!(again.as_ref(), Ok(&map), "BundleMap round trip");
        let compact = BundleMap::parse(&map.to_json_compact());
        assert_eq!(compact.as_ref(), Ok(&map), "BundleMap compact round trip");
    }

    if let Ok(jwt) = JwtBundle::parse_jwks(td.clone(), data) {
        let again = JwtBundle::parse_jwks(td.clone(), &jwt.to_jwks_json());
        assert_eq!(again.as_ref(), Ok(&jwt), "JwtBundle round trip");
    }
});
