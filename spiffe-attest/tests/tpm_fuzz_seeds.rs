//! The checked-in seeds of the `tpm_messages` fuzz target (fuzz/seeds/tpm_messages/, recorded
//! from a real swtpm attestation by `SPIFFE_REGENERATE_SEEDS=1 cargo nextest run -p
//! spiffe-attest --features tpm regenerate_fuzz_seeds`) are what the target expects: the
//! payload passes the server's checks once its EK is pinned, as the target pins it.

use std::path::PathBuf;

use spiffe_attest::node::tpm::{fuzzing, TpmAttestorServer};
use spiffe_attest::node::{NodeAttestorServer, ServerStep};
use spiffe_core::TrustDomain;

fn seed(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds/tpm_messages")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

#[tokio::test]
async fn seed_payload_is_accepted_when_pinned() {
    let payload = seed("payload.bin");
    let hash = fuzzing::payload_ek_pub_hash(&payload).expect("seed payload parses");
    let server = TpmAttestorServer::new(TrustDomain::new("td").expect("td"))
        .with_pinned_ek_hash(&hash)
        .expect("pin");
    let mut attempt = server.begin();
    let step = attempt.step(&payload).await.expect("seed payload accepted");
    assert!(matches!(step, ServerStep::Challenge(_)));
    // The recorded response answers another attempt's challenge: rejected, not a panic.
    assert!(attempt.step(&seed("response.bin")).await.is_err());
    for name in ["payload.bin", "challenge.bin", "response.bin"] {
        fuzzing::parse_all(&seed(name));
    }
}
