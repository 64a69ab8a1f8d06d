//! The peer of an established connection, as an extension value.

use std::net::SocketAddr;

use spiffe_core::SpiffeId;

/// Who is at the other end of an established mTLS connection.
///
/// Cheap to clone, so it can be put into request or response extensions: hyper-util's client
/// attaches the server's identity to each response made through a
/// [`SpiffeConnector`](super::SpiffeConnector); a server puts its client's identity (from
/// [`ServerTlsStream::peer_identity`](super::ServerTlsStream::peer_identity)) into each
/// request's extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerIdentity {
    spiffe_id: Option<SpiffeId>,
    remote_addr: Option<SocketAddr>,
}

// === impl PeerIdentity ===

impl PeerIdentity {
    /// A peer identity from its parts.
    pub fn new(spiffe_id: Option<SpiffeId>, remote_addr: Option<SocketAddr>) -> Self {
        Self {
            spiffe_id,
            remote_addr,
        }
    }

    /// The peer's SPIFFE ID, as [`peer_spiffe_id`](crate::peer_spiffe_id) gives it: the
    /// identity a SPIFFE verifier of this crate authenticated and its authorizer allowed.
    /// `None` when the peer presented no certificate (a TLS server without client
    /// authentication) or was verified by another verifier (a mixed mode with Web PKI), even if
    /// its certificate carries a `spiffe://` URI.
    pub fn spiffe_id(&self) -> Option<&SpiffeId> {
        self.spiffe_id.as_ref()
    }

    /// The peer's socket address, when the transport has one.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote_addr
    }
}
