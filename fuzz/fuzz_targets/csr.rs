//! Fuzz target: PKCS#10 certificate requests (`CertificateRequest::from_der`) and minting from
//! them (`X509SvidIssuer::mint_from_csr`, the CA's proof-of-possession boundary).
//!
//! Nothing may panic. An accepted request keeps its input as its DER, re-parses to the same
//! key, and its SPKI is part of the input. Minting from the same bytes either succeeds with a
//! leaf that certifies that key and verifies against the CA, or refuses the key's type.
//! Seeds: `fuzz/seeds/csr/`, written by `spiffe-ca/tests/csr_fuzz_seeds.rs`.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use spiffe_ca::keys::{KeyType, SoftwareSigner};
use spiffe_ca::x509::X509SvidIssuer;
use spiffe_ca::CaError;
use spiffe_core::pki_types::UnixTime;
use spiffe_core::x509::{self, CertificateRequest};
use spiffe_core::{SpiffeId, TrustDomain, X509Bundle};

const NOW_SECS: u64 = 1_800_000_000;

fn now() -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(NOW_SECS))
}

fn ca() -> &'static (X509SvidIssuer, Arc<X509Bundle>) {
    static CA: OnceLock<(X509SvidIssuer, Arc<X509Bundle>)> = OnceLock::new();
    CA.get_or_init(|| {
        let td = TrustDomain::new("td").expect("valid trust domain");
        let signer = Arc::new(SoftwareSigner::generate("ca", KeyType::EcP256).expect("keygen"));
        let later = UnixTime::since_unix_epoch(Duration::from_secs(NOW_SECS + 3600));
        let ca = X509SvidIssuer::self_signed(&td, signer, now(), later).expect("CA");
        let bundle = Arc::new(X509Bundle::from_authorities(td, vec![ca.trust_anchor().clone()]));
        (ca, bundle)
    })
}

fuzz_target!(|input: &[u8]| {
    let Ok(csr) = CertificateRequest::from_der(input) else {
        return;
    };
    assert_eq!(csr.der(), input);
    let _ = (csr.subject(), csr.signature_algorithm(), format!("{csr:?}"));
    let spki = csr.subject_public_key_info();
    assert!(input.windows(spki.len()).any(|w| w == spki), "SPKI comes from the input");
    let again = CertificateRequest::from_der(csr.der()).expect("accepted input re-parses");
    assert_eq!(again.subject_public_key_info(), spki);
    assert_eq!(again.public_key_algorithm(), csr.public_key_algorithm());

    let (ca, bundle) = ca();
    let id = SpiffeId::new("spiffe://td/w").expect("valid ID");
    match ca.mint_from_csr(input, id.clone(), Duration::from_secs(60), now()) {
        Ok(svid) => {
            let verified = x509::verify(svid.chain(), bundle, now()).expect("minted SVID verifies");
            assert_eq!(verified.spiffe_id(), &id);
            assert_eq!(verified.leaf().subject_public_key_info(), spki);
        }
        Err(CaError::KeyTypeNotAllowed { .. } | CaError::MalformedPublicKey) => {}
        Err(other) => panic!("a CSR that parsed was refused for another reason: {other:?}"),
    }
});
