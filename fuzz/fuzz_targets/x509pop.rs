//! Fuzz target: the x509pop payload and challenge response, as the server receives them.
//!
//! Input: a 2-byte big-endian split point, then a body; `body[..s]` is the payload and
//! `body[s..]` the challenge response. The server (CA: `spiffe-core/tests/data/x509/root-td.pem`,
//! time 1800000000) must never panic, and must never attest: the fuzzer cannot sign a fresh
//! nonce. `parse_payload` and `parse_response` on the whole body must not panic either.
#![no_main]

use std::future::Future;
use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use spiffe_attest::node::x509pop::{parse_payload, parse_response, X509PopServer};
use spiffe_attest::node::{NodeAttestorServer, ServerStep};
use spiffe_core::pki_types::UnixTime;
use spiffe_core::TrustDomain;

fn attestor() -> &'static X509PopServer {
    static ATTESTOR: OnceLock<X509PopServer> = OnceLock::new();
    ATTESTOR.get_or_init(|| {
        let roots = spiffe_core::x509::parse_certificates(include_bytes!(
            "../../spiffe-core/tests/data/x509/root-td.pem"
        ))
        .expect("fixture parses");
        X509PopServer::new(TrustDomain::new("td").expect("valid"), roots)
            .expect("one CA")
            .with_clock(|| UnixTime::since_unix_epoch(Duration::from_secs(1_800_000_000)))
    })
}

/// The x509pop server never awaits anything: one poll completes it.
fn now<T>(future: impl Future<Output = T>) -> T {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("x509pop server step is synchronous"),
    }
}

fuzz_target!(|input: &[u8]| {
    let (split, body) = match input {
        [a, b, body @ ..] => (usize::from(u16::from_be_bytes([*a, *b])), body),
        _ => return,
    };
    let _ = parse_payload(body);
    let _ = parse_response(body);
    let split = split.min(body.len());
    let (payload, response) = body.split_at(split);

    let mut attempt = attestor().begin();
    if let Ok(ServerStep::Challenge(challenge)) = now(attempt.step(payload)) {
        assert!(!challenge.is_empty());
        let result = now(attempt.step(response));
        assert!(
            !matches!(result, Ok(ServerStep::Attested(_))),
            "attested without signing the fresh nonce"
        );
    }
});
