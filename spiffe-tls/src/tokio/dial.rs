//! [`dial`]: a TCP connection and a TLS handshake in one call.

use std::io;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::listener::{handshake_timed_out, DEFAULT_HANDSHAKE_TIMEOUT};

/// Connects to `addr` over TCP (with `TCP_NODELAY`) and runs the TLS handshake with `config`
/// (for example from [`mtls_client_config`](crate::mtls_client_config)), allowing it
/// [`DEFAULT_HANDSHAKE_TIMEOUT`]: the counterpart of go-spiffe's `spiffetls.Dial`.
///
/// The server is authenticated and authorized by the configuration's verifier, by its SPIFFE
/// ID; no server name is needed (the peer's IP address is used, which sends no SNI). A server
/// the verifier refused fails the handshake with an error carrying a
/// [`PeerRejected`](crate::PeerRejected) ([`PeerRejected::from_io`](crate::PeerRejected::from_io)).
/// With a configuration whose verifier checks DNS names (Web PKI), use
/// [`TlsConnector`] with the right name instead.
///
/// ```no_run
/// # async fn demo(config: rustls::ClientConfig) -> std::io::Result<()> {
/// use spiffe_tls::tokio::{dial, PeerSpiffeId};
/// use tokio::io::AsyncWriteExt;
///
/// let mut stream = dial("127.0.0.1:8443", config).await?;
/// println!("talking to {:?}", stream.peer_spiffe_id());
/// stream.write_all(b"hello\n").await?;
/// # Ok(()) }
/// ```
pub async fn dial(
    addr: impl ToSocketAddrs,
    config: impl Into<Arc<ClientConfig>>,
) -> io::Result<TlsStream<TcpStream>> {
    let connector = TlsConnector::from(config.into());
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let name = ServerName::from(tcp.peer_addr()?.ip());
    match tokio::time::timeout(DEFAULT_HANDSHAKE_TIMEOUT, connector.connect(name, tcp)).await {
        Ok(result) => result,
        Err(_) => Err(handshake_timed_out(DEFAULT_HANDSHAKE_TIMEOUT)),
    }
}
