//! Fuzz target: decoding the Kubernetes API responses the k8s_psat server reads (TokenReview,
//! Pod, Node; `spiffe_attest::node::k8s_psat::decode_api_responses`) on arbitrary bytes, each
//! input split in three at two `\0` bytes.
//!
//! None may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spiffe_attest::node::k8s_psat::decode_api_responses;

fuzz_target!(|input: &[u8]| {
    let mut parts = input.splitn(3, |b| *b == 0);
    let review = parts.next().unwrap_or_default();
    let pod = parts.next().unwrap_or_default();
    let node = parts.next().unwrap_or_default();
    let _ = decode_api_responses(review, pod, node);
});
