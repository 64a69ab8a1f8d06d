//! Fuzz target: SPIFFE ID and trust-domain parsing (ID-1..ID-17) on arbitrary UTF-8.
//!
//! Neither constructor may panic; an accepted input must display as itself, re-parse to an
//! equal value, and agree between `SpiffeId::new` and `TrustDomain::new`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spiffe_core::{SpiffeId, TrustDomain};

fuzz_target!(|input: &str| {
    if let Ok(id) = SpiffeId::new(input) {
        assert_eq!(id.to_string(), input, "display round trip");
        assert!(input.len() <= spiffe_core::id::MAX_ID_LEN, "ID-14/15 length limit");
        let again = SpiffeId::new(&id.to_string()).expect("a displayed ID re-parses");
        assert_eq!(again, id);
        // The trust domain of an accepted ID is itself a valid trust domain, in both forms.
        let td = id.trust_domain();
        assert_eq!(TrustDomain::new(td.as_str()).ok(), Some(td.clone()));
        assert_eq!(TrustDomain::new(input).ok(), Some(td.clone()));
        assert!(id.is_member_of(&td));
        // Segments rebuild the same ID.
        let rebuilt = SpiffeId::from_segments(&td, id.segments()).expect("segments are valid");
        assert_eq!(rebuilt, id);
        assert_eq!(SpiffeId::from_path(&td, id.path()).ok(), Some(id.clone()));
    }
    if let Ok(td) = TrustDomain::new(input) {
        assert!(td.as_str().len() <= spiffe_core::id::MAX_TRUST_DOMAIN_LEN, "ID-16");
        let id = td.id();
        assert_eq!(id.as_str(), format!("spiffe://{}", td.as_str()));
        assert_eq!(SpiffeId::new(id.as_str()).ok(), Some(id));
    }
});
