//! Fuzz target: decoding a Docker Engine `GET /containers/{id}/json` response into `docker`
//! selectors (`spiffe_attest::workload::docker::selectors_from_inspect`) on arbitrary bytes.
//!
//! None may panic. Every selector produced is of type `docker` and one of `label:`, `env:` or
//! `image_id:`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spiffe_attest::workload::docker::selectors_from_inspect;

fuzz_target!(|input: &[u8]| {
    if let Ok(selectors) = selectors_from_inspect(input) {
        for s in selectors {
            assert_eq!(s.selector_type(), "docker");
            let v = s.value();
            assert!(
                v.starts_with("label:") || v.starts_with("env:") || v.starts_with("image_id:"),
                "{v}"
            );
        }
    }
});
