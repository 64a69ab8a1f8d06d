//! Fuzz target: the server half of the `tpm` node attestor (spiffe-attest), which parses the
//! agent's untrusted messages and the TPM structures inside them (`TPMT_PUBLIC`, `TPMS_ATTEST`,
//! `TPMT_SIGNATURE`).
//!
//! Nothing may panic; accepted messages re-encode to themselves. A server whose EK pin is the
//! seed payload's EK runs each input as a payload (so mutations of the seed reach the AK checks
//! and the software `TPM2_MakeCredential`); a challenge it issues must parse, and the same
//! input fed as the response must be rejected (it cannot hold the fresh secret).
//! Seeds: `fuzz/seeds/tpm_messages/`, recorded from a real swtpm attestation
//! (`spiffe-attest/tests/tpm.rs`, `regenerate_fuzz_seeds`).
#![no_main]

use std::future::Future;
use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use spiffe_attest::node::tpm::{fuzzing, TpmServer};
use spiffe_attest::node::{NodeAttestorServer, ServerStep};
use spiffe_core::TrustDomain;

const SEED_PAYLOAD: &[u8] = include_bytes!("../seeds/tpm_messages/payload.bin");

fn server() -> &'static TpmServer {
    static SERVER: OnceLock<TpmServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let hash = fuzzing::payload_ek_pub_hash(SEED_PAYLOAD).expect("seed payload parses");
        TpmServer::new(TrustDomain::new("td").expect("td"))
            .with_pinned_ek_hash(&hash)
            .expect("pin")
    })
}

/// The server's steps never wait on anything: one poll completes them.
fn ready<T>(future: impl Future<Output = T>) -> T {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a tpm server step was pending"),
    }
}

fuzz_target!(|input: &[u8]| {
    fuzzing::parse_all(input);
    let mut attempt = server().begin();
    if let Ok(ServerStep::Challenge(challenge)) = ready(attempt.step(input)) {
        fuzzing::parse_all(&challenge);
        assert!(
            ready(attempt.step(input)).is_err(),
            "a payload is no answer"
        );
    }
});
