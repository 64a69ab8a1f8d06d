//! Fuzz target: the Workload API server's `:authority` rewriter (`spiffe_workload::server`,
//! Unix-socket connections), which reads the client's HTTP/2 byte stream below h2.
//!
//! The input is a client byte stream (the seeds start with the preface and a SETTINGS frame).
//! The rewriter must not panic, and when it accepts the input, the stream h2 would read holds
//! the same frames and header fields in the same order, every `:authority` replaced by
//! `localhost`, and never touches h2's HPACK table; observe mode (TCP) changes no byte.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let _ = spiffe_workload::server::fuzzing::check_rewrite(input);
});
