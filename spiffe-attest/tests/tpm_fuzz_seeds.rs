//! The checked-in seeds of the `tpm_messages` fuzz target (fuzz/seeds/tpm_messages/, recorded
//! from a real swtpm attestation by `SPIFFE_REGENERATE_SEEDS=1 cargo nextest run -p
//! spiffe-attest --features tpm regenerate_fuzz_seeds`) are what the target expects: the
//! payload passes the server's checks once its EK is pinned, as the target pins it. The
//! recorded payload also serves to check that the server refuses keys with the wrong
//! attributes.

use std::path::PathBuf;

use spiffe_attest::node::tpm::{fuzzing, TpmError, TpmServer};
use spiffe_attest::node::{NodeAttestorServer, ServerStep};
use spiffe_attest::AttestError;
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
    let server = TpmServer::new(TrustDomain::new("td").expect("td"))
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

/// Offsets of the EK and AK `TPMT_PUBLIC` inside a payload.
fn key_offsets(payload: &[u8]) -> (usize, usize) {
    let len = |at: usize| usize::from(u16::from_be_bytes([payload[at], payload[at + 1]]));
    let ek = 3;
    let cert = ek + len(1);
    let ak = cert + 2 + len(cert) + 2;
    (ek, ak)
}

async fn rejection(payload: &[u8]) -> String {
    let hash = fuzzing::payload_ek_pub_hash(&seed("payload.bin")).expect("seed payload parses");
    let server = TpmServer::new(TrustDomain::new("td").expect("td"))
        .with_pinned_ek_hash(&hash)
        .expect("pin");
    let err = server.begin().step(payload).await.expect_err("rejected");
    let AttestError::Plugin { source, .. } = err else {
        panic!("not a plugin error: {err}")
    };
    match source.downcast_ref::<TpmError>() {
        Some(e @ TpmError::KeyRejected { .. }) => e.to_string(),
        other => panic!("expected KeyRejected, got {other:?}"),
    }
}

#[tokio::test]
async fn key_attributes_are_checked() {
    let payload = seed("payload.bin");
    let (ek, ak) = key_offsets(&payload);
    // TPMT_PUBLIC: type u16, nameAlg u16, objectAttributes u32 (bits 16-23 in its second byte).
    let attr = |key: usize| key + 4 + 1;

    let mut p = payload.clone();
    p[attr(ak)] &= !0x01; // AK not restricted: it could sign a forged quote
    assert!(rejection(&p).await.contains("attestation key"));
    let mut p = payload.clone();
    p[attr(ak)] |= 0x02; // AK also a decryption key
    assert!(rejection(&p).await.contains("attestation key"));
    let mut p = payload.clone();
    p[ak + 4 + 3] &= !0x02; // AK not fixedTPM: it could have been imported
    assert!(rejection(&p).await.contains("attestation key"));
    let mut p = payload.clone();
    p[attr(ek)] |= 0x04; // EK a signing key
    assert!(rejection(&p).await.contains("endorsement key"));
    let mut p = payload.clone();
    p[ek + 3] = 0x0c; // EK name algorithm SHA-384
    assert!(rejection(&p).await.contains("endorsement key"));
}
