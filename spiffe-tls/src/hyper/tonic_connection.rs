//! [`tonic_connection!`](crate::tonic_connection): the tonic glue for [`TlsIncoming`](super::TlsIncoming),
//! without a dependency on tonic.
//!
//! tonic's `Server::serve_with_incoming` wants each connection to implement tonic's own
//! `Connected` trait. This crate does not depend on tonic, and the orphan rule lets only the
//! application implement a tonic trait on a type of its own; so the macro writes that type,
//! in the application's crate, where tonic is a dependency.

/// Declares `struct $name`, a connection type for tonic's `Server::serve_with_incoming`: a
/// newtype around [`ServerTlsStream`](crate::hyper::ServerTlsStream) implementing tokio's
/// `AsyncRead`/`AsyncWrite`, `From<ServerTlsStream>`, and tonic's
/// `transport::server::Connected` with the client's
/// [`PeerIdentity`](crate::hyper::PeerIdentity) as connect info, which tonic puts in every
/// request's extensions.
///
/// Expands to code naming `::tonic`, so the calling crate must depend on tonic (0.14, with
/// its `transport` feature) under that name.
///
/// ```no_run
/// # async fn demo(
/// #     listener: tokio::net::TcpListener,
/// #     config: std::sync::Arc<rustls::ServerConfig>,
/// #     service: tonic::service::Routes,
/// # ) -> Result<(), Box<dyn std::error::Error>> {
/// use spiffe_tls::hyper::{PeerIdentity, TlsIncoming};
///
/// spiffe_tls::tonic_connection!(
///     /// An mTLS connection as tonic serves it.
///     struct GrpcConn;
/// );
///
/// let incoming = TlsIncoming::new(listener, config).map_into::<GrpcConn>();
/// tonic::transport::Server::builder()
///     .add_routes(service)
///     .serve_with_incoming(incoming)
///     .await?;
///
/// // In a handler:
/// fn caller<T>(request: &tonic::Request<T>) -> Option<&spiffe_core::SpiffeId> {
///     request.extensions().get::<PeerIdentity>()?.spiffe_id()
/// }
/// # Ok(()) }
/// ```
#[macro_export]
macro_rules! tonic_connection {
    ($(#[$attr:meta])* $vis:vis struct $name:ident;) => {
        $(#[$attr])*
        $vis struct $name($crate::hyper::ServerTlsStream);

        impl ::core::convert::From<$crate::hyper::ServerTlsStream> for $name {
            fn from(stream: $crate::hyper::ServerTlsStream) -> Self {
                Self(stream)
            }
        }

        impl ::tonic::transport::server::Connected for $name {
            type ConnectInfo = $crate::hyper::PeerIdentity;

            fn connect_info(&self) -> Self::ConnectInfo {
                self.0.peer_identity().clone()
            }
        }

        impl $crate::hyper::__private::AsyncRead for $name {
            fn poll_read(
                mut self: ::core::pin::Pin<&mut Self>,
                cx: &mut ::core::task::Context<'_>,
                buf: &mut $crate::hyper::__private::ReadBuf<'_>,
            ) -> ::core::task::Poll<::std::io::Result<()>> {
                ::core::pin::Pin::new(&mut self.0).poll_read(cx, buf)
            }
        }

        impl $crate::hyper::__private::AsyncWrite for $name {
            fn poll_write(
                mut self: ::core::pin::Pin<&mut Self>,
                cx: &mut ::core::task::Context<'_>,
                buf: &[u8],
            ) -> ::core::task::Poll<::std::io::Result<usize>> {
                ::core::pin::Pin::new(&mut self.0).poll_write(cx, buf)
            }

            fn poll_flush(
                mut self: ::core::pin::Pin<&mut Self>,
                cx: &mut ::core::task::Context<'_>,
            ) -> ::core::task::Poll<::std::io::Result<()>> {
                ::core::pin::Pin::new(&mut self.0).poll_flush(cx)
            }

            fn poll_shutdown(
                mut self: ::core::pin::Pin<&mut Self>,
                cx: &mut ::core::task::Context<'_>,
            ) -> ::core::task::Poll<::std::io::Result<()>> {
                ::core::pin::Pin::new(&mut self.0).poll_shutdown(cx)
            }

            fn is_write_vectored(&self) -> bool {
                self.0.is_write_vectored()
            }

            fn poll_write_vectored(
                mut self: ::core::pin::Pin<&mut Self>,
                cx: &mut ::core::task::Context<'_>,
                bufs: &[::std::io::IoSlice<'_>],
            ) -> ::core::task::Poll<::std::io::Result<usize>> {
                ::core::pin::Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
            }
        }
    };
}

/// What [`tonic_connection!`](crate::tonic_connection) expands to needs, so the calling crate
/// does not have to name tokio itself. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
}
