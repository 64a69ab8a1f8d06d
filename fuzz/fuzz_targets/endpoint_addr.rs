//! Fuzz target: Workload API endpoint addresses (`SPIFFE_ENDPOINT_SOCKET`, WEP-8..11) on
//! arbitrary UTF-8.
//!
//! Parsing must not panic; an accepted address must display as an address that parses back to
//! the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spiffe_workload::EndpointAddress;

fuzz_target!(|input: &str| {
    if let Ok(address) = EndpointAddress::parse(input) {
        let shown = address.to_string();
        let again = EndpointAddress::parse(&shown).expect("a displayed address re-parses");
        assert_eq!(again, address, "display round trip of {shown:?}");
        if let Some(path) = address.unix_path() {
            assert!(path.is_absolute(), "WEP-10: absolute path");
        }
    }
});
