//! The peer's SPIFFE ID after a handshake.

use rustls::CommonState;
use spiffe_core::{Certificate, SpiffeId};

/// The SPIFFE ID in the peer's leaf certificate, once the handshake is complete.
///
/// With this crate's verifiers the leaf was verified and authorized before the handshake
/// completed, so this is the authenticated peer identity. `None` before the handshake, when
/// the peer presented no certificate, or when its leaf carries no single SPIFFE ID.
pub fn peer_spiffe_id(conn: &CommonState) -> Option<SpiffeId> {
    if conn.is_handshaking() {
        return None;
    }
    let leaf = conn.peer_certificates()?.first()?;
    Certificate::from_der(leaf.clone().into_owned())
        .ok()?
        .spiffe_id()
        .ok()?
}
