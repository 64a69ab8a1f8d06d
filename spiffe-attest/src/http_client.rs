//! The small HTTP/1.1 client the platform attestors share: one GET (or POST) on one connection
//! (a Unix socket for Docker, TLS or plain TCP for the kubelet and the Kubernetes API server),
//! with a deadline and a cap on the response body.
//!
//! Request headers may carry a bearer token: nothing here logs or formats them.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

/// What went wrong with one request. Messages never include request headers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// Connecting failed (the server is not listening, the socket is missing).
    #[error("cannot connect to {endpoint}: {reason}")]
    Unreachable {
        /// The socket path or address.
        endpoint: String,
        /// The I/O or TLS error.
        reason: String,
    },
    /// The request or response broke off, or was not HTTP.
    #[error("HTTP exchange with {endpoint} failed: {reason}")]
    Protocol {
        /// The socket path or address.
        endpoint: String,
        /// What failed.
        reason: String,
    },
    /// The response body exceeds the cap.
    #[error("response from {endpoint} is larger than {max} bytes")]
    TooLarge {
        /// The socket path or address.
        endpoint: String,
        /// The cap.
        max: usize,
    },
    /// No response within the deadline.
    #[error("no response from {endpoint} within {timeout:?}")]
    Timeout {
        /// The socket path or address.
        endpoint: String,
        /// The deadline.
        timeout: Duration,
    },
}

/// A response: its status and its whole (capped) body.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: http::StatusCode,
    pub(crate) body: Bytes,
}

/// Sends `request` over `io` (already connected, TLS already set up) and reads the response,
/// refusing a body over `max_body` bytes (by `Content-Length` or as it streams).
pub(crate) async fn exchange<IO>(
    io: IO,
    endpoint: &str,
    request: http::Request<Full<Bytes>>,
    max_body: usize,
    timeout: Duration,
) -> Result<Response, HttpError>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let run = async {
        let protocol = |e: hyper::Error| HttpError::Protocol {
            endpoint: endpoint.to_owned(),
            reason: e.to_string(),
        };
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(protocol)?;
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        let result = async {
            let response: http::Response<Incoming> =
                sender.send_request(request).await.map_err(protocol)?;
            let (parts, body) = response.into_parts();
            let too_large = || HttpError::TooLarge {
                endpoint: endpoint.to_owned(),
                max: max_body,
            };
            if let Some(len) = parts
                .headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
            {
                if len > max_body as u64 {
                    return Err(too_large());
                }
            }
            let body = Limited::new(body, max_body)
                .collect()
                .await
                .map_err(|e| match e.downcast::<http_body_util::LengthLimitError>() {
                    Ok(_) => too_large(),
                    Err(e) => HttpError::Protocol {
                        endpoint: endpoint.to_owned(),
                        reason: e.to_string(),
                    },
                })?
                .to_bytes();
            Ok(Response {
                status: parts.status,
                body,
            })
        }
        .await;
        driver.abort();
        result
    };
    match tokio::time::timeout(timeout, run).await {
        Ok(result) => result,
        Err(_) => Err(HttpError::Timeout {
            endpoint: endpoint.to_owned(),
            timeout,
        }),
    }
}

/// Connects to a Unix socket and sends `request` (its URI path only; `Host: localhost`).
#[cfg(unix)]
pub(crate) async fn unix_get(
    socket: &std::path::Path,
    path_and_query: &str,
    max_body: usize,
    timeout: Duration,
) -> Result<Response, HttpError> {
    let endpoint = socket.display().to_string();
    let connect = tokio::time::timeout(timeout, tokio::net::UnixStream::connect(socket));
    let stream = match connect.await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            return Err(HttpError::Unreachable {
                endpoint,
                reason: e.to_string(),
            })
        }
        Err(_) => return Err(HttpError::Timeout { endpoint, timeout }),
    };
    let request = http::Request::get(path_and_query)
        .header(http::header::HOST, "localhost")
        .body(Full::new(Bytes::new()))
        .map_err(|e| HttpError::Protocol {
            endpoint: endpoint.clone(),
            reason: e.to_string(),
        })?;
    exchange(stream, &endpoint, request, max_body, timeout).await
}
