//! Fuzz target: the `join_token` node attestation payload (raw token bytes from the network).
//!
//! Parsing must not panic; an accepted token is 1..=256 bytes of SPIFFE ID path segment
//! characters, and the agent ID built from it is `spiffe://td/spire/agent/join_token/<token>`.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use spiffe_attest::node::join_token::{InMemoryJoinTokenStore, JoinToken, JoinTokenServer};
use spiffe_core::TrustDomain;

fn attestor() -> &'static JoinTokenServer {
    static ATTESTOR: OnceLock<JoinTokenServer> = OnceLock::new();
    ATTESTOR.get_or_init(|| {
        JoinTokenServer::new(
            TrustDomain::new("td").expect("valid trust domain"),
            Arc::new(InMemoryJoinTokenStore::new()),
        )
    })
}

fuzz_target!(|input: &[u8]| {
    if let Ok(token) = JoinToken::from_payload(input) {
        assert_eq!(token.expose().as_bytes(), input);
        assert!(!input.is_empty() && input.len() <= 256);
        let id = attestor()
            .agent_id(&token)
            .expect("an accepted token forms an agent ID");
        assert_eq!(
            id.as_str(),
            format!("spiffe://td/spire/agent/join_token/{}", token.expose())
        );
    }
});
