//! X.509-SVIDs (X509-SVID.md): certificate parsing, SVIDs with their keys, X.509 bundles and
//! the verifier.

mod algorithm;
mod bundle;
mod certificate;
mod csr;
mod error;
mod extensions;
mod name;
mod name_constraints;
mod pem;
mod private_key;
mod spki;
mod svid;
mod time;
mod verify;
mod verify_error;
mod verify_options;

pub use algorithm::{PublicKeyAlgorithm, SignatureAlgorithm};
pub use bundle::X509Bundle;
pub use certificate::Certificate;
pub use csr::CertificateRequest;
pub use error::X509Error;
pub use extensions::{ExtendedKeyUsage, KeyUsage};
pub use pem::parse_certificates;
pub use spki::{RsaPublicKey, SubjectPublicKeyInfo};
pub use svid::X509Svid;
pub use verify::{
    verify, verify_parsed, verify_parsed_with, verify_path, verify_with, VerifiedX509Svid,
};
pub use verify_error::X509VerifyError;
pub use verify_options::X509VerifyOptions;
