//! The Agent service's errors as SPIRE answers them. A failed node attestation: what the agent
//! sent is malformed (INVALID_ARGUMENT), its evidence is not trusted (PERMISSION_DENIED), or the
//! server could not check it (INTERNAL); messages come from the plugins' errors, which never
//! carry tokens, nonces or keys.

use spiffe_attest::node::join_token::JoinTokenError;
use spiffe_attest::node::tpm::TpmError;
use spiffe_attest::node::x509pop::X509PopError;
use spiffe_attest::AttestError;
use tonic::{Code, Status};

use crate::api::status::chain;

/// The status for an attestation that `attestor` (a plugin name) refused or could not run.
pub(super) fn attest_status(attestor: &str, err: &AttestError) -> Status {
    let code = match err {
        AttestError::TooLarge { .. } | AttestError::OutOfOrder(_) => Code::InvalidArgument,
        AttestError::Plugin { source, .. } => plugin_code(source.as_ref()),
        _ => Code::PermissionDenied,
    };
    if let AttestError::Plugin { source, .. } = err {
        // SPIRE's texts for the built-in join token attestor.
        if let Some(e) = source.downcast_ref::<JoinTokenError>() {
            return join_token_status(e);
        }
    }
    if code == Code::Internal {
        tracing::error!(attestor, error = %chain(err), "Node attestor failed");
    }
    // SPIRE prefixes a plugin's message with `nodeattestor(<name>): `.
    let detail = match err {
        AttestError::Plugin { source, .. } => chain(source.as_ref()),
        other => other.to_string(),
    };
    Status::new(code, format!("nodeattestor({attestor}): {detail}"))
}

/// SPIRE's join token answers: an unknown, used or malformed token and an expired one are
/// INVALID_ARGUMENT; a store failure is INTERNAL.
fn join_token_status(err: &JoinTokenError) -> Status {
    match err {
        JoinTokenError::Expired => Status::invalid_argument("join token expired"),
        JoinTokenError::Store => {
            tracing::error!("Failed to fetch join token: the token store failed");
            Status::internal("failed to fetch join token")
        }
        _ => Status::invalid_argument(
            "failed to attest: join token does not exist or has already been used",
        ),
    }
}

fn plugin_code(source: &(dyn std::error::Error + Send + Sync + 'static)) -> Code {
    if let Some(e) = source.downcast_ref::<X509PopError>() {
        return match e {
            X509PopError::TooLarge { .. }
            | X509PopError::MalformedMessage { .. }
            | X509PopError::NoCertificates
            | X509PopError::ChainTooLong { .. }
            | X509PopError::MalformedCertificate { .. }
            | X509PopError::BadNonce { .. }
            | X509PopError::BadSignatureEncoding => Code::InvalidArgument,
            X509PopError::BadTemplate
            | X509PopError::BadCaCertificates
            | X509PopError::BadAgentFile { .. } => Code::Internal,
            _ => Code::PermissionDenied,
        };
    }
    if let Some(e) = source.downcast_ref::<TpmError>() {
        return match e {
            TpmError::Malformed { .. }
            | TpmError::TooLarge { .. }
            | TpmError::UnsupportedVersion { .. } => Code::InvalidArgument,
            TpmError::Crypto(_) | TpmError::Config(_) | TpmError::Tpm { .. } => Code::Internal,
            _ => Code::PermissionDenied,
        };
    }
    Code::PermissionDenied
}
