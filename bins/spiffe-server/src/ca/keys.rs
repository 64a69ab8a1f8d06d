//! The configured key manager.

use std::sync::Arc;

use spiffe_ca::keys::{DiskKeyManager, KeyManager, MemoryKeyManager};

use super::CaSetupError;
use crate::config::KeyManagerConfig;

/// Opens the key manager `config` names.
pub(super) fn open(config: &KeyManagerConfig) -> Result<Arc<dyn KeyManager>, CaSetupError> {
    Ok(match config {
        KeyManagerConfig::Memory => Arc::new(MemoryKeyManager::new()),
        KeyManagerConfig::Disk { keys_path } => {
            // SPIRE keeps its keys in one JSON file at `keys_path`; this server keeps one file
            // per key in a directory there. A SPIRE key file cannot be read.
            if keys_path.is_file() {
                return Err(CaSetupError::KeyManager {
                    kind: "disk",
                    source: spiffe_ca::keys::KeyError::Io {
                        operation: "open key directory (keys_path is a file: SPIRE's key file format is not read; point keys_path at a new directory)",
                        source: std::io::Error::new(
                            std::io::ErrorKind::AlreadyExists,
                            "keys_path is a file",
                        ),
                    },
                });
            }
            let manager =
                DiskKeyManager::open(keys_path).map_err(|source| CaSetupError::KeyManager {
                    kind: "disk",
                    source,
                })?;
            Arc::new(manager)
        }
        KeyManagerConfig::Pkcs11(settings) => pkcs11(settings)?,
    })
}

fn pkcs11(settings: &crate::config::Pkcs11Settings) -> Result<Arc<dyn KeyManager>, CaSetupError> {
    use spiffe_ca::keys::{PinSource, Pkcs11Config, Pkcs11KeyManager};
    let pin = match (&settings.user_pin_path, &settings.user_pin_env) {
        (Some(path), _) => PinSource::File(path.clone()),
        (None, Some(var)) => PinSource::Env(var.clone()),
        // The config decoder requires exactly one of them.
        (None, None) => PinSource::Env("SPIFFE_PKCS11_PIN".into()),
    };
    let config = Pkcs11Config::new(
        settings.module_path.clone(),
        settings.token_label.clone(),
        pin,
    )
    .with_key_label_prefix(settings.key_label_prefix.clone());
    let manager = Pkcs11KeyManager::open(config).map_err(|source| CaSetupError::KeyManager {
        kind: "pkcs11",
        source,
    })?;
    Ok(Arc::new(manager))
}
