//! The agent half: drives a TPM through tpm2-tss (`tss-esapi`).
//!
//! There may be no resource manager between us and the TPM (swtpm, `/dev/tpm0`), so every
//! transient object and session this half creates is flushed when the attempt ends.

use std::str::FromStr;

use spiffe_core::pki_types::CertificateDer;
use tss_esapi::abstraction::{ak, ek, AsymmetricAlgorithmSelection, DefaultKey};
use tss_esapi::attributes::SessionAttributesBuilder;
use tss_esapi::constants::SessionType;
use tss_esapi::handles::{AuthHandle, KeyHandle, ObjectHandle, SessionHandle};
use tss_esapi::interface_types::algorithm::{
    AsymmetricAlgorithm, HashingAlgorithm, SignatureSchemeAlgorithm,
};
use tss_esapi::interface_types::key_bits::RsaKeyBits;
use tss_esapi::interface_types::session_handles::{AuthSession, PolicySession};
use tss_esapi::structures::{
    Data, EncryptedSecret, IdObject, PcrSelectionList, PcrSlot, Public, SignatureScheme,
    SymmetricDefinition,
};
use tss_esapi::tcti_ldr::TctiNameConf;
use tss_esapi::traits::Marshall;
use tss_esapi::Context;

use super::structures::RsaPublic;
use super::wire::{Challenge, Payload, Response, MAX_EK_CERT};
use super::{PcrSelection, TpmError, PLUGIN};
use crate::node::{AgentAttestation, NodeAttestorAgent};
use crate::AttestError;

/// How many PCRs one `TPM2_PCR_Read` returns at most.
const PCRS_PER_READ: usize = 8;

/// The agent half of the `tpm` node attestor.
///
/// Each attempt opens its own TSS context on the configured TCTI (for example
/// `device:/dev/tpmrm0`, `swtpm:host=127.0.0.1,port=2321`), creates the EK from the TCG
/// default RSA-2048 template and a fresh AK under it, and flushes both when it ends.
#[derive(Debug, Clone)]
pub struct TpmAgent {
    tcti: String,
    ek_cert: Option<Vec<u8>>,
}

// === impl TpmAgent ===

impl TpmAgent {
    /// An agent using the TPM behind `tcti` (a tpm2-tss TCTI configuration string). The EK
    /// certificate, if the TPM holds one, is read from NV index `0x01c00002`.
    pub fn new(tcti: &str) -> Self {
        Self {
            tcti: tcti.to_owned(),
            ek_cert: None,
        }
    }

    /// Sends this EK certificate (DER) instead of the one in the TPM's NV storage.
    pub fn with_ek_certificate(mut self, cert: CertificateDer<'_>) -> Self {
        self.ek_cert = Some(cert.as_ref().to_vec());
        self
    }

    /// The EK public key hash the server pins and names the agent by (64 lowercase hex
    /// digits: SHA-256 of the EK's PKIX `SubjectPublicKeyInfo`).
    pub fn ek_pub_hash(&self) -> Result<String, TpmError> {
        let mut tpm = Tpm::open(&self.tcti)?;
        let ek = tpm.create_ek()?;
        let public = tpm.public_bytes(ek, "read EK public");
        tpm.flush(ek);
        let key = RsaPublic::parse(&public?, "endorsement key")?;
        Ok(super::server::hex(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &key.spki_der()).as_ref(),
        ))
    }
}

impl NodeAttestorAgent for TpmAgent {
    fn name(&self) -> &'static str {
        PLUGIN
    }

    fn begin(&self) -> Result<Box<dyn AgentAttestation>, AttestError> {
        let attempt = Attempt::new(self).map_err(|e| AttestError::plugin(PLUGIN, e))?;
        Ok(Box::new(attempt))
    }
}

/// A TSS context and the transient handles it created, flushed on drop.
struct Tpm {
    ctx: Context,
    handles: Vec<ObjectHandle>,
}

fn tss(operation: &'static str) -> impl FnOnce(tss_esapi::Error) -> TpmError {
    move |e| TpmError::Tpm {
        operation,
        message: e.to_string(),
    }
}

// === impl Tpm ===

impl Tpm {
    fn open(tcti: &str) -> Result<Self, TpmError> {
        let conf = TctiNameConf::from_str(tcti).map_err(tss("parse TCTI"))?;
        let ctx = Context::new(conf).map_err(tss("open TPM"))?;
        Ok(Self {
            ctx,
            handles: Vec::new(),
        })
    }

    fn track(&mut self, handle: impl Into<ObjectHandle>) {
        self.handles.push(handle.into());
    }

    fn flush(&mut self, handle: impl Into<ObjectHandle>) {
        let handle = handle.into();
        self.handles.retain(|h| *h != handle);
        let _ = self.ctx.flush_context(handle);
    }

    fn create_ek(&mut self) -> Result<KeyHandle, TpmError> {
        let handle = ek::create_ek_object(&mut self.ctx, AsymmetricAlgorithm::Rsa, DefaultKey)
            .map_err(tss("create EK"))?;
        self.track(handle);
        Ok(handle)
    }

    fn public_bytes(
        &mut self,
        key: KeyHandle,
        operation: &'static str,
    ) -> Result<Vec<u8>, TpmError> {
        let (public, _, _) = self.ctx.read_public(key).map_err(tss(operation))?;
        marshal(&public, operation)
    }

    /// A policy session satisfying the EK's policy (`PolicySecret(TPM_RH_ENDORSEMENT)`).
    fn ek_policy_session(&mut self) -> Result<AuthSession, TpmError> {
        let session = self
            .ctx
            .start_auth_session(
                None,
                None,
                None,
                SessionType::Policy,
                SymmetricDefinition::AES_128_CFB,
                HashingAlgorithm::Sha256,
            )
            .map_err(tss("start policy session"))?
            .ok_or(TpmError::Tpm {
                operation: "start policy session",
                message: "no session returned".to_owned(),
            })?;
        self.track(SessionHandle::from(session));
        let (attributes, mask) = SessionAttributesBuilder::new()
            .with_decrypt(true)
            .with_encrypt(true)
            .build();
        self.ctx
            .tr_sess_set_attributes(session, attributes, mask)
            .map_err(tss("set session attributes"))?;
        let policy = PolicySession::try_from(session).map_err(tss("policy session"))?;
        self.ctx
            .execute_with_nullauth_session(|ctx| {
                ctx.policy_secret(
                    policy,
                    AuthHandle::Endorsement,
                    Default::default(),
                    Default::default(),
                    Default::default(),
                    None,
                )
            })
            .map_err(tss("PolicySecret(endorsement)"))?;
        Ok(session)
    }
}

impl Drop for Tpm {
    fn drop(&mut self) {
        self.ctx.clear_sessions();
        for handle in std::mem::take(&mut self.handles) {
            let _ = self.ctx.flush_context(handle);
        }
    }
}

fn marshal(public: &Public, operation: &'static str) -> Result<Vec<u8>, TpmError> {
    public.marshall().map_err(tss(operation))
}

/// One agent-side attempt: the EK and AK stay loaded until it ends.
struct Attempt {
    tpm: Tpm,
    ek: KeyHandle,
    ak: KeyHandle,
    payload: Payload,
}

// === impl Attempt ===

impl Attempt {
    fn new(config: &TpmAgent) -> Result<Self, TpmError> {
        let mut tpm = Tpm::open(&config.tcti)?;
        let ek_handle = tpm.create_ek()?;
        let ek_public = tpm.public_bytes(ek_handle, "read EK public")?;
        let ek_cert = match &config.ek_cert {
            Some(cert) => Some(cert.clone()),
            // Not every TPM has an EK certificate; without one the EK must be pinned.
            None => ek::retrieve_ek_pubcert(
                &mut tpm.ctx,
                AsymmetricAlgorithmSelection::Rsa(RsaKeyBits::Rsa2048),
            )
            .ok(),
        };
        if let Some(cert) = &ek_cert {
            if cert.len() > MAX_EK_CERT {
                return Err(TpmError::TooLarge {
                    what: "EK certificate",
                    len: cert.len(),
                    max: MAX_EK_CERT,
                });
            }
        }
        let created = ak::create_ak(
            &mut tpm.ctx,
            ek_handle,
            HashingAlgorithm::Sha256,
            SignatureSchemeAlgorithm::RsaSsa,
            None,
            DefaultKey,
        )
        .map_err(tss("create AK"))?;
        let ak_public = marshal(&created.out_public, "marshal AK public")?;
        let ak_handle = ak::load_ak(
            &mut tpm.ctx,
            ek_handle,
            None,
            created.out_private,
            created.out_public,
        )
        .map_err(tss("load AK"))?;
        tpm.track(ak_handle);
        Ok(Self {
            tpm,
            ek: ek_handle,
            ak: ak_handle,
            payload: Payload {
                ek_public,
                ek_cert,
                ak_public,
            },
        })
    }

    fn answer(&mut self, challenge: &[u8]) -> Result<Vec<u8>, TpmError> {
        let challenge = Challenge::decode(challenge)?;
        let pcrs = match challenge.pcr_hash {
            super::structures::ALG_SHA256 => PcrSelection::from_mask(challenge.pcr_mask),
            _ => None,
        }
        .ok_or(TpmError::Malformed {
            what: "challenge PCR selection",
        })?;
        let secret = self.activate(&challenge)?;
        let (attest, signature) = self.quote(&challenge.nonce, pcrs)?;
        let pcr_values = self.read_pcrs(pcrs)?;
        Ok(Response {
            secret,
            attest,
            signature,
            pcr_values,
        }
        .encode())
    }

    /// `TPM2_ActivateCredential` with the AK (password auth) and the EK (policy auth).
    fn activate(&mut self, challenge: &Challenge) -> Result<Vec<u8>, TpmError> {
        let id_object =
            IdObject::try_from(challenge.id_object.clone()).map_err(tss("credential blob"))?;
        let secret = EncryptedSecret::try_from(challenge.encrypted_secret.clone())
            .map_err(tss("encrypted secret"))?;
        let policy = self.tpm.ek_policy_session()?;
        self.tpm
            .ctx
            .set_sessions((Some(AuthSession::Password), Some(policy), None));
        let result = self
            .tpm
            .ctx
            .activate_credential(self.ak, self.ek, id_object, secret);
        self.tpm.ctx.clear_sessions();
        self.tpm.flush(SessionHandle::from(policy));
        Ok(result.map_err(tss("ActivateCredential"))?.value().to_vec())
    }

    fn quote(&mut self, nonce: &[u8], pcrs: PcrSelection) -> Result<(Vec<u8>, Vec<u8>), TpmError> {
        let data = Data::try_from(nonce.to_vec()).map_err(tss("quote nonce"))?;
        let selection = pcr_selection(pcrs.indices())?;
        let ak = self.ak;
        let (attest, signature) = self
            .tpm
            .ctx
            .execute_with_nullauth_session(|ctx| {
                ctx.quote(ak, data, SignatureScheme::Null, selection)
            })
            .map_err(tss("Quote"))?;
        Ok((
            attest.marshall().map_err(tss("marshal quote"))?,
            signature.marshall().map_err(tss("marshal signature"))?,
        ))
    }

    fn read_pcrs(&mut self, pcrs: PcrSelection) -> Result<Vec<Vec<u8>>, TpmError> {
        let indices: Vec<u8> = pcrs.indices().collect();
        let mut values = Vec::with_capacity(indices.len());
        for chunk in indices.chunks(PCRS_PER_READ) {
            let selection = pcr_selection(chunk.iter().copied())?;
            let (_, _, digests) = self
                .tpm
                .ctx
                .execute_without_session(|ctx| ctx.pcr_read(selection))
                .map_err(tss("PCR_Read"))?;
            if digests.value().len() != chunk.len() {
                return Err(TpmError::Tpm {
                    operation: "PCR_Read",
                    message: "fewer PCR values than requested".to_owned(),
                });
            }
            values.extend(digests.value().iter().map(|d| d.value().to_vec()));
        }
        Ok(values)
    }
}

fn pcr_selection(indices: impl Iterator<Item = u8>) -> Result<PcrSelectionList, TpmError> {
    let slots = indices
        .map(|i| PcrSlot::try_from(1u32 << i))
        .collect::<Result<Vec<_>, _>>()
        .map_err(tss("PCR slot"))?;
    PcrSelectionList::builder()
        .with_selection(HashingAlgorithm::Sha256, &slots)
        .build()
        .map_err(tss("PCR selection"))
}

impl AgentAttestation for Attempt {
    fn payload(&mut self) -> Result<Vec<u8>, AttestError> {
        Ok(self.payload.encode())
    }

    fn respond(&mut self, challenge: &[u8]) -> Result<Vec<u8>, AttestError> {
        self.answer(challenge)
            .map_err(|e| AttestError::plugin(PLUGIN, e))
    }
}
