//! The agent's X.509-SVID, minted from the CSR an agent sends with `AttestAgent` and
//! `RenewAgent`: only the CSR's public key is used (after its signature proves possession);
//! the SPIFFE ID is the one attestation established, the lifetime `agent_ttl` (or
//! `default_x509_svid_ttl`), capped by the CA.

use spiffe_ca::x509::X509SvidRequest;
use spiffe_core::pki_types::{CertificateDer, UnixTime};
use spiffe_core::x509::CertificateRequest;
use spiffe_core::{Certificate, SpiffeId};
use spire_api_proto::convert::spiffe_id_to_proto;
use spire_api_proto::types;
use tonic::Status;

use crate::api::status;
use crate::context::ServerContext;

/// A CSR whose signature verified: the public key to certify.
pub(super) struct CheckedCsr {
    spki: Vec<u8>,
}

/// A minted agent SVID and what the attested node records of it.
pub(super) struct AgentSvid {
    /// The leaf first, then the intermediates.
    pub(super) chain: Vec<CertificateDer<'static>>,
    /// The leaf's serial number, decimal (what the authorization layer compares).
    pub(super) serial: String,
    /// The leaf's notAfter.
    pub(super) expires_at: UnixTime,
}

/// Parses `csr` and checks its signature (proof of possession). SPIRE's error: INVALID_ARGUMENT
/// "failed to parse CSR".
pub(super) fn check_csr(csr: &[u8]) -> Result<CheckedCsr, Status> {
    let request = CertificateRequest::from_der(csr)
        .map_err(|e| Status::invalid_argument(format!("failed to parse CSR: {e}")))?;
    Ok(CheckedCsr {
        spki: request.subject_public_key_info().to_vec(),
    })
}

/// Mints the agent SVID of `agent_id` for the key of `csr` (off the async threads when the
/// signer may be an HSM: [`ServerContext::sign`]).
pub(super) async fn mint(
    ctx: &ServerContext,
    agent_id: &SpiffeId,
    csr: CheckedCsr,
) -> Result<AgentSvid, Status> {
    let request =
        X509SvidRequest::from_spki_der(agent_id.clone(), csr.spki, ctx.settings.agent_svid_ttl());
    let minted = ctx
        .sign(move |ca| ca.mint_x509_svid(&request))
        .await
        .ok_or_else(|| Status::internal("failed to sign X509 SVID: signing task failed"))?
        .map_err(|e| {
            let cause = status::chain(&e);
            tracing::error!(agent_id = %agent_id, error = %cause, "Failed to sign X509 SVID");
            Status::internal(format!("failed to sign X509 SVID: {cause}"))
        })?;
    let leaf = Certificate::from_der(minted.leaf().clone()).map_err(|e| {
        tracing::error!(error = %e, "minted agent SVID does not parse");
        Status::internal("failed to sign X509 SVID: minted certificate does not parse")
    })?;
    Ok(AgentSvid {
        serial: leaf.serial_decimal(),
        expires_at: minted.expires_at(),
        chain: minted.into_chain(),
    })
}

// === impl AgentSvid ===

impl AgentSvid {
    /// SPIRE's `X509SVID` message for this SVID of `agent_id`.
    pub(super) fn to_proto(&self, agent_id: &SpiffeId) -> types::X509svid {
        types::X509svid {
            cert_chain: self.chain.iter().map(|c| c.to_vec()).collect(),
            id: Some(spiffe_id_to_proto(agent_id)),
            expires_at: i64::try_from(self.expires_at.as_secs()).unwrap_or(i64::MAX),
            hint: String::new(),
        }
    }
}
