//! The `tpm` node attestor: an agent proves it runs on a machine with a particular TPM 2.0.
//!
//! 1. The agent sends its endorsement key (EK, from the TCG default RSA-2048 template), the
//!    EK certificate if it has one, and a fresh attestation key (AK: a restricted RSA signing
//!    key created under the EK).
//! 2. The server trusts the EK if its public key hash is pinned or its certificate was issued
//!    by a configured manufacturer CA, checks the AK's attributes, and computes
//!    `TPM2_MakeCredential` in software: a random secret that only a TPM holding both that EK
//!    and an object with the AK's name can recover. It sends it with a random nonce and the
//!    PCR selection to quote.
//! 3. The agent's TPM recovers the secret (`TPM2_ActivateCredential`) and quotes the PCRs with
//!    the nonce as qualifying data, signed by the AK; the agent sends both with the PCR values.
//! 4. The server checks the secret, the quote's signature with the AK (now known to live in
//!    the same TPM as the EK), the nonce, the PCR selection and digest, and names the agent
//!    `spiffe://<td>/spire/agent/tpm/<pub hash>` with selector `tpm:pub_hash:<pub hash>`
//!    (the form of SPIRE's TPM plugin; the hash is the SHA-256 of the EK's PKIX public key).
//!
//! The server half ([`TpmServer`]) is pure Rust and always built; the agent half
//! (`TpmAgent`) needs the `tpm` feature (tpm2-tss through `tss-esapi`).

mod credential;
mod ek_cert;
mod error;
mod pcr;
mod server;
mod structures;
mod wire;

#[cfg(feature = "tpm")]
mod agent;

#[cfg(feature = "tpm")]
pub use agent::TpmAgent;
pub use error::TpmError;
pub use pcr::PcrSelection;
pub use server::TpmServer;

/// The plugin name, selector type and agent ID segment.
const PLUGIN: &str = "tpm";

/// Entry points for the fuzz target: the server-side parsers of untrusted input. Not part of
/// the stable API.
#[doc(hidden)]
pub mod fuzzing {
    use super::{structures, wire, TpmError};

    /// Parses `data` as each of the agent's messages and the TPM structures inside them.
    pub fn parse_all(data: &[u8]) {
        if let Ok(p) = wire::Payload::decode(data) {
            let _ =
                structures::RsaPublic::parse(&p.ek_public, "endorsement key").map(|k| k.spki_der());
            let _ = structures::RsaPublic::parse(&p.ak_public, "attestation key");
            assert_eq!(wire::Payload::decode(&p.encode()).ok(), Some(p));
        }
        if let Ok(r) = wire::Response::decode(data) {
            let _ = structures::Quote::parse(&r.attest);
            let _ = structures::parse_rsassa_sha256_signature(&r.signature);
            assert_eq!(wire::Response::decode(&r.encode()).ok(), Some(r));
        }
        let _ = wire::Challenge::decode(data);
        let _: Result<_, TpmError> = structures::RsaPublic::parse(data, "key");
        let _ = structures::Quote::parse(data);
    }

    /// The EK public key hash of a payload, if it parses (to pin the EK of a seed payload).
    pub fn payload_ek_pub_hash(payload: &[u8]) -> Option<String> {
        let p = wire::Payload::decode(payload).ok()?;
        let ek = structures::RsaPublic::parse(&p.ek_public, "endorsement key").ok()?;
        let spki = ek.spki_der();
        Some(super::server::hex(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &spki).as_ref(),
        ))
    }
}
