//! The `-data` file of `spiffe-server entry create|update` (SPIRE's `common.RegistrationEntries`
//! as Go's `encoding/json` reads it).
//!
//! Input: bytes. `parse_entries_json` never panics; every entry it accepts has a parent and a
//! SPIFFE ID that form valid SPIFFE IDs (ID-1..ID-16), federated trust domains that are bare
//! valid names, and nothing it accepts changes when its IDs are parsed again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spiffe_core::{SpiffeId, TrustDomain};
use spire_api_proto::cli_text::parse_entries_json;

fuzz_target!(|data: &[u8]| {
    let Ok(entries) = parse_entries_json(data) else { return };
    for e in &entries {
        for id in [e.spiffe_id.as_ref(), e.parent_id.as_ref()] {
            let id = id.expect("an accepted entry has both IDs");
            let text = format!("spiffe://{}{}", id.trust_domain, id.path);
            let parsed = SpiffeId::new(&text).expect("an accepted ID parses");
            assert_eq!(parsed.trust_domain_name(), id.trust_domain);
            assert_eq!(parsed.path(), id.path);
        }
        for td in &e.federates_with {
            let parsed = TrustDomain::new(td).expect("a federated trust domain is a valid name");
            assert_eq!(parsed.as_str(), td, "federated trust domains are normalized to names");
        }
    }
});
