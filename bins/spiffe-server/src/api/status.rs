//! From internal errors to the gRPC statuses SPIRE answers with. Client-facing messages name
//! the field or record at fault and never carry SQL, driver text or secrets; the cause is
//! logged.

use tonic::{Code, Status};

use crate::datastore::DataStoreError;

/// A datastore failure as a status: not found, already exists, invalid argument and conflicts
/// keep their meaning; anything else is INTERNAL (logged with its cause).
pub(crate) fn datastore(err: &DataStoreError) -> Status {
    let code = match err {
        DataStoreError::NotFound { .. } => Code::NotFound,
        DataStoreError::AlreadyExists { .. } => Code::AlreadyExists,
        DataStoreError::InvalidArgument { .. } | DataStoreError::InvalidEntry(_) => {
            Code::InvalidArgument
        }
        DataStoreError::Conflict(_) => Code::FailedPrecondition,
        DataStoreError::Unavailable { .. } => Code::Unavailable,
        _ => {
            tracing::error!(error = %crate::api::status::chain(err), "datastore call failed");
            Code::Internal
        }
    };
    Status::new(code, err.to_string())
}

/// An error with its causes, `a: b: c`, for log lines.
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `google.rpc.Status`, the payload of the `grpc-status-details-bin` trailer.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types::Any>,
}

/// PERMISSION_DENIED carrying SPIRE's `spire.api.types.PermissionDeniedDetails` (how agents
/// learn they were banned or evicted and must stop, or re-attest).
pub(crate) fn agent_denied(
    reason: spire_api_proto::types::permission_denied_details::Reason,
    message: String,
) -> Status {
    use prost::Message;
    let details = spire_api_proto::types::PermissionDeniedDetails {
        reason: reason as i32,
    };
    let payload = RpcStatus {
        code: Code::PermissionDenied as i32,
        message: message.clone(),
        details: vec![prost_types::Any {
            type_url: "type.googleapis.com/spire.api.types.PermissionDeniedDetails".into(),
            value: details.encode_to_vec(),
        }],
    };
    Status::with_details(
        Code::PermissionDenied,
        message,
        payload.encode_to_vec().into(),
    )
}

/// SPIRE's per-item success status in batch responses (`code 0`, message `OK`).
pub(crate) fn item_ok() -> spire_api_proto::types::Status {
    spire_api_proto::types::Status {
        code: Code::Ok as i32,
        message: "OK".into(),
    }
}

/// A per-item failure in batch responses: the status's code and message.
pub(crate) fn item(status: &Status) -> spire_api_proto::types::Status {
    spire_api_proto::types::Status {
        code: status.code() as i32,
        message: status.message().to_owned(),
    }
}

/// INTERNAL with SPIRE's text, `<what>: <cause>` (the cause's own message, which for the
/// datastore and the CA never carries secrets); the whole error chain is logged.
pub(crate) fn internal(what: &str, err: &dyn std::error::Error) -> Status {
    tracing::error!(error = %chain(err), "{what}");
    Status::internal(format!("{what}: {err}"))
}
