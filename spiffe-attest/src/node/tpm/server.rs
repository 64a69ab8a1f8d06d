//! The server half: checks the endorsement key, challenges the agent with a credential only
//! its TPM can activate, and verifies a quote signed by the activated attestation key.

use std::collections::HashSet;
use std::sync::Arc;

use aws_lc_rs::signature::{RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};
use aws_lc_rs::{constant_time, digest, rand};
use spiffe_core::pki_types::{CertificateDer, UnixTime};
use spiffe_core::x509::Certificate;
use spiffe_core::{SpiffeId, TrustDomain};

use super::credential::make_credential;
use super::ek_cert::verify_ek_certificate;
use super::structures::{self as st, object_name, parse_rsassa_sha256_signature, Quote, RsaPublic};
use super::wire::{Challenge, Payload, Response};
use super::{PcrSelection, TpmError, PLUGIN};
use crate::node::{
    check_message_len, AttestedNode, NodeAttestorServer, ServerAttestation, ServerStep,
};
use spiffe_core::BoxFuture;

use crate::{AttestError, Selector};

/// Size of the credential secret and of the quote nonce.
const NONCE_LEN: usize = 32;

/// The server half of the `tpm` node attestor.
///
/// An EK is trusted when its public key hash is pinned ([`TpmServer::with_pinned_ek_hash`])
/// or when the agent sends an EK certificate issued by a configured manufacturer CA
/// ([`TpmServer::with_manufacturer_ca`]). The agent's SPIFFE ID is
/// `spiffe://<trust domain>/spire/agent/tpm/<pub hash>`, its selectors `tpm:pub_hash:<pub hash>`
/// and, with [`TpmServer::with_pcr_selectors`], `tpm:pcr:<index>:<sha256 hex>` for each
/// quoted PCR.
#[derive(Clone)]
pub struct TpmServer {
    inner: Arc<Config>,
}

#[derive(Clone)]
struct Config {
    trust_domain: TrustDomain,
    pinned: HashSet<String>,
    cas: Vec<Certificate>,
    pcrs: PcrSelection,
    pcr_selectors: bool,
    now: fn() -> UnixTime,
}

// === impl TpmServer ===

impl TpmServer {
    /// A server for `trust_domain` that trusts no EK yet, quoting the default PCRs
    /// ([`PcrSelection::default`]).
    pub fn new(trust_domain: TrustDomain) -> Self {
        Self {
            inner: Arc::new(Config {
                trust_domain,
                pinned: HashSet::new(),
                cas: Vec::new(),
                pcrs: PcrSelection::default(),
                pcr_selectors: false,
                now: UnixTime::now,
            }),
        }
    }

    fn config(&mut self) -> &mut Config {
        // Builders run before the server is shared; a shared config is copied first.
        Arc::make_mut(&mut self.inner)
    }

    /// Trusts the EK whose public key hash (64 hex digits: SHA-256 of its PKIX
    /// `SubjectPublicKeyInfo`, as `TpmAgent::ek_pub_hash` prints it) is `hash`.
    pub fn with_pinned_ek_hash(mut self, hash: &str) -> Result<Self, TpmError> {
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(TpmError::Config("an EK hash is 64 hex digits"));
        }
        self.config().pinned.insert(hash.to_ascii_lowercase());
        Ok(self)
    }

    /// Trusts EK certificates issued by this manufacturer CA certificate (DER).
    pub fn with_manufacturer_ca(mut self, ca: CertificateDer<'static>) -> Result<Self, TpmError> {
        let ca = Certificate::from_der(ca)
            .map_err(|_| TpmError::Config("manufacturer CA is not a valid certificate"))?;
        if !ca.is_ca() {
            return Err(TpmError::Config("manufacturer CA certificate is not a CA"));
        }
        self.config().cas.push(ca);
        Ok(self)
    }

    /// The PCRs (SHA-256 bank) the agent must quote.
    pub fn with_pcrs(mut self, pcrs: PcrSelection) -> Self {
        self.config().pcrs = pcrs;
        self
    }

    /// Whether to add a `tpm:pcr:<index>:<value>` selector for each quoted PCR.
    pub fn with_pcr_selectors(mut self, enabled: bool) -> Self {
        self.config().pcr_selectors = enabled;
        self
    }

    /// Uses `now` as the clock for EK certificate validity (tests).
    pub fn with_clock(mut self, now: fn() -> UnixTime) -> Self {
        self.config().now = now;
        self
    }
}

impl NodeAttestorServer for TpmServer {
    fn name(&self) -> &'static str {
        PLUGIN
    }

    fn begin(&self) -> Box<dyn ServerAttestation> {
        Box::new(Attempt {
            config: Arc::clone(&self.inner),
            state: State::AwaitingPayload,
        })
    }
}

impl std::fmt::Debug for TpmServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TpmServer")
            .field("trust_domain", &self.inner.trust_domain)
            .field("pinned", &self.inner.pinned.len())
            .field("cas", &self.inner.cas.len())
            .field("pcrs", &self.inner.pcrs)
            .finish()
    }
}

struct Attempt {
    config: Arc<Config>,
    state: State,
}

enum State {
    AwaitingPayload,
    AwaitingResponse(Box<Pending>),
    Done,
}

/// What the server remembers between its challenge and the agent's response.
struct Pending {
    secret: [u8; NONCE_LEN],
    nonce: [u8; NONCE_LEN],
    ak: RsaPublic,
    pub_hash: String,
}

// === impl Attempt ===

impl ServerAttestation for Attempt {
    fn step<'a>(&'a mut self, message: &'a [u8]) -> BoxFuture<'a, Result<ServerStep, AttestError>> {
        Box::pin(async move {
            let state = std::mem::replace(&mut self.state, State::Done);
            match state {
                State::AwaitingPayload => {
                    check_message_len("payload", message)?;
                    let (pending, challenge) = self
                        .challenge(message)
                        .map_err(|e| AttestError::plugin(PLUGIN, e))?;
                    self.state = State::AwaitingResponse(Box::new(pending));
                    Ok(ServerStep::Challenge(challenge))
                }
                State::AwaitingResponse(pending) => {
                    check_message_len("challenge response", message)?;
                    let node = self
                        .verify(&pending, message)
                        .map_err(|e| AttestError::plugin(PLUGIN, e))?;
                    Ok(ServerStep::Attested(node))
                }
                State::Done => Err(AttestError::OutOfOrder("the tpm attestation has ended")),
            }
        })
    }
}

impl Attempt {
    /// Checks the payload and builds the challenge.
    fn challenge(&self, message: &[u8]) -> Result<(Pending, Vec<u8>), TpmError> {
        let payload = Payload::decode(message)?;
        let ek = RsaPublic::parse(&payload.ek_public, "endorsement key")?;
        check_ek(&ek)?;
        let pub_hash = hex(digest::digest(&digest::SHA256, &ek.spki_der()).as_ref());

        let pinned = self.config.pinned.contains(&pub_hash);
        let certified = match (&payload.ek_cert, self.config.cas.is_empty()) {
            (Some(cert), false) => Some(verify_ek_certificate(
                cert,
                &ek,
                &self.config.cas,
                (self.config.now)(),
            )),
            _ => None,
        };
        match (pinned, certified) {
            // A certificate for another key is an attack or a misconfiguration either way.
            (_, Some(Err(TpmError::EkCertificateMismatch))) => {
                return Err(TpmError::EkCertificateMismatch)
            }
            (true, _) | (_, Some(Ok(()))) => {}
            (false, Some(Err(e))) => return Err(e),
            (false, None) => return Err(TpmError::UntrustedEk { pub_hash }),
        }

        let ak = RsaPublic::parse(&payload.ak_public, "attestation key")?;
        check_ak(&ak)?;
        let ak_name = object_name(&payload.ak_public);

        let mut secret = [0u8; NONCE_LEN];
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut secret).map_err(|_| TpmError::Crypto("random secret"))?;
        rand::fill(&mut nonce).map_err(|_| TpmError::Crypto("random nonce"))?;
        let credential = make_credential(&ek, &ak_name, &secret)?;
        let challenge = Challenge {
            id_object: credential.id_object,
            encrypted_secret: credential.encrypted_secret,
            nonce: nonce.to_vec(),
            pcr_hash: st::ALG_SHA256,
            pcr_mask: self.config.pcrs.mask(),
        };
        let pending = Pending {
            secret,
            nonce,
            ak,
            pub_hash,
        };
        Ok((pending, challenge.encode()))
    }

    /// Checks the agent's response to the challenge.
    fn verify(&self, pending: &Pending, message: &[u8]) -> Result<AttestedNode, TpmError> {
        let response = Response::decode(message)?;
        // Only a TPM holding both the EK and the AK named in the credential recovers the
        // secret; a response to an earlier challenge carries an earlier secret.
        constant_time::verify_slices_are_equal(&response.secret, &pending.secret)
            .map_err(|_| TpmError::ActivationFailed)?;

        let signature = parse_rsassa_sha256_signature(&response.signature)?;
        let exponent = pending.ak.exponent_bytes();
        let ak_key = RsaPublicKeyComponents {
            n: pending.ak.modulus.as_slice(),
            e: exponent.as_slice(),
        };
        ak_key
            .verify(&RSA_PKCS1_2048_8192_SHA256, &response.attest, signature)
            .map_err(|_| TpmError::QuoteRejected {
                reason: "signature does not verify with the attestation key",
            })?;
        let quote = Quote::parse(&response.attest)?;
        constant_time::verify_slices_are_equal(&quote.extra_data, &pending.nonce).map_err(
            |_| TpmError::QuoteRejected {
                reason: "quote is not over this attempt's nonce",
            },
        )?;

        let pcrs = self.config.pcrs;
        let bank_ok = match quote.banks.as_slice() {
            [bank] => {
                bank.hash == st::ALG_SHA256 && PcrSelection::from_bitmap(&bank.select) == Some(pcrs)
            }
            _ => false,
        };
        if !bank_ok {
            return Err(TpmError::QuoteRejected {
                reason: "quoted PCR selection is not the requested one",
            });
        }
        let indices: Vec<u8> = pcrs.indices().collect();
        if response.pcr_values.len() != indices.len()
            || response.pcr_values.iter().any(|v| v.len() != 32)
        {
            return Err(TpmError::QuoteRejected {
                reason: "PCR values do not match the selection",
            });
        }
        let mut ctx = digest::Context::new(&digest::SHA256);
        for value in &response.pcr_values {
            ctx.update(value);
        }
        if ctx.finish().as_ref() != quote.pcr_digest.as_slice() {
            return Err(TpmError::QuoteRejected {
                reason: "PCR values do not match the quoted digest",
            });
        }

        let agent_id = SpiffeId::from_segments(
            &self.config.trust_domain,
            ["spire", "agent", PLUGIN, pending.pub_hash.as_str()],
        )
        .map_err(|_| TpmError::Config("agent ID"))?;
        let mut selectors = vec![selector(&format!("pub_hash:{}", pending.pub_hash))?];
        if self.config.pcr_selectors {
            for (index, value) in indices.iter().zip(&response.pcr_values) {
                selectors.push(selector(&format!("pcr:{index}:{}", hex(value)))?);
            }
        }
        Ok(AttestedNode::new(agent_id, selectors).reattestable())
    }
}

fn selector(value: &str) -> Result<Selector, TpmError> {
    Selector::new(PLUGIN, value).map_err(|_| TpmError::Config("selector"))
}

/// The endorsement key must be a storage-style restricted decryption key whose credential
/// protection this implementation can compute: SHA-256 names, AES-128-CFB (the EK templates
/// of the TCG EK Credential Profile).
fn check_ek(ek: &RsaPublic) -> Result<(), TpmError> {
    let reject = |reason| TpmError::KeyRejected {
        key: "endorsement key",
        reason,
    };
    if !matches!(ek.key_bits, 2048 | 3072 | 4096) {
        return Err(reject("RSA size is not 2048, 3072 or 4096 bits"));
    }
    if ek.name_alg != st::ALG_SHA256 {
        return Err(reject("name algorithm is not SHA-256"));
    }
    let need = st::ATTR_RESTRICTED | st::ATTR_DECRYPT | st::ATTR_FIXED_TPM | st::ATTR_FIXED_PARENT;
    if ek.attributes & need != need || ek.attributes & st::ATTR_SIGN != 0 {
        return Err(reject("not a restricted, fixed decryption key"));
    }
    if ek.symmetric != Some((st::ALG_AES, 128, st::ALG_CFB)) {
        return Err(reject("symmetric algorithm is not AES-128-CFB"));
    }
    Ok(())
}

/// The attestation key must be a restricted signing key that never leaves the TPM and was
/// generated in it: then every quote it signs was built by the TPM.
fn check_ak(ak: &RsaPublic) -> Result<(), TpmError> {
    let reject = |reason| TpmError::KeyRejected {
        key: "attestation key",
        reason,
    };
    if !(2048..=4096).contains(&ak.key_bits) {
        return Err(reject("RSA size outside 2048..=4096 bits"));
    }
    if ak.name_alg != st::ALG_SHA256 {
        return Err(reject("name algorithm is not SHA-256"));
    }
    let need = st::ATTR_RESTRICTED
        | st::ATTR_SIGN
        | st::ATTR_FIXED_TPM
        | st::ATTR_FIXED_PARENT
        | st::ATTR_SENSITIVE_DATA_ORIGIN;
    if ak.attributes & need != need || ak.attributes & st::ATTR_DECRYPT != 0 {
        return Err(reject("not a restricted, fixed, TPM-generated signing key"));
    }
    if ak.scheme != Some((st::ALG_RSASSA, st::ALG_SHA256)) || ak.symmetric.is_some() {
        return Err(reject("scheme is not RSASSA-SHA256"));
    }
    Ok(())
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
