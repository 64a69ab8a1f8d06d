//! The peer's SPIFFE ID after a handshake.

use rustls::CommonState;
use spiffe_core::{Certificate, SpiffeId};

use crate::verifier::was_verified;

/// The SPIFFE ID of the peer, once the handshake is complete, if a SPIFFE verifier of this
/// crate ([`SpiffeServerCertVerifier`](crate::SpiffeServerCertVerifier),
/// [`SpiffeClientCertVerifier`](crate::SpiffeClientCertVerifier), which every configuration
/// function and builder method that takes bundles uses) verified the peer's X.509-SVID and its
/// authorizer allowed the ID.
///
/// `None` before the handshake, when the peer presented no certificate, and when the peer was
/// verified by another verifier: in a mixed mode (`verify_server_with` / `verify_clients_with`
/// rustls' WebPKI verifier) a certificate may carry a `spiffe://` URI that no SPIFFE bundle
/// vouched for, and that URI is not reported. The verifiers record the leaves they verified
/// (a bounded record: a connection looked up after many thousand other peers were verified
/// may get `None`, never a wrong ID; look the ID up right after the handshake and keep it, as
/// `hyper::TlsIncoming` does).
pub fn peer_spiffe_id(conn: &CommonState) -> Option<SpiffeId> {
    if conn.is_handshaking() {
        return None;
    }
    let leaf = conn.peer_certificates()?.first()?;
    if !was_verified(leaf.as_ref()) {
        return None;
    }
    Certificate::from_der(leaf.clone().into_owned())
        .ok()?
        .spiffe_id()
        .ok()?
}
