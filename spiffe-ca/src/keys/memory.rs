//! Keys held only in process memory: for tests, short-lived CAs and embedders that persist
//! nothing.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use super::disk::validate_id;
use super::{BoxFuture, KeyError, KeyInfo, KeyManager, KeyType, Signer, SoftwareSigner};

/// A [`KeyManager`] whose keys live in memory ([`SoftwareSigner`]s) and vanish with it.
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
        validate_id(signer.id())?;
        let signer = Arc::new(signer);
        self.keys
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(signer.id().to_owned(), signer.clone());
        Ok(signer)
    }

    fn generate(&self, id: &str, key_type: KeyType) -> Result<Arc<dyn Signer>, KeyError> {
        validate_id(id)?;
        let signer = self.insert(SoftwareSigner::generate(id, key_type)?)?;
        Ok(signer)
    }

    fn get(&self, id: &str) -> Option<Arc<dyn Signer>> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        keys.get(id).map(|s| s.clone() as Arc<dyn Signer>)
    }

    fn list(&self) -> Vec<KeyInfo> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        let mut out: Vec<KeyInfo> = keys
            .values()
            .map(|s| KeyInfo {
                id: s.id().to_owned(),
                public_key: s.public_key().clone(),
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    fn delete(&self, id: &str) -> bool {
        self.keys
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id)
            .is_some()
    }
}

impl KeyManager for MemoryKeyManager {
    fn generate_key<'a>(
        &'a self,
        id: &'a str,
        key_type: KeyType,
    ) -> BoxFuture<'a, Result<Arc<dyn Signer>, KeyError>> {
        Box::pin(async move { self.generate(id, key_type) })
    }

    fn get_key<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<dyn Signer>>, KeyError>> {
        Box::pin(async move { Ok(self.get(id)) })
    }

    fn list_keys(&self) -> BoxFuture<'_, Result<Vec<KeyInfo>, KeyError>> {
        Box::pin(async move { Ok(self.list()) })
    }

    fn delete_key<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, KeyError>> {
        Box::pin(async move { Ok(self.delete(id)) })
    }
}

impl fmt::Debug for MemoryKeyManager {
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
