/// Why a call to the server failed as a whole (a per-entry signing refusal is a
/// [`SvidFailure`](super::SvidFailure) instead).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The server could not be reached, or the connection broke during the call.
    #[error("server unreachable")]
    Unreachable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The server answered the call with an error status.
    #[error("server answered gRPC code {code}: {message}")]
    Status {
        /// The gRPC status code.
        code: i32,
        /// The server's message.
        message: String,
    },
    /// The server's answer cannot be used (a certificate that does not parse, a bundle of
    /// another trust domain, a result count that does not match the request).
    #[error("server answer unusable: {what}")]
    Malformed {
        /// What was wrong.
        what: &'static str,
    },
}

impl ServerError {
    /// gRPC `INVALID_ARGUMENT`.
    pub const INVALID_ARGUMENT: i32 = 3;
    /// gRPC `PERMISSION_DENIED`.
    pub const PERMISSION_DENIED: i32 = 7;
    /// gRPC `UNAVAILABLE`.
    pub const UNAVAILABLE: i32 = 14;

    /// The server is down or unreachable (for tests and fakes).
    pub fn unreachable(reason: &'static str) -> Self {
        Self::Unreachable(reason.into())
    }
}
