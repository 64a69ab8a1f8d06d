//! The agent half of x509pop.

use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use spiffe_core::Certificate;

use super::proof::SigningKey;
use super::wire;
use super::{X509PopError, PLUGIN_NAME};
use crate::node::{AgentAttestation, NodeAttestorAgent};
use crate::AttestError;

/// The agent half: presents a certificate chain and signs the server's nonce with the leaf's
/// private key.
#[derive(Clone)]
pub struct X509PopAgent {
    inner: Arc<Inner>,
}

struct Inner {
    chain: Vec<CertificateDer<'static>>,
    key: SigningKey,
}

// === impl X509PopAgent ===

impl X509PopAgent {
    /// An agent with `chain` (leaf first; intermediates the server may not have) and the
    /// leaf's private key. Fails when the key does not belong to the leaf or is not ECDSA
    /// P-256/P-384 or RSA.
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: &PrivateKeyDer<'_>,
    ) -> Result<Self, X509PopError> {
        if chain.len() > super::MAX_CHAIN_LEN {
            return Err(X509PopError::ChainTooLong {
                len: chain.len(),
                max: super::MAX_CHAIN_LEN,
            });
        }
        let leaf_der = chain.first().ok_or(X509PopError::NoCertificates)?;
        let leaf = Certificate::from_der(leaf_der.clone())
            .map_err(|_| X509PopError::MalformedCertificate { index: 0 })?;
        let key = SigningKey::new(&leaf, key)?;
        Ok(Self {
            inner: Arc::new(Inner { chain, key }),
        })
    }

    /// Loads the chain and the key from PEM text (`CERTIFICATE` blocks, leaf first; one
    /// `PRIVATE KEY`, `EC PRIVATE KEY` or `RSA PRIVATE KEY` block).
    pub fn from_pem(chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, X509PopError> {
        let chain = CertificateDer::pem_slice_iter(chain_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| X509PopError::BadAgentFile {
                what: "certificate chain",
            })?;
        let key =
            PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| X509PopError::BadAgentFile {
                what: "private key",
            })?;
        Self::new(chain, &key)
    }
}

impl std::fmt::Debug for X509PopAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("X509PopAgent")
            .field("chain", &self.inner.chain.len())
            .finish_non_exhaustive()
    }
}

impl NodeAttestorAgent for X509PopAgent {
    fn name(&self) -> &'static str {
        PLUGIN_NAME
    }

    fn begin(&self) -> Result<Box<dyn AgentAttestation>, AttestError> {
        Ok(Box::new(Attempt {
            inner: self.inner.clone(),
            answered: false,
        }))
    }
}

struct Attempt {
    inner: Arc<Inner>,
    answered: bool,
}

impl AgentAttestation for Attempt {
    fn payload(&mut self) -> Result<Vec<u8>, AttestError> {
        let ders: Vec<&[u8]> = self.inner.chain.iter().map(|c| c.as_ref()).collect();
        Ok(wire::encode_payload(&ders))
    }

    fn respond(&mut self, challenge: &[u8]) -> Result<Vec<u8>, AttestError> {
        if std::mem::replace(&mut self.answered, true) {
            return Err(AttestError::OutOfOrder("x509pop answers one challenge"));
        }
        let challenge =
            wire::parse_challenge(challenge).map_err(|e| AttestError::plugin(PLUGIN_NAME, e))?;
        let proof = self
            .inner
            .key
            .prove(challenge)
            .map_err(|e| AttestError::plugin(PLUGIN_NAME, e))?;
        Ok(wire::encode_proof(&proof))
    }
}
