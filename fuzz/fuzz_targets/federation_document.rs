//! Fuzz target: a bundle document as a federation bundle endpoint client receives it from an
//! untrusted endpoint (FED-7, FED-17, BUNDLE-3..17).
//!
//! `parse_bundle_document` must not panic; what it accepts is within the size cap, holds at
//! least one key, names no other trust domain in its X.509 authorities, and is exactly what
//! `SpiffeBundle::parse` reads from the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spiffe_core::{SpiffeBundle, TrustDomain};
use spiffe_workload::federation::{parse_bundle_document, MAX_DOCUMENT_SIZE};

fuzz_target!(|data: &[u8]| {
    let td = TrustDomain::new("td").expect("valid trust domain");
    if let Ok(bundle) = parse_bundle_document(&td, data) {
        assert!(data.len() <= MAX_DOCUMENT_SIZE);
        assert!(!(bundle.x509_authorities().is_empty() && bundle.jwt_authorities().is_empty()));
        for authority in bundle.x509_authorities().authorities() {
            if let Ok(Some(id)) = authority.spiffe_id() {
                assert_eq!(id.trust_domain(), td, "authority of another trust domain");
            }
        }
        assert_eq!(SpiffeBundle::parse(td.clone(), data).as_ref(), Ok(&bundle));
    }
});
