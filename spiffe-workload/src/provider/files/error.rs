//! Why the file provider could not (re)load its files.

use std::io;
use std::path::PathBuf;

use spiffe_core::bundle::BundleError;
use spiffe_core::x509::X509Error;
use spiffe_core::TrustDomain;

use spiffe_core::BoxError;

/// Why the files could not be (re)loaded. The provider keeps serving what it had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileProviderError {
    /// A file could not be read.
    #[error("reading `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A file is larger than the provider reads.
    #[error("`{}` is larger than {limit} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// The certificate chain and key do not make an X.509-SVID (bad PEM, not an SVID, or a key
    /// that does not belong to the leaf, WAPI-13).
    #[error("X.509-SVID `{}` with key `{}` is unusable", chain.display(), key.display())]
    Svid {
        /// The certificate chain file.
        chain: PathBuf,
        /// The private key file.
        key: PathBuf,
        /// What is wrong.
        #[source]
        source: X509Error,
    },
    /// A bundle file is neither PEM certificates nor a SPIFFE bundle document.
    #[error("bundle `{}` of trust domain {trust_domain} is unusable", path.display())]
    Bundle {
        /// The file.
        path: PathBuf,
        /// The trust domain it was read for.
        trust_domain: TrustDomain,
        /// What is wrong.
        #[source]
        source: BundleError,
    },
    /// Two bundle files were given for one trust domain (a federated one repeated, or equal to
    /// the SVID's own).
    #[error("more than one bundle file for trust domain {trust_domain}")]
    DuplicateTrustDomain {
        /// The trust domain.
        trust_domain: TrustDomain,
    },
    /// The JWT signing key file was refused by the loader.
    #[error("JWT signing key `{}` is unusable", path.display())]
    JwtKey {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: BoxError,
    },
}
