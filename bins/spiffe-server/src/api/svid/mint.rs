//! `MintX509SVID`: an X.509-SVID for whatever SPIFFE ID and DNS names an admin's CSR requests
//! (what `spire-server x509 mint` sends).
//!
//! SPIRE's checks, in order: a CSR is given, parses, and its signature verifies; it requests
//! exactly one URI SAN, a SPIFFE ID of a workload of the trust domain (not in the reserved
//! `/spire` namespace); its DNS names are valid and no wildcard covers another of them. The
//! lifetime is `ttl`, or `default_x509_svid_ttl` when zero, capped by the CA. The CSR's
//! subject is not copied: the SVID has the CA's leaf profile (an empty subject and a critical
//! SAN).

use std::collections::HashSet;

use spiffe_attest::entry::check_dns_name;
use spiffe_ca::x509::X509SvidRequest;
use spiffe_core::x509::{CertificateRequest, X509Error};
use spiffe_core::SpiffeId;
use spire_api_proto::convert::spiffe_id_to_proto;
use spire_api_proto::server::svid::v1::{MintX509svidRequest, MintX509svidResponse};
use spire_api_proto::types;
use tonic::{Request, Response, Status};

use super::ids::{check_workload_id, ttl_or};
use crate::api::status::chain;
use crate::context::ServerContext;

/// `MintX509SVID`.
pub(super) async fn mint_x509_svid(
    ctx: &ServerContext,
    request: Request<MintX509svidRequest>,
) -> Result<Response<MintX509svidResponse>, Status> {
    let request = request.into_inner();
    if request.csr.is_empty() {
        return Err(Status::invalid_argument("missing CSR"));
    }
    let csr = CertificateRequest::from_der(&request.csr).map_err(|e| match e {
        X509Error::CsrSignatureInvalid => {
            Status::invalid_argument(format!("failed to verify CSR signature: {e}"))
        }
        other => Status::invalid_argument(format!("malformed CSR: {other}")),
    })?;
    let uris: Vec<&str> = csr.uri_sans().collect();
    match (csr.uri_san_count(), uris.as_slice()) {
        (0, _) => return Err(Status::invalid_argument("CSR URI SAN is required")),
        (1, [_]) => {}
        (1, _) => {
            return Err(Status::invalid_argument(
                "CSR URI SAN is invalid: not an ASCII URI",
            ))
        }
        _ => return Err(Status::invalid_argument("only one URI SAN is expected")),
    }
    let id = SpiffeId::new(uris[0])
        .map_err(|e| Status::invalid_argument(format!("CSR URI SAN is invalid: {e}")))?;
    check_workload_id(&ctx.settings.trust_domain, &id)
        .map_err(|e| Status::invalid_argument(format!("CSR URI SAN is invalid: {e}")))?;
    let dns_names: Vec<String> = csr.dns_sans().map(str::to_owned).collect();
    for name in &dns_names {
        check_dns_name(name)
            .map_err(|e| Status::invalid_argument(format!("CSR DNS name is invalid: {e}")))?;
    }
    if let Some(name) = wildcard_overlap(&dns_names) {
        return Err(Status::invalid_argument(format!(
            "CSR DNS name contains a wildcard that covers another non-wildcard name: name {name:?} overlaps with an existing wildcard name in the list"
        )));
    }

    let ttl = ttl_or(request.ttl, ctx.settings.default_x509_svid_ttl);
    let svid_request =
        X509SvidRequest::from_spki_der(id.clone(), csr.subject_public_key_info().to_vec(), ttl)
            .with_dns_names(dns_names);
    let minted = ctx
        .sign(move |ca| ca.mint_x509_svid(&svid_request))
        .await
        .ok_or_else(|| Status::internal("failed to sign X509-SVID: signing task failed"))?
        .map_err(|e| {
            let cause = chain(&e);
            tracing::error!(spiffe_id = %id, error = %cause, "Failed to sign X509-SVID");
            Status::internal(format!("failed to sign X509-SVID: {cause}"))
        })?;
    tracing::debug!(spiffe_id = %id, expires_at = minted.expires_at().as_secs(), "Signed X509 SVID");
    Ok(Response::new(MintX509svidResponse {
        svid: Some(types::X509svid {
            id: Some(spiffe_id_to_proto(&id)),
            expires_at: i64::try_from(minted.expires_at().as_secs()).unwrap_or(i64::MAX),
            cert_chain: minted
                .into_chain()
                .into_iter()
                .map(|c| c.to_vec())
                .collect(),
            hint: String::new(),
        }),
    }))
}

/// SPIRE's wildcard overlap check: a name `a.b.c` when `*.b.c` is also requested.
fn wildcard_overlap(names: &[String]) -> Option<&str> {
    let all: HashSet<&str> = names.iter().map(String::as_str).collect();
    names.iter().map(String::as_str).find(|name| {
        !name.starts_with('*')
            && name
                .split_once('.')
                .is_some_and(|(_, rest)| all.contains(format!("*.{rest}").as_str()))
    })
}

#[cfg(test)]
mod tests {
    use super::wildcard_overlap;

    #[test]
    fn wildcard_overlap_as_spire() {
        let names = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            wildcard_overlap(&names(&["a.example.org", "*.example.org"])),
            Some("a.example.org")
        );
        assert_eq!(
            wildcard_overlap(&names(&["a.b.example.org", "*.example.org"])),
            None
        );
        assert_eq!(
            wildcard_overlap(&names(&["*.example.org", "example.org"])),
            None
        );
        assert_eq!(wildcard_overlap(&names(&["web", "*.web"])), None);
    }
}
