//! `BatchNewX509SVID`: X.509-SVIDs for an agent, one per `{entry_id, csr}`, each for an entry
//! the agent is authorized for.
//!
//! Per item, as SPIRE: the entry must be among the caller's authorized entries (else NOT_FOUND
//! "entry not found or not authorized", which does not tell an unknown entry from a foreign
//! one); only the CSR's public key is used, after its signature verifies; the SPIFFE ID, DNS
//! names and TTL (or `default_x509_svid_ttl`) are the entry's, the TTL capped by the CA. Since
//! every stored entry's SPIFFE ID is in the server's trust domain and the CA refuses any other,
//! an SVID of a foreign trust domain cannot be minted.
//!
//! CSR checks and signing run on a blocking thread, once per batch.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use spiffe_attest::RegistrationEntry;
use spiffe_ca::manager::CaManager;
use spiffe_ca::x509::X509SvidRequest;
use spiffe_core::x509::{CertificateRequest, X509Error};
use spiffe_core::TrustDomain;
use spire_api_proto::convert::spiffe_id_to_proto;
use spire_api_proto::server::svid::v1::batch_new_x509svid_response::Result as BatchResult;
use spire_api_proto::server::svid::v1::{
    BatchNewX509svidRequest, BatchNewX509svidResponse, NewX509svidParams,
};
use spire_api_proto::types;
use tonic::{Request, Response, Status};

use crate::api::status::{self, chain};
use crate::caller::Caller;
use crate::context::ServerContext;

/// `BatchNewX509SVID`.
pub(super) async fn batch_new_x509_svid(
    ctx: &ServerContext,
    request: Request<BatchNewX509svidRequest>,
) -> Result<Response<BatchNewX509svidResponse>, Status> {
    let caller = Caller::of(&request);
    let Some(agent_id) = caller.spiffe_id().cloned() else {
        return Err(Status::internal("caller ID missing from request context"));
    };
    let params = request.into_inner().params;
    if params.is_empty() {
        return Err(Status::invalid_argument("missing parameters"));
    }
    let requested: HashSet<&str> = params.iter().map(|p| p.entry_id.as_str()).collect();
    let entries: HashMap<String, Arc<RegistrationEntry>> = ctx
        .cache
        .authorized_entries(&agent_id)
        .into_iter()
        .filter(|entry| requested.contains(entry.id().as_str()))
        .map(|entry| (entry.id().as_str().to_owned(), entry))
        .collect();
    let signing = Signing {
        ca: ctx.ca.clone(),
        trust_domain: ctx.settings.trust_domain.clone(),
        default_ttl: ctx.settings.default_x509_svid_ttl,
        entries,
    };
    let results = tokio::task::spawn_blocking(move || {
        params
            .into_iter()
            .map(|param| signing.new_x509_svid(param))
            .collect()
    })
    .await
    .map_err(|_| Status::internal("failed to sign X509-SVIDs: signing task failed"))?;
    Ok(Response::new(BatchNewX509svidResponse { results }))
}

/// What a batch is signed with: the CA, and the caller's authorized entries among those asked
/// for.
struct Signing {
    ca: Arc<CaManager>,
    trust_domain: TrustDomain,
    default_ttl: Duration,
    entries: HashMap<String, Arc<RegistrationEntry>>,
}

// === impl Signing ===

impl Signing {
    /// One item: its checks, then the SVID or the item's status.
    fn new_x509_svid(&self, param: NewX509svidParams) -> BatchResult {
        match self.sign(&param) {
            Ok(svid) => BatchResult {
                status: Some(status::item_ok()),
                svid: Some(svid),
            },
            Err(status) => BatchResult {
                status: Some(status::item(&status)),
                svid: None,
            },
        }
    }

    fn sign(&self, param: &NewX509svidParams) -> Result<types::X509svid, Status> {
        if param.entry_id.is_empty() {
            return Err(Status::invalid_argument("missing entry ID"));
        }
        if param.csr.is_empty() {
            return Err(Status::invalid_argument("missing CSR"));
        }
        let Some(entry) = self.entries.get(&param.entry_id) else {
            return Err(Status::not_found("entry not found or not authorized"));
        };
        let csr = CertificateRequest::from_der(&param.csr).map_err(|e| match e {
            X509Error::CsrSignatureInvalid => {
                Status::invalid_argument(format!("invalid CSR signature: {e}"))
            }
            other => Status::invalid_argument(format!("malformed CSR: {other}")),
        })?;
        // Stored entries are checked against the trust domain when written; a foreign one could
        // only be a corrupt record (SPIRE's text).
        if !entry.spiffe_id().is_member_of(&self.trust_domain) {
            return Err(Status::internal(format!(
                "entry has malformed SPIFFE ID: {:?} is not a member of trust domain {:?}",
                entry.spiffe_id().as_str(),
                self.trust_domain.as_str()
            )));
        }
        let request = X509SvidRequest::from_spki_der(
            entry.spiffe_id().clone(),
            csr.subject_public_key_info().to_vec(),
            entry.x509_svid_ttl().unwrap_or(self.default_ttl),
        )
        .with_dns_names(entry.dns_names().iter().cloned());
        let minted = self.ca.mint_x509_svid(&request).map_err(|e| {
            let cause = chain(&e);
            tracing::error!(entry_id = %param.entry_id, error = %cause, "Failed to sign X509-SVID");
            Status::internal(format!("failed to sign X509-SVID: {cause}"))
        })?;
        tracing::debug!(
            entry_id = %param.entry_id,
            spiffe_id = %entry.spiffe_id(),
            expires_at = minted.expires_at().as_secs(),
            revision_number = entry.revision_number(),
            "Signed X509 SVID"
        );
        Ok(types::X509svid {
            id: Some(spiffe_id_to_proto(entry.spiffe_id())),
            expires_at: i64::try_from(minted.expires_at().as_secs()).unwrap_or(i64::MAX),
            cert_chain: minted
                .into_chain()
                .into_iter()
                .map(|c| c.to_vec())
                .collect(),
            hint: String::new(),
        })
    }
}
