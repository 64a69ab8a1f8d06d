use crate::SpiffeId;

use super::Certificate;

/// An X.509-SVID: a leaf certificate, its intermediates, and the private key.
///
/// STUB: to be replaced.
pub struct X509Svid {
    spiffe_id: SpiffeId,
    chain: Vec<Certificate>,
}

impl X509Svid {
    /// The SVID's SPIFFE ID.
    pub fn spiffe_id(&self) -> &SpiffeId {
        &self.spiffe_id
    }

    /// The chain, leaf first.
    pub fn chain(&self) -> &[Certificate] {
        &self.chain
    }
}
