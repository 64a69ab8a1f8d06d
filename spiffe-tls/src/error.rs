//! Why a peer was rejected, as carried inside a `rustls::Error`.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

use rustls::{CertificateError, OtherError};
use spiffe_core::x509::X509VerifyError;
use spiffe_core::SpiffeId;

/// Why a peer's certificate was rejected by a SPIFFE verifier.
///
/// The verifiers return it to rustls as
/// `rustls::Error::InvalidCertificate(CertificateError::Other(..))`; rustls shows it through
/// its structured `Debug` form (`Unauthorized { spiffe_id: SpiffeId("spiffe://…") }`), and
/// [`PeerRejected::from_rustls`] or [`PeerRejected::from_io`] get the value back. Its `Display`
/// says what was refused and why in one line; for [`Svid`](Self::Svid) the
/// [`source`](Error::source) is the cause of the verification error, if it has one, so no
/// message is printed twice along the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerRejected {
    /// The peer's chain is not a valid X.509-SVID of a trusted trust domain.
    Svid(X509VerifyError),
    /// The peer's X.509-SVID verified, but the authorizer refused its SPIFFE ID.
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

impl fmt::Display for PeerRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Svid(error) => write!(f, "peer X.509-SVID did not verify: {error}"),
            Self::Unauthorized { spiffe_id } => {
                write!(f, "peer SPIFFE ID {spiffe_id} is not authorized")
            }
        }
    }
}

impl Error for PeerRejected {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            // The verification error's own message is part of ours; its cause comes next.
            Self::Svid(error) => error.source(),
            Self::Unauthorized { .. } => None,
        }
    }
}

impl From<PeerRejected> for rustls::Error {
    fn from(value: PeerRejected) -> Self {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(value))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_why_once_and_debug_is_structured() {
        let malformed = PeerRejected::Svid(X509VerifyError::Malformed {
            index: 1,
            source: spiffe_core::x509::X509Error::MalformedCertificate,
        });
        let top = malformed.to_string();
        assert!(top.contains("certificate 1 is malformed"), "{top}");
        let cause = malformed.source().map(ToString::to_string);
        let cause = cause.as_deref().unwrap_or_default();
        assert!(!cause.is_empty() && !top.contains(cause), "{top} / {cause}");

        let expired = PeerRejected::Svid(X509VerifyError::Expired { index: 0 });
        assert!(expired.source().is_none());
        assert_eq!(format!("{expired:?}"), "Svid(Expired { index: 0 })");

        let spiffe_id = SpiffeId::new("spiffe://a.test/x").expect("a valid ID");
        let refused = PeerRejected::Unauthorized { spiffe_id };
        assert_eq!(
            format!("{refused:?}"),
            r#"Unauthorized { spiffe_id: SpiffeId("spiffe://a.test/x") }"#
        );
        assert_eq!(
            refused.to_string(),
            "peer SPIFFE ID spiffe://a.test/x is not authorized"
        );
    }
}
