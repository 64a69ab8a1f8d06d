//! Why a peer was rejected, as carried inside a `rustls::Error`.

use std::fmt;
use std::sync::Arc;

use rustls::{CertificateError, OtherError};
use spiffe_core::x509::X509VerifyError;
use spiffe_core::SpiffeId;
use thiserror::Error;

/// Why a peer's certificate was rejected by a SPIFFE verifier.
///
/// Its `Debug` form is its message: rustls shows a `CertificateError::Other` through
/// `Debug`, and the application should see why its peer was refused.
///
/// The verifiers return it to rustls as
/// `rustls::Error::InvalidCertificate(CertificateError::Other(..))`, so the message reaches the
/// application unchanged; [`PeerRejected::from_rustls`] gets the structured value back.
#[derive(Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PeerRejected {
    /// The peer's chain is not a valid X.509-SVID of a trusted trust domain.
    #[error("peer X.509-SVID did not verify: {0}")]
    Svid(#[source] X509VerifyError),
    /// The peer's X.509-SVID verified, but the authorizer refused its SPIFFE ID.
    #[error("peer SPIFFE ID {spiffe_id} is not authorized")]
    Unauthorized {
        /// The verified SPIFFE ID that was refused.
        spiffe_id: SpiffeId,
    },
}

// === impl PeerRejected ===

impl PeerRejected {
    /// The `PeerRejected` inside an error a rustls connection returned, if a SPIFFE verifier
    /// produced it.
    pub fn from_rustls(error: &rustls::Error) -> Option<&PeerRejected> {
        match error {
            rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
                inner.downcast_ref::<PeerRejected>()
            }
            _ => None,
        }
    }

    /// The `PeerRejected` inside an I/O error from a TLS stream (tokio-rustls, the hyper
    /// connector and acceptor), which carries the rustls error, if a SPIFFE verifier produced
    /// it.
    pub fn from_io(error: &std::io::Error) -> Option<&PeerRejected> {
        let rustls = error.get_ref()?.downcast_ref::<rustls::Error>()?;
        Self::from_rustls(rustls)
    }
}

impl fmt::Debug for PeerRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<PeerRejected> for rustls::Error {
    fn from(value: PeerRejected) -> Self {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(value))))
    }
}
