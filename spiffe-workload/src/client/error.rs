//! What can go wrong talking to the Workload API, and whether it is worth retrying.

use std::path::PathBuf;

use spiffe_core::jwt::{JwtBundleError, JwtSvidError};
use spiffe_core::x509::X509Error;
use spiffe_core::{IdError, TrustDomain};

use crate::endpoint::{EndpointAddress, EndpointError};

/// The longest server status message kept in an error; longer ones are cut (never echoed whole).
const MAX_MESSAGE_LEN: usize = 256;

/// Why a Workload API call failed.
///
/// [`is_retryable`](Self::is_retryable) tells the reconnect policy apart: INVALID_ARGUMENT
/// (WEP-13) and UNIMPLEMENTED (WEP-16) are final, everything else may be retried with backoff.
/// Server messages are kept as sent (at most 256 bytes); tokens are never put in an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// No usable endpoint address (WEP-8..11); shown as the [`EndpointError`] itself, which
    /// names the rule broken.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// The endpoint is a Unix socket path where nothing exists: a wrong address, or an agent
    /// not started yet (retried by `watch_*` streams, WEP-14).
    #[error("Workload API socket {} does not exist", path.display())]
    SocketNotFound {
        /// The socket path.
        path: PathBuf,
    },
    /// The endpoint could not be reached (WEP-14: retry with backoff).
    #[error("cannot reach the Workload API at {address}")]
    Connect {
        /// The endpoint dialled.
        address: EndpointAddress,
        /// Why the connection failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The server answered UNAVAILABLE, e.g. while starting (WEP-14: retry with backoff).
    #[error("Workload API unavailable (UNAVAILABLE): {message}")]
    Unavailable {
        /// The server's status message.
        message: String,
    },
    /// The caller has no identity, or not the one asked for (WAPI-16, WAPI-20, WEP-15); the
    /// agent may be eventually consistent, so this is retried with backoff.
    #[error("no identity issued to this workload (PERMISSION_DENIED): {message}")]
    PermissionDenied {
        /// The server's status message.
        message: String,
    },
    /// The server rejected the request (INVALID_ARGUMENT): a missing security header, an
    /// empty audience, or a JWT-SVID that failed `ValidateJWTSVID`. Final (WEP-13).
    #[error("Workload API rejected the request (INVALID_ARGUMENT): {message}")]
    InvalidArgument {
        /// The server's status message.
        message: String,
    },
    /// The server does not implement the call (UNIMPLEMENTED). Final (WAPI-2, WEP-16).
    #[error("Workload API call not implemented by the server (UNIMPLEMENTED)")]
    Unimplemented,
    /// Any other gRPC status (INTERNAL, RESOURCE_EXHAUSTED, ...); retried with backoff.
    #[error("Workload API call failed with gRPC status {code}: {message}")]
    Status {
        /// The gRPC status code number (e.g. 13 for INTERNAL).
        code: i32,
        /// The server's status message.
        message: String,
    },
    /// The server answered with a message the standard does not allow (WAPI-10: discarded);
    /// shown as the [`MalformedResponse`] itself.
    #[error(transparent)]
    Malformed(#[from] MalformedResponse),
    /// A watch stream ended and the retry budget ran out, or the client was closed.
    #[error("Workload API watch closed")]
    Closed,
}

/// What was wrong with a Workload API response (WAPI-10, WAPI-12..14, WAPI-19, WAPI-21).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MalformedResponse {
    /// `svids` is empty (WAPI-12, WAPI-19).
    #[error("Workload API response has no SVIDs (WAPI-12, WAPI-19)")]
    NoSvids,
    /// `bundles` is empty (WAPI-18, WAPI-21).
    #[error("Workload API response has no bundles (WAPI-18, WAPI-21)")]
    NoBundles,
    /// A mandatory field has its default (empty) value (WAPI-10, WAPI-13, WAPI-19, WAPI-22).
    #[error("Workload API response has an empty mandatory field `{field}`{} (WAPI-10)", at(*index))]
    MissingField {
        /// The proto field name.
        field: &'static str,
        /// The index of the SVID in `svids`, for per-SVID fields.
        index: Option<usize>,
    },
    /// A `spiffe_id` field is not a SPIFFE ID.
    #[error("Workload API response has an invalid SPIFFE ID{}", at(*index))]
    SpiffeId {
        /// The index of the SVID in `svids`, if the field belongs to one.
        index: Option<usize>,
        /// Why it is invalid.
        #[source]
        source: IdError,
    },
    /// An X.509-SVID's chain or key is not valid DER / not a valid SVID (WAPI-14).
    #[error("Workload API response has an invalid X.509-SVID at index {index} (WAPI-14)")]
    X509Svid {
        /// The index in `svids`.
        index: usize,
        /// What was wrong.
        #[source]
        source: X509Error,
    },
    /// A JWT-SVID token is malformed (its text is never shown).
    #[error("Workload API response has an invalid JWT-SVID at index {index}")]
    JwtSvid {
        /// The index in `svids`.
        index: usize,
        /// What was wrong.
        #[source]
        source: JwtSvidError,
    },
    /// The SVID's certificate or token names another SPIFFE ID than its `spiffe_id` field.
    #[error("Workload API response has an SVID at index {index} that does not match its spiffe_id field")]
    SpiffeIdMismatch {
        /// The index in `svids`.
        index: usize,
    },
    /// A bundle map key is neither `spiffe://<td>` nor a bare trust domain name (WAPI-26).
    #[error("Workload API response has an invalid trust domain in a bundle map key (WAPI-26)")]
    BundleKey(#[source] IdError),
    /// An X.509 bundle is not concatenated DER certificates (WAPI-14).
    #[error("Workload API response has an invalid X.509 bundle of {trust_domain} (WAPI-14)")]
    X509Bundle {
        /// The bundle's trust domain.
        trust_domain: TrustDomain,
        /// What was wrong.
        #[source]
        source: X509Error,
    },
    /// A JWT bundle is not a valid JWK Set (WAPI-21).
    #[error("Workload API response has an invalid JWT bundle of {trust_domain} (WAPI-21)")]
    JwtBundle {
        /// The bundle's trust domain.
        trust_domain: TrustDomain,
        /// What was wrong.
        #[source]
        source: JwtBundleError,
    },
    /// A `ValidateJWTSVID` claim value cannot be represented as JSON (a non-finite number).
    #[error("Workload API response has claim `{claim}`, which is not representable as JSON")]
    Claim {
        /// The claim name.
        claim: String,
    },
}

fn at(index: Option<usize>) -> String {
    index.map(|i| format!(" at index {i}")).unwrap_or_default()
}

// === impl ClientError ===

impl ClientError {
    /// Whether the call may be retried after a backoff. INVALID_ARGUMENT is a client bug and
    /// never retried (WEP-13); UNIMPLEMENTED is not retried (WAPI-2, WEP-16); a bad endpoint
    /// address will not fix itself. PERMISSION_DENIED is retried (WAPI-16, WEP-15).
    pub fn is_retryable(&self) -> bool {
        !matches!(
            self,
            Self::Endpoint(_) | Self::InvalidArgument { .. } | Self::Unimplemented | Self::Closed
        )
    }

    /// Whether the server said the caller holds no identity (or not the one asked for): the
    /// signal to stop using SVIDs held so far (WAPI-16 redaction).
    pub fn is_permission_denied(&self) -> bool {
        matches!(self, Self::PermissionDenied { .. })
    }

    /// The error for a gRPC status from the server or the transport.
    pub(crate) fn from_status(status: &tonic::Status) -> Self {
        let message = truncate(status.message());
        match status.code() {
            tonic::Code::Unavailable => Self::Unavailable { message },
            tonic::Code::PermissionDenied => Self::PermissionDenied { message },
            tonic::Code::InvalidArgument => Self::InvalidArgument { message },
            tonic::Code::Unimplemented => Self::Unimplemented,
            code => Self::Status {
                code: code as i32,
                message,
            },
        }
    }
}

impl From<tonic::Status> for ClientError {
    fn from(status: tonic::Status) -> Self {
        Self::from_status(&status)
    }
}

fn truncate(message: &str) -> String {
    if message.len() <= MAX_MESSAGE_LEN {
        return message.to_owned();
    }
    let mut end = MAX_MESSAGE_LEN;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &message[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_classes_follow_wep13_wep16() {
        let final_codes = [tonic::Code::InvalidArgument, tonic::Code::Unimplemented];
        for code in final_codes {
            assert!(!ClientError::from(tonic::Status::new(code, "x")).is_retryable());
        }
        let retried = [
            tonic::Code::Unavailable,
            tonic::Code::PermissionDenied,
            tonic::Code::Internal,
            tonic::Code::Unknown,
            tonic::Code::ResourceExhausted,
            tonic::Code::Cancelled,
        ];
        for code in retried {
            assert!(ClientError::from(tonic::Status::new(code, "x")).is_retryable());
        }
        assert!(ClientError::from(tonic::Status::permission_denied("x")).is_permission_denied());
    }

    /// Every message in a chain of these errors is printed once: a wrapper that shows its
    /// inner error's text does not also return it from `source()`.
    #[test]
    fn no_message_is_printed_twice_along_the_chain() {
        use std::error::Error;
        let errors = [
            ClientError::Endpoint(EndpointError::NotConfigured),
            ClientError::Malformed(MalformedResponse::X509Svid {
                index: 0,
                source: X509Error::MalformedCertificate,
            }),
            ClientError::SocketNotFound {
                path: PathBuf::from("/run/agent.sock"),
            },
        ];
        for error in &errors {
            let top = error.to_string();
            let mut source = error.source();
            while let Some(inner) = source {
                let text = inner.to_string();
                assert!(!top.contains(&text), "{top:?} repeats {text:?}");
                source = inner.source();
            }
        }
        assert_eq!(
            errors[0].to_string(),
            "no Workload API endpoint configured and SPIFFE_ENDPOINT_SOCKET is unset (WEP-8)"
        );
        assert_eq!(
            errors[1].to_string(),
            "Workload API response has an invalid X.509-SVID at index 0 (WAPI-14)"
        );
        assert_eq!(
            errors[1].source().map(ToString::to_string).as_deref(),
            Some("malformed certificate DER")
        );
    }

    #[test]
    fn long_server_messages_are_cut() {
        let long = "é".repeat(300);
        let ClientError::Unavailable { message } =
            ClientError::from(tonic::Status::unavailable(long))
        else {
            panic!("unavailable");
        };
        assert!(message.len() <= MAX_MESSAGE_LEN + 3);
        assert!(message.ends_with("..."));
    }
}
