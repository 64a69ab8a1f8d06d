//! [hyper] 1 and [hyper-util](hyper_util) glue (feature `hyper`), also usable by tonic.
//!
//! - Client: [`SpiffeConnector`] is a `tower_service::Service<http::Uri>` that opens a TCP
//!   connection and runs the TLS handshake with a configuration of this crate, so the server is
//!   authenticated and authorized by its SPIFFE ID (the URI's host name is never checked). It
//!   fits hyper-util's legacy `Client` and tonic's `Endpoint::connect_with_connector`; the
//!   server's [`PeerIdentity`] is attached to each hyper-util response's extensions.
//! - Server: [`TlsIncoming`] turns a `TcpListener` into a stream of established
//!   [`ServerTlsStream`]s, each carrying its client's [`PeerIdentity`]; serve them with
//!   hyper(-util)'s connection builders or with tonic's `Server::serve_with_incoming`.
//!
//! This crate does not depend on tonic. tonic's `serve_with_incoming` wants its IO type to
//! implement tonic's own `Connected` trait, which (foreign trait, foreign type) only the
//! application can implement: [`tonic_connection!`](crate::tonic_connection) writes that type
//! in the application's crate, a newtype around [`ServerTlsStream`] returning the stream's
//! [`PeerIdentity`], which tonic then puts in every request's extensions. With a custom
//! connector, give tonic an `http://` URI: the connector makes it TLS, and tonic refuses
//! `https://` URIs without its own TLS configuration when one of its TLS features is enabled.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # async fn demo(
//! #     provider: Arc<rustls::crypto::CryptoProvider>,
//! #     svid: Arc<spiffe_core::X509Svid>,
//! #     bundles: Arc<spiffe_core::BundleSet>,
//! # ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! use spiffe_tls::hyper::{SpiffeConnector, TlsIncoming};
//! use spiffe_tls::{mtls_server_config, Authorizer};
//!
//! // Server: a stream of mTLS connections from members of example.org.
//! let config = mtls_server_config(
//!     provider.clone(), svid.clone(), bundles.clone(),
//!     Authorizer::member_of("example.org".parse()?),
//! )?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let incoming = TlsIncoming::new(listener, Arc::new(config));
//!
//! // Client: talks only to spiffe://example.org/api.
//! let connector = SpiffeConnector::mtls(
//!     provider, svid, bundles,
//!     Authorizer::exact("spiffe://example.org/api".parse()?),
//! )?;
//! # let _ = (incoming, connector); Ok(()) }
//! ```

mod connector;
mod incoming;
mod peer;
mod tonic_connection;

pub use connector::{ClientTlsStream, ConnectError, Connecting, SpiffeConnector};
pub use incoming::{ServerTlsStream, TlsIncoming};
pub use peer::PeerIdentity;
#[doc(hidden)]
pub use tonic_connection::__private;
