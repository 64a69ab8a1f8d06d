//! What the built-in key managers share: their operations are synchronous (memory, files, a
//! blocking PKCS#11 library, key generation), so each keeps its state in an `Arc` of a
//! [`BlockingKeyManager`] and gets its async [`KeyManager`](super::KeyManager) from
//! [`blocking_key_manager!`], which runs every operation on Tokio's blocking thread pool; and
//! they all check ids with [`validate_id`].

use std::sync::Arc;

use super::{KeyError, KeyInfo, KeyType, Signer};

/// The longest key id.
const MAX_ID_LEN: usize = 128;

/// A key manager whose operations complete without waiting on anything async; the
/// [`KeyManager`](super::KeyManager) methods of the same names run these.
pub(super) trait BlockingKeyManager: Send + Sync + 'static {
    /// Generates a key of `key_type` under `id`, replacing any key with that id.
    fn generate(&self, id: &str, key_type: KeyType) -> Result<Arc<dyn Signer>, KeyError>;

    /// The key `id`, if there is one.
    fn get(&self, id: &str) -> Result<Option<Arc<dyn Signer>>, KeyError>;

    /// Every key held.
    fn list(&self) -> Result<Vec<KeyInfo>, KeyError>;

    /// Deletes the key `id`; returns whether there was one.
    fn delete(&self, id: &str) -> Result<bool, KeyError>;
}

/// Runs a key manager's operation on Tokio's blocking thread pool: file I/O, PKCS#11 calls
/// and key generation (seconds for RSA-4096) must not stall the executor. A panic in `op` is
/// resumed in the caller, as if `op` had run in place.
pub(super) async fn run_blocking<T, F>(op: F) -> Result<T, KeyError>
where
    F: FnOnce() -> Result<T, KeyError> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(op).await {
        Ok(result) => result,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(_) => Err(KeyError::Interrupted),
    }
}

/// Implements [`KeyManager`](super::KeyManager) for a type whose field `$state` is an
/// `Arc` of a [`BlockingKeyManager`]: each method runs on the blocking pool
/// ([`run_blocking`]) with a clone of that `Arc`.
macro_rules! blocking_key_manager {
    ($manager:ty, $state:ident) => {
        impl $crate::keys::KeyManager for $manager {
            fn generate_key<'a>(
                &'a self,
                id: &'a str,
                key_type: $crate::keys::KeyType,
            ) -> spiffe_core::BoxFuture<
                'a,
                Result<::std::sync::Arc<dyn $crate::keys::Signer>, $crate::keys::KeyError>,
            > {
                let (state, id) = (::std::sync::Arc::clone(&self.$state), id.to_owned());
                Box::pin($crate::keys::blocking::run_blocking(move || {
                    BlockingKeyManager::generate(&*state, &id, key_type)
                }))
            }

            fn get_key<'a>(
                &'a self,
                id: &'a str,
            ) -> spiffe_core::BoxFuture<
                'a,
                Result<Option<::std::sync::Arc<dyn $crate::keys::Signer>>, $crate::keys::KeyError>,
            > {
                let (state, id) = (::std::sync::Arc::clone(&self.$state), id.to_owned());
                Box::pin($crate::keys::blocking::run_blocking(move || {
                    BlockingKeyManager::get(&*state, &id)
                }))
            }

            fn list_keys(
                &self,
            ) -> spiffe_core::BoxFuture<
                '_,
                Result<Vec<$crate::keys::KeyInfo>, $crate::keys::KeyError>,
            > {
                let state = ::std::sync::Arc::clone(&self.$state);
                Box::pin($crate::keys::blocking::run_blocking(move || {
                    BlockingKeyManager::list(&*state)
                }))
            }

            fn delete_key<'a>(
                &'a self,
                id: &'a str,
            ) -> spiffe_core::BoxFuture<'a, Result<bool, $crate::keys::KeyError>> {
                let (state, id) = (::std::sync::Arc::clone(&self.$state), id.to_owned());
                Box::pin($crate::keys::blocking::run_blocking(move || {
                    BlockingKeyManager::delete(&*state, &id)
                }))
            }
        }
    };
}
pub(super) use blocking_key_manager;

/// The [`KeyInfo`]s of `signers`, sorted by id.
pub(super) fn sorted_key_infos<'a, S: Signer + 'a>(
    signers: impl IntoIterator<Item = &'a Arc<S>>,
) -> Vec<KeyInfo> {
    let mut out: Vec<KeyInfo> = signers
        .into_iter()
        .map(|s| KeyInfo {
            id: s.id().to_owned(),
            public_key: s.public_key().clone(),
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// Checks a key id: 1 to 128 characters from `[A-Za-z0-9._-]`, not starting with `.` (so no
/// path traversal, no hidden or temporary file names, and a label any token accepts).
pub(super) fn validate_id(id: &str) -> Result<(), KeyError> {
    let reason = if id.is_empty() {
        "empty"
    } else if id.len() > MAX_ID_LEN {
        "longer than 128 characters"
    } else if id.starts_with('.') {
        "starts with '.'"
    } else if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        "characters outside [A-Za-z0-9._-]"
    } else {
        return Ok(());
    };
    Err(KeyError::InvalidKeyId { reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["a", "x509-ca.1", "A_b-9", &"a".repeat(128)] {
            assert!(validate_id(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            ".hidden",
            "a b",
            "é",
            &"a".repeat(129),
        ] {
            assert!(
                matches!(validate_id(bad), Err(KeyError::InvalidKeyId { .. })),
                "{bad}"
            );
        }
    }
}
