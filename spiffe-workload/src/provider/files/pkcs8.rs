//! Keys as the Workload API sends them: unencrypted PKCS#8 DER (WAPI-14), converted from the
//! SEC1 (`EC PRIVATE KEY`) and PKCS#1 (`RSA PRIVATE KEY`) forms the file provider also reads.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature::{
    EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING,
    ECDSA_P521_SHA512_ASN1_SIGNING,
};
use spiffe_core::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use spiffe_core::x509::X509Error;
use spiffe_core::X509Svid;

/// `svid` with its key in PKCS#8 form; unchanged if it already is.
pub(super) fn with_pkcs8_key(svid: X509Svid) -> Result<X509Svid, X509Error> {
    let pkcs8 = match svid.private_key() {
        PrivateKeyDer::Pkcs8(_) => return Ok(svid),
        PrivateKeyDer::Sec1(key) => {
            let der = key.secret_sec1_der();
            [
                &ECDSA_P256_SHA256_ASN1_SIGNING,
                &ECDSA_P384_SHA384_ASN1_SIGNING,
                &ECDSA_P521_SHA512_ASN1_SIGNING,
            ]
            .into_iter()
            .find_map(|alg| EcdsaKeyPair::from_private_key_der(alg, der).ok())
            .and_then(|pair| pair.to_pkcs8v1().ok())
            .map(|doc| doc.as_ref().to_vec())
        }
        PrivateKeyDer::Pkcs1(key) => RsaKeyPair::from_der(key.secret_pkcs1_der())
            .ok()
            .and_then(|pair| pair.as_der().ok())
            .map(|doc| doc.as_ref().to_vec()),
        _ => None,
    }
    .ok_or(X509Error::MalformedPrivateKey)?;
    // The same chain with the converted key; from_parts checks again that it is the leaf's.
    X509Svid::from_parts(
        svid.chain().to_vec(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8)),
    )
}
