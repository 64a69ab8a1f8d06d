//! [`SourceBuilder`]: the options every source takes, and the wait for its first update.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use tokio::time::Instant;

use super::x509::Picker;
use super::{SourceError, DEFAULT_INITIAL_TIMEOUT};
use crate::client::{ClientError, Watch, WorkloadApiClient};
use crate::endpoint::EndpointAddress;

/// Options for a source `S` ([`X509Source`](super::X509Source),
/// [`JwtSource`](super::JwtSource) or [`BundleSource`](super::BundleSource)), from
/// `S::builder()`: the client, how long to wait for the first update, and whether to wait for
/// a Unix socket that does not exist yet. [`X509Source`](super::X509Source)'s builder also
/// chooses which SVID it hands out.
///
/// ```no_run
/// # async fn run() -> Result<(), spiffe_workload::SourceError> {
/// use std::time::Duration;
/// use spiffe_workload::X509Source;
///
/// // An agent that starts after this workload: wait for its socket, up to two minutes.
/// let source = X509Source::builder()
///     .wait_for_socket()
///     .with_timeout(Some(Duration::from_secs(120)))
///     .build()
///     .await?;
/// # let _ = source; Ok(()) }
/// ```
#[must_use]
pub struct SourceBuilder<S> {
    client: Option<WorkloadApiClient>,
    timeout: Option<Duration>,
    wait_for_socket: bool,
    /// Which SVID an `X509Source` hands out; unused by the other sources.
    pub(super) picker: Picker,
    source: PhantomData<fn() -> S>,
}

/// The client a source uses and how long it may wait for its first update(s).
pub(super) struct Start {
    pub(super) client: WorkloadApiClient,
    timeout: Option<Duration>,
    deadline: Option<Instant>,
}

// === impl SourceBuilder ===

impl<S> SourceBuilder<S> {
    pub(super) fn new() -> Self {
        Self {
            client: None,
            timeout: Some(DEFAULT_INITIAL_TIMEOUT),
            wait_for_socket: false,
            picker: Picker::Default,
            source: PhantomData,
        }
    }

    /// Uses `client` (default: a client on `SPIFFE_ENDPOINT_SOCKET`, WEP-8, connecting on
    /// first use).
    pub fn with_client(mut self, client: WorkloadApiClient) -> Self {
        self.client = Some(client);
        self
    }

    /// How long to wait for the first update (default [`DEFAULT_INITIAL_TIMEOUT`]); `None`
    /// waits as long as it takes. Failures meanwhile are retried with the client's backoff;
    /// final ones (an invalid request, an unimplemented call) end the wait at once.
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// Waits (up to the timeout) for a Unix socket that does not exist yet, for an agent that
    /// starts after this workload. By default a missing socket fails at once with
    /// [`ClientError::SocketNotFound`] naming its path: usually a wrong address.
    pub fn wait_for_socket(mut self) -> Self {
        self.wait_for_socket = true;
        self
    }

    /// The client, checked to have a socket unless told to wait for one, and the clock for the
    /// first update started.
    pub(super) fn start(&mut self) -> Result<Start, SourceError> {
        let client = match self.client.take() {
            Some(client) => client,
            None => WorkloadApiClient::connect_lazy(&env_address()?)?,
        };
        if !self.wait_for_socket {
            client.check_socket()?;
        }
        Ok(Start {
            client,
            timeout: self.timeout,
            deadline: self.timeout.map(|t| Instant::now() + t),
        })
    }
}

impl<S> fmt::Debug for SourceBuilder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceBuilder")
            .field("client", &self.client)
            .field("timeout", &self.timeout)
            .field("wait_for_socket", &self.wait_for_socket)
            .finish_non_exhaustive()
    }
}

fn env_address() -> Result<EndpointAddress, ClientError> {
    EndpointAddress::from_env().map_err(ClientError::Endpoint)
}

// === impl Start ===

impl Start {
    /// The first good update of `watch`, retrying what the watch retries, until the deadline.
    pub(super) async fn first_update<T>(&self, watch: &mut Watch<T>) -> Result<T, SourceError> {
        let mut last_error = None;
        let wait = async {
            loop {
                match watch.next().await {
                    Some(Ok(update)) => return Ok(update),
                    Some(Err(error)) if error.is_retryable() => last_error = Some(error),
                    Some(Err(error)) => return Err(SourceError::Client(error)),
                    None => return Err(SourceError::Client(ClientError::Closed)),
                }
            }
        };
        let (Some(deadline), Some(timeout)) = (self.deadline, self.timeout) else {
            return wait.await;
        };
        match tokio::time::timeout_at(deadline, wait).await {
            Ok(result) => result,
            Err(_) => Err(SourceError::Timeout {
                endpoint: self.client.address().cloned(),
                timeout,
                last_error,
            }),
        }
    }
}
