//! The agent SVID, its key and the bundle on disk.

use std::io;
use std::path::{Path, PathBuf};

use base64::Engine;
use spiffe_core::pki_types::{PrivateKeyDer, UnixTime};
use spiffe_core::{TrustDomain, X509Bundle, X509Svid};
use thiserror::Error;

/// The chain file.
pub const SVID_FILE: &str = "agent_svid.pem";
/// The key file (disk key manager only).
pub const KEY_FILE: &str = "agent_svid.key";
/// The bundle file.
pub const BUNDLE_FILE: &str = "bundle.pem";

/// Why stored state could not be read or written. Never quotes key material.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A file could not be read or written.
    #[error("{what} {}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A stored file does not hold what it should.
    #[error("stored {what} {} is unusable: {reason}", path.display())]
    Unusable {
        /// `agent SVID`, `bundle`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why (no key material).
        reason: String,
    },
}

/// Where the agent keeps its identity: `data_dir` for the SVID and the bundle, and the key
/// manager's directory for the key (`None`: the key is never written).
#[derive(Debug, Clone)]
pub struct AgentStore {
    data_dir: PathBuf,
    key_dir: Option<PathBuf>,
}

impl AgentStore {
    /// A store in `data_dir`, with the key in `key_dir` if the key manager keeps it on disk.
    pub fn new(data_dir: &Path, key_dir: Option<&Path>) -> Self {
        Self {
            data_dir: data_dir.to_owned(),
            key_dir: key_dir.map(Path::to_owned),
        }
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    fn svid_path(&self) -> PathBuf {
        self.data_dir.join(SVID_FILE)
    }

    fn bundle_path(&self) -> PathBuf {
        self.data_dir.join(BUNDLE_FILE)
    }

    /// The stored SVID if there is one that can still be used: key and chain present and
    /// matching, of `trust_domain`, not expired at `now`. `Ok(None)` when nothing is stored;
    /// an unusable SVID is an error the caller logs before attesting again.
    pub fn load_svid(
        &self,
        trust_domain: &TrustDomain,
        now: UnixTime,
    ) -> Result<Option<X509Svid>, StoreError> {
        let Some(key_dir) = &self.key_dir else {
            return Ok(None);
        };
        let svid_path = self.svid_path();
        let key_path = key_dir.join(KEY_FILE);
        let (Some(chain), Some(key)) = (read_optional(&svid_path)?, read_optional(&key_path)?)
        else {
            return Ok(None);
        };
        let unusable = |reason: String| StoreError::Unusable {
            what: "agent SVID",
            path: svid_path.clone(),
            reason,
        };
        let svid = X509Svid::parse_pem(&chain, &key).map_err(|e| unusable(e.to_string()))?;
        if &svid.spiffe_id().trust_domain() != trust_domain {
            return Err(unusable(format!(
                "it is of trust domain {:?}, not {:?}",
                svid.spiffe_id().trust_domain().as_str().to_owned(),
                trust_domain.as_str()
            )));
        }
        if svid.leaf().not_after().as_secs() <= now.as_secs() {
            return Err(unusable("it has expired".into()));
        }
        Ok(Some(svid))
    }

    /// Writes `svid` (the key only with a disk key manager).
    pub fn save_svid(&self, svid: &X509Svid) -> Result<(), StoreError> {
        let chain: Vec<&[u8]> = svid.chain().iter().map(|c| c.der().as_ref()).collect();
        let mut pem = String::new();
        for der in chain {
            pem.push_str(&pem_block("CERTIFICATE", der));
        }
        self.ensure_dir(&self.data_dir)?;
        write_file(&self.svid_path(), pem.as_bytes(), false)?;
        if let Some(dir) = &self.key_dir {
            self.ensure_dir(dir)?;
            let key_der = match svid.private_key() {
                PrivateKeyDer::Pkcs8(k) => k.secret_pkcs8_der().to_vec(),
                other => other.secret_der().to_vec(),
            };
            write_file(
                &dir.join(KEY_FILE),
                pem_block("PRIVATE KEY", &key_der).as_bytes(),
                true,
            )?;
        }
        Ok(())
    }

    /// Removes the stored SVID and key (an agent the server refuses for good).
    pub fn remove_svid(&self) -> Result<(), StoreError> {
        let mut paths = vec![self.svid_path()];
        if let Some(dir) = &self.key_dir {
            paths.push(dir.join(KEY_FILE));
        }
        for path in paths {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(StoreError::Io {
                        what: "unable to remove",
                        path,
                        source,
                    })
                }
            }
        }
        Ok(())
    }

    /// The stored bundle of `trust_domain`, if any.
    pub fn load_bundle(
        &self,
        trust_domain: &TrustDomain,
    ) -> Result<Option<X509Bundle>, StoreError> {
        let path = self.bundle_path();
        match read_optional(&path)? {
            None => Ok(None),
            Some(pem) => X509Bundle::parse_pem(trust_domain.clone(), &pem)
                .map(Some)
                .map_err(|e| StoreError::Unusable {
                    what: "bundle",
                    path,
                    reason: e.to_string(),
                }),
        }
    }

    /// Writes the bundle.
    pub fn save_bundle(&self, bundle: &X509Bundle) -> Result<(), StoreError> {
        self.ensure_dir(&self.data_dir)?;
        write_file(&self.bundle_path(), bundle.to_pem().as_bytes(), false)
    }

    fn ensure_dir(&self, dir: &Path) -> Result<(), StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            what: "unable to create directory",
            path: dir.to_owned(),
            source,
        })
    }
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StoreError::Io {
            what: "unable to read",
            path: path.to_owned(),
            source,
        }),
    }
}

fn write_file(path: &Path, contents: &[u8], secret: bool) -> Result<(), StoreError> {
    let result = match secret {
        // Mode 0600, atomic, no symlink followed.
        true => spiffe_ca::secret_file::write(path, contents),
        false => {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, contents).and_then(|()| std::fs::rename(&tmp, path))
        }
    };
    result.map_err(|source| StoreError::Io {
        what: "unable to write",
        path: path.to_owned(),
        source,
    })
}

/// One PEM block, 64 base64 characters a line.
pub(crate) fn pem_block(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
