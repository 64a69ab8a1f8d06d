//! Keys persisted under a directory, one file per key, written atomically.
//!
//! # File format
//!
//! Each key is the file `<dir>/<id>.key`, mode 0600, holding one JSON object:
//!
//! ```json
//! {"format":"spiffe-ca-key/1","id":"x509-ca","key_type":"ec-p256","pkcs8":"MIGHAgEA…"}
//! ```
//!
//! `pkcs8` is the unencrypted PKCS#8 DER (RFC 5958) in standard base64; `key_type` is one of
//! `ec-p256`, `ec-p384`, `rsa-2048`, `rsa-4096`. The directory is created with mode 0700 and
//! refused if other users can access it.
//!
//! # Crash safety
//!
//! A key is written with [`secret_file::write`](crate::secret_file::write): to
//! `<dir>/.tmp-<id>.key.<nonce>` (created exclusively, mode 0600), flushed to disk, renamed over
//! `<id>.key`, and the directory is flushed, so after a crash a key file is either the old one or
//! the new one, never a mix, and a symlink planted at `<id>.key` is replaced, never followed. [`DiskKeyManager::open`] removes leftover
//! `.tmp-*` files and reports (never skips, never overwrites) a key file it cannot read.
//!
//! # Blocking
//!
//! The async [`KeyManager`](super::KeyManager) methods run their file I/O (and the key
//! generation, which takes seconds for RSA-4096) on Tokio's blocking thread pool, so `fsync`
//! never stalls the executor; they must be awaited inside a Tokio runtime.

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::blocking::{blocking_key_manager, sorted_key_infos, validate_id, BlockingKeyManager};
use super::{KeyError, KeyInfo, KeyType, Signer, SoftwareSigner};

const FORMAT: &str = "spiffe-ca-key/1";
const SUFFIX: &str = ".key";
const TMP_PREFIX: &str = crate::secret_file::TEMP_PREFIX;
/// A key file larger than this is not one of ours (an RSA-4096 key is about 3.3 KB).
const MAX_FILE_LEN: u64 = 64 * 1024;

/// The state of a [`DiskKeyManager`], shared with the blocking tasks that do its file I/O.
struct DiskKeys {
    dir: PathBuf,
    /// Serialises writers (a generate and a delete of the same id) and caches loaded keys.
    keys: Mutex<HashMap<String, Arc<SoftwareSigner>>>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    format: String,
    id: String,
    key_type: String,
    pkcs8: String,
}

// === impl DiskKeyManager ===

/// A [`KeyManager`](super::KeyManager) that keeps [`SoftwareSigner`] keys in files under a directory (see the
/// module docs for the format and the crash-safety guarantees). `Debug` shows the directory
/// and the number of keys only.
pub struct DiskKeyManager {
    keys: Arc<DiskKeys>,
}

impl DiskKeyManager {
    /// Opens (creating it with mode 0700 if missing) the key directory `dir` and loads every
    /// key in it. Leftover temporary files from an interrupted write are removed; a key file
    /// that cannot be read fails the whole open with [`KeyError::CorruptKeyFile`].
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, KeyError> {
        let keys = Arc::new(DiskKeys::open(dir)?);
        Ok(Self { keys })
    }

    /// The key directory.
    pub fn dir(&self) -> &Path {
        &self.keys.dir
    }
}

blocking_key_manager!(DiskKeyManager, keys);

impl fmt::Debug for DiskKeyManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.keys, f)
    }
}

// === impl DiskKeys ===

impl DiskKeys {
    fn open(dir: impl Into<PathBuf>) -> Result<Self, KeyError> {
        let dir = dir.into();
        match fs::metadata(&dir) {
            Ok(meta) => {
                let mode = meta.permissions().mode() & 0o777;
                if !meta.is_dir() {
                    return Err(io_err(
                        "open key directory",
                        io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
                    ));
                }
                if mode & 0o077 != 0 {
                    return Err(KeyError::InsecurePermissions { path: dir, mode });
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|e| io_err("create key directory", e))?,
            Err(e) => return Err(io_err("open key directory", e)),
        }

        let mut keys = HashMap::new();
        let entries = fs::read_dir(&dir).map_err(|e| io_err("read key directory", e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_err("read key directory", e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let path = entry.path();
            if name.starts_with(TMP_PREFIX) {
                // A write interrupted before its rename: the key file it was replacing, if
                // any, is intact.
                fs::remove_file(&path).map_err(|e| io_err("remove temporary key file", e))?;
                continue;
            }
            let Some(id) = name.strip_suffix(SUFFIX) else {
                continue;
            };
            if validate_id(id).is_err() {
                continue;
            }
            let signer = load(&path, id)?;
            keys.insert(id.to_owned(), Arc::new(signer));
        }
        Ok(Self {
            dir,
            keys: Mutex::new(keys),
        })
    }

    fn path_of(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}{SUFFIX}"))
    }

    fn write_atomically(&self, id: &str, contents: &[u8]) -> Result<(), KeyError> {
        // Temporary file `.tmp-<id>.key.<nonce>`, removed by `open` if a crash leaves it.
        crate::secret_file::write(&self.path_of(id), contents)
            .map_err(|e| io_err("write key file", e))
    }
}

impl BlockingKeyManager for DiskKeys {
    fn generate(&self, id: &str, key_type: KeyType) -> Result<Arc<dyn Signer>, KeyError> {
        validate_id(id)?;
        let signer = SoftwareSigner::generate(id, key_type)?;
        let file = KeyFile {
            format: FORMAT.to_owned(),
            id: id.to_owned(),
            key_type: key_type.name().to_owned(),
            pkcs8: BASE64.encode(signer.to_pkcs8()?),
        };
        let json = serde_json::to_vec(&file).map_err(|_| KeyError::MalformedKey { key_type })?;

        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        self.write_atomically(id, &json)?;
        let signer = Arc::new(signer);
        keys.insert(id.to_owned(), signer.clone());
        Ok(signer)
    }

    fn get(&self, id: &str) -> Result<Option<Arc<dyn Signer>>, KeyError> {
        validate_id(id)?;
        let keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(keys.get(id).map(|s| s.clone() as Arc<dyn Signer>))
    }

    fn list(&self) -> Result<Vec<KeyInfo>, KeyError> {
        let keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(sorted_key_infos(keys.values()))
    }

    fn delete(&self, id: &str) -> Result<bool, KeyError> {
        validate_id(id)?;
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        let existed = match fs::remove_file(self.path_of(id)) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(io_err("delete key file", e)),
        };
        sync_dir(&self.dir).map_err(|e| io_err("delete key file", e))?;
        Ok(keys.remove(id).is_some() || existed)
    }
}

impl fmt::Debug for DiskKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("DiskKeyManager")
            .field("dir", &self.dir)
            .field("keys", &count)
            .finish()
    }
}

fn load(path: &Path, id: &str) -> Result<SoftwareSigner, KeyError> {
    let corrupt = |reason| KeyError::CorruptKeyFile {
        path: path.to_owned(),
        reason,
    };
    let file = File::open(path).map_err(|e| io_err("read key file", e))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_err("read key file", e))?;
    if bytes.len() as u64 > MAX_FILE_LEN {
        return Err(corrupt("too large"));
    }
    if bytes.is_empty() {
        return Err(corrupt("empty"));
    }
    let parsed: KeyFile =
        serde_json::from_slice(&bytes).map_err(|_| corrupt("truncated or not a key file"))?;
    if parsed.format != FORMAT {
        return Err(corrupt("unknown format"));
    }
    if parsed.id != id {
        return Err(corrupt("id does not match the file name"));
    }
    let key_type = KeyType::from_name(&parsed.key_type).ok_or(corrupt("unknown key type"))?;
    let pkcs8 = BASE64
        .decode(parsed.pkcs8.as_bytes())
        .map_err(|_| corrupt("key is not base64"))?;
    SoftwareSigner::from_pkcs8(id, key_type, &pkcs8)
        .map_err(|_| corrupt("key is not a valid PKCS#8 key of its type"))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn io_err(operation: &'static str, source: io::Error) -> KeyError {
    KeyError::Io { operation, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_type_names_round_trip() {
        for t in KeyType::ALL {
            assert_eq!(KeyType::from_name(t.name()), Some(t));
        }
        assert_eq!(KeyType::from_name("ed25519"), None);
    }
}
