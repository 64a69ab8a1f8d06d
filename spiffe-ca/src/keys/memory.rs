//! Keys held only in process memory: for tests, short-lived CAs and embedders that persist
//! nothing.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use super::blocking::{blocking_key_manager, sorted_key_infos, validate_id, BlockingKeyManager};
use super::{KeyError, KeyInfo, KeyType, Signer, SoftwareSigner};

/// A [`KeyManager`](super::KeyManager) whose keys live in memory ([`SoftwareSigner`]s) and
/// vanish with it. Key generation runs on Tokio's blocking thread pool (an RSA-4096 key takes
/// seconds), so its futures must be awaited inside a Tokio runtime.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use spiffe_ca::keys::{KeyManager, KeyType, MemoryKeyManager, SigningScheme};
///
/// let keys = MemoryKeyManager::new();
/// let signer = keys.generate_key("x509-ca", KeyType::EcP256).await?;
/// let signature = signer.sign(SigningScheme::EcdsaP256Sha256Asn1, b"to be signed")?;
/// assert!(!signature.is_empty());
/// # Ok::<_, spiffe_ca::keys::KeyError>(())
/// # }).unwrap();
/// ```
#[derive(Default)]
pub struct MemoryKeyManager {
    keys: Arc<MemoryKeys>,
}

/// The keys of a [`MemoryKeyManager`], shared with the blocking tasks that generate keys.
#[derive(Default)]
struct MemoryKeys {
    keys: RwLock<HashMap<String, Arc<SoftwareSigner>>>,
}

// === impl MemoryKeyManager ===

impl MemoryKeyManager {
    /// An empty key manager.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an existing key under its id, replacing any key with that id.
    pub fn insert(&self, signer: SoftwareSigner) -> Result<Arc<SoftwareSigner>, KeyError> {
        self.keys.insert(signer)
    }
}

blocking_key_manager!(MemoryKeyManager, keys);

impl fmt::Debug for MemoryKeyManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.keys, f)
    }
}

// === impl MemoryKeys ===

impl MemoryKeys {
    fn insert(&self, signer: SoftwareSigner) -> Result<Arc<SoftwareSigner>, KeyError> {
        validate_id(signer.id())?;
        let signer = Arc::new(signer);
        self.keys
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(signer.id().to_owned(), signer.clone());
        Ok(signer)
    }
}

impl BlockingKeyManager for MemoryKeys {
    fn generate(&self, id: &str, key_type: KeyType) -> Result<Arc<dyn Signer>, KeyError> {
        validate_id(id)?;
        let signer = self.insert(SoftwareSigner::generate(id, key_type)?)?;
        Ok(signer)
    }

    fn get(&self, id: &str) -> Result<Option<Arc<dyn Signer>>, KeyError> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        Ok(keys.get(id).map(|s| s.clone() as Arc<dyn Signer>))
    }

    fn list(&self) -> Result<Vec<KeyInfo>, KeyError> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        Ok(sorted_key_infos(keys.values()))
    }

    fn delete(&self, id: &str) -> Result<bool, KeyError> {
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        Ok(keys.remove(id).is_some())
    }
}

impl fmt::Debug for MemoryKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("MemoryKeyManager")
            .field("keys", &count)
            .finish()
    }
}
