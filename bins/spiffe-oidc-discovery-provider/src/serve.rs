//! Listening: plain HTTP on TCP (`insecure_addr`) or on a Unix socket (`listen_socket_path`),
//! HTTPS from files (`serving_cert_file`), and the health listener. HTTP/1.1 through hyper,
//! with a ten-second limit on reading request headers (SPIRE's `ReadHeaderTimeout`).

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio_rustls::TlsAcceptor;

use crate::handler::{Handler, HealthHandler};

/// How long a client may take to send its request headers.
pub const READ_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

fn spawn_connection<I, F>(io: I, respond: F)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: Fn(&Request<Incoming>) -> http::Response<crate::handler::Body> + Send + Sync + 'static,
{
    let respond = Arc::new(respond);
    tokio::spawn(async move {
        let service = service_fn(move |request: Request<Incoming>| {
            let respond = respond.clone();
            async move { Ok::<_, Infallible>(respond(&request)) }
        });
        let result = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(READ_HEADER_TIMEOUT)
            .serve_connection(TokioIo::new(io), service)
            .await;
        if let Err(error) = result {
            tracing::debug!(error = %error, "Connection ended with an error");
        }
    });
}

/// Accept errors such as EMFILE are transient: log, back off briefly, go on.
async fn accept_failed(error: &io::Error) {
    tracing::warn!(error = %error, "Failed to accept a connection");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Serves plain HTTP on `listener` until `shutdown`.
pub async fn serve_tcp(
    listener: TcpListener,
    handler: Handler,
    shutdown: impl Future<Output = ()>,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let handler = handler.clone();
                    spawn_connection(stream, move |r| handler.handle(r, false));
                }
                Err(error) => accept_failed(&error).await,
            },
        }
    }
}

/// Serves plain HTTP on the Unix `listener` until `shutdown`.
pub async fn serve_unix(
    listener: UnixListener,
    handler: Handler,
    shutdown: impl Future<Output = ()>,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let handler = handler.clone();
                    spawn_connection(stream, move |r| handler.handle(r, false));
                }
                Err(error) => accept_failed(&error).await,
            },
        }
    }
}

/// Serves HTTPS on `listener` until `shutdown`; each handshake runs in its connection's task.
pub async fn serve_tls(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    handler: Handler,
    shutdown: impl Future<Output = ()>,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let (acceptor, handler) = (acceptor.clone(), handler.clone());
                    tokio::spawn(async move {
                        let handshake =
                            tokio::time::timeout(READ_HEADER_TIMEOUT, acceptor.accept(stream)).await;
                        match handshake {
                            Ok(Ok(tls)) => spawn_connection(tls, move |r| handler.handle(r, true)),
                            Ok(Err(error)) => {
                                tracing::debug!(error = %error, "TLS handshake failed");
                            }
                            Err(_) => tracing::debug!("TLS handshake timed out"),
                        }
                    });
                }
                Err(error) => accept_failed(&error).await,
            },
        }
    }
}

/// Serves the health endpoints on `listener` until `shutdown`.
pub async fn serve_health(
    listener: TcpListener,
    handler: HealthHandler,
    shutdown: impl Future<Output = ()>,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let handler = handler.clone();
                    spawn_connection(stream, move |r| handler.handle(r));
                }
                Err(error) => accept_failed(&error).await,
            },
        }
    }
}

/// Binds the Unix socket at `path` as SPIRE does: an old file there is removed first, and the
/// socket is made connectable by everyone (the web server in front runs as another user).
pub fn bind_unix(path: &Path) -> io::Result<UnixListener> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777))?;
    }
    Ok(listener)
}

/// Binds a TCP listener on a Go-style address (`:8080` is every interface).
pub async fn bind_tcp(addr: &str) -> io::Result<TcpListener> {
    let resolved: SocketAddr = crate::config::resolve_addr(addr).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cannot resolve listen address {addr:?}"),
        )
    })?;
    TcpListener::bind(resolved).await
}
