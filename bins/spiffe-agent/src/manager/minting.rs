//! Workload keys and their CSRs: generated locally (the private key never leaves the agent),
//! on blocking threads, split across the available cores.

use std::sync::Arc;

use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use spiffe_attest::RegistrationEntry;
use spiffe_ca::keys::{KeyType, SoftwareSigner};
use spiffe_ca::x509::certification_request;

use super::error::KeyGenerationError;
use crate::server::X509SvidParams;

/// A key generated for an entry, and the CSR that asks the server to certify it.
pub(crate) struct Prepared {
    pub(crate) entry: Arc<RegistrationEntry>,
    /// PKCS#8 DER, the form the Workload API serves (WAPI-14).
    pub(crate) key: PrivateKeyDer<'static>,
    pub(crate) params: X509SvidParams,
}

/// Fewer keys than this are generated on one thread (splitting costs more than it saves).
const PARALLEL_THRESHOLD: usize = 32;

/// Generates a key of `key_type` and its CSR for each entry, in order.
pub(crate) async fn prepare(
    entries: Vec<Arc<RegistrationEntry>>,
    key_type: KeyType,
) -> Result<Vec<Prepared>, KeyGenerationError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads <= 1 || entries.len() < PARALLEL_THRESHOLD {
        return tokio::task::spawn_blocking(move || prepare_blocking(entries, key_type))
            .await
            .map_err(|_| KeyGenerationError::Task)?;
    }
    let chunk = entries.len().div_ceil(threads);
    let mut tasks = Vec::with_capacity(threads);
    let mut rest = entries;
    while !rest.is_empty() {
        let tail = rest.split_off(chunk.min(rest.len()));
        let part = std::mem::replace(&mut rest, tail);
        tasks.push(tokio::task::spawn_blocking(move || {
            prepare_blocking(part, key_type)
        }));
    }
    let mut out = Vec::new();
    for task in tasks {
        out.extend(task.await.map_err(|_| KeyGenerationError::Task)??);
    }
    Ok(out)
}

fn prepare_blocking(
    entries: Vec<Arc<RegistrationEntry>>,
    key_type: KeyType,
) -> Result<Vec<Prepared>, KeyGenerationError> {
    entries
        .into_iter()
        .map(|entry| {
            let signer =
                SoftwareSigner::generate("workload", key_type).map_err(KeyGenerationError::Key)?;
            let csr = certification_request(&signer).map_err(KeyGenerationError::Csr)?;
            let pkcs8 = signer.to_pkcs8().map_err(KeyGenerationError::Key)?;
            Ok(Prepared {
                params: X509SvidParams::new(entry.id().clone(), csr),
                key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8)),
                entry,
            })
        })
        .collect()
}
