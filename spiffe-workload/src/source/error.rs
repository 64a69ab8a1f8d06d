//! Why a source could not be built.

use std::time::Duration;

use crate::client::ClientError;
use crate::endpoint::EndpointAddress;

/// Why a source could not be built.
///
/// The message says what went wrong and where: an unset or invalid `SPIFFE_ENDPOINT_SOCKET`
/// names the rule broken (WEP-8..11), a missing Unix socket names its path, a timeout names
/// the endpoint; the last retried failure of a timeout is its [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// A final error: a bad endpoint address, a missing socket, INVALID_ARGUMENT or
    /// UNIMPLEMENTED. Shown as the client error itself.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// No first update arrived in time; `last_error` is the latest retried failure, if any.
    #[error("no update from the Workload API{} within {timeout:?}", at(endpoint.as_ref()))]
    Timeout {
        /// The endpoint waited on, when the client knows it (not for `from_channel` clients).
        endpoint: Option<EndpointAddress>,
        /// How long the source waited.
        timeout: Duration,
        /// The last error seen while retrying.
        #[source]
        last_error: Option<ClientError>,
    },
}

fn at(endpoint: Option<&EndpointAddress>) -> String {
    endpoint.map(|e| format!(" at {e}")).unwrap_or_default()
}
