//! Which files the file provider reads, and how one consistent set of them becomes material.

use std::collections::BTreeSet;
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use spiffe_core::{JwtBundle, SpiffeBundle, TrustDomain, X509Bundle, X509Svid};

use super::{FileProviderError, JwtKeyLoader, JwtSvidMinter};
use crate::provider::{JwtBundles, X509Context, X509SvidEntry};

/// Files larger than this are refused rather than read into memory.
const MAX_FILE_LEN: u64 = 4 * 1024 * 1024;

/// Which files a [`FileIdentityProvider`](super::FileIdentityProvider) serves, and to whom.
#[derive(Clone)]
pub struct FileIdentityConfig {
    svid: PathBuf,
    key: PathBuf,
    bundle: PathBuf,
    federated: Vec<(TrustDomain, PathBuf)>,
    jwt_key: Option<(PathBuf, Arc<dyn JwtKeyLoader>)>,
    allowed_uids: Option<BTreeSet<u32>>,
}

/// One consistent load of every file.
pub(super) struct Material {
    pub(super) fingerprint: u64,
    pub(super) x509: X509Context,
    pub(super) jwt_bundles: JwtBundles,
    pub(super) minter: Option<Arc<dyn JwtSvidMinter>>,
}

/// The raw bytes of every configured file, read in one pass.
pub(super) struct Snapshot {
    svid: Vec<u8>,
    key: Vec<u8>,
    bundle: Vec<u8>,
    federated: Vec<Vec<u8>>,
    jwt_key: Option<Vec<u8>>,
    pub(super) fingerprint: u64,
}

// === impl FileIdentityConfig ===

impl FileIdentityConfig {
    /// Serve the X.509-SVID in `svid` (PEM certificates, leaf first) with the private key in
    /// `key` (PEM: PKCS#8, SEC1 or PKCS#1), and the bundle of its trust domain in `bundle`
    /// (PEM certificates or a SPIFFE bundle document, whose JWT authorities are served too).
    pub fn new(
        svid: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
        bundle: impl Into<PathBuf>,
    ) -> Self {
        Self {
            svid: svid.into(),
            key: key.into(),
            bundle: bundle.into(),
            federated: Vec::new(),
            jwt_key: None,
            allowed_uids: None,
        }
    }

    /// Also serve the bundle of the federated `trust_domain` in `path` (PEM certificates or a
    /// SPIFFE bundle document).
    #[must_use]
    pub fn with_federated(mut self, trust_domain: TrustDomain, path: impl Into<PathBuf>) -> Self {
        self.federated.push((trust_domain, path.into()));
        self
    }

    /// Mint JWT-SVIDs with the key in `path`, loaded (and reloaded) by `loader`; its public key
    /// joins the JWT bundle of the SVID's trust domain.
    #[must_use]
    pub fn with_jwt_key(mut self, path: impl Into<PathBuf>, loader: impl JwtKeyLoader) -> Self {
        self.jwt_key = Some((path.into(), Arc::new(loader)));
        self
    }

    /// Serve only callers running as one of `uids`; others get no identity
    /// (PERMISSION_DENIED). Without this, every caller gets the identity.
    #[must_use]
    pub fn with_allowed_uids(mut self, uids: impl IntoIterator<Item = u32>) -> Self {
        self.allowed_uids = Some(uids.into_iter().collect());
        self
    }

    /// Whether a caller running as `uid` is served.
    pub fn allows(&self, uid: u32) -> bool {
        self.allowed_uids
            .as_ref()
            .is_none_or(|uids| uids.contains(&uid))
    }

    /// Every file the provider reads, in reading order.
    pub fn files(&self) -> impl Iterator<Item = &Path> + '_ {
        [&self.svid, &self.key, &self.bundle]
            .into_iter()
            .chain(self.federated.iter().map(|(_, path)| path))
            .chain(self.jwt_key.iter().map(|(path, _)| path))
            .map(PathBuf::as_path)
    }

    pub(super) fn read(&self) -> Result<Snapshot, FileProviderError> {
        let mut hasher = DefaultHasher::new();
        let mut read = |path: &Path| -> Result<Vec<u8>, FileProviderError> {
            let data = read_file(path)?;
            data.hash(&mut hasher);
            Ok(data)
        };
        let svid = read(&self.svid)?;
        let key = read(&self.key)?;
        let bundle = read(&self.bundle)?;
        let federated = self
            .federated
            .iter()
            .map(|(_, path)| read(path))
            .collect::<Result<Vec<_>, _>>()?;
        let jwt_key = self
            .jwt_key
            .as_ref()
            .map(|(path, _)| read(path))
            .transpose()?;
        Ok(Snapshot {
            svid,
            key,
            bundle,
            federated,
            jwt_key,
            fingerprint: hasher.finish(),
        })
    }

    /// Parses a snapshot into material, checking everything before anything is served.
    pub(super) fn parse(&self, snapshot: Snapshot) -> Result<Material, FileProviderError> {
        // WAPI-13: the key must belong to the leaf (checked by `X509Svid::parse_pem`); WAPI-14:
        // it is served as PKCS#8, so a SEC1 or PKCS#1 key is converted once, here.
        let svid = X509Svid::parse_pem(&snapshot.svid, &snapshot.key)
            .and_then(super::pkcs8::with_pkcs8_key)
            .map_err(|source| FileProviderError::Svid {
                chain: self.svid.clone(),
                key: self.key.clone(),
                source,
            })?;
        let own = svid.spiffe_id().trust_domain().clone();
        let (own_x509, mut own_jwt) = parse_bundle(&self.bundle, &own, &snapshot.bundle)?;

        let minter = match (&self.jwt_key, &snapshot.jwt_key) {
            (Some((path, loader)), Some(data)) => {
                let minter =
                    loader
                        .load(&own, data)
                        .map_err(|source| FileProviderError::JwtKey {
                            path: path.clone(),
                            source,
                        })?;
                own_jwt.insert(minter.jwt_authority());
                Some(minter)
            }
            _ => None,
        };

        // WAPI-13: the bundle of the SVID's own trust domain is always sent.
        let mut bundles = vec![Arc::new(own_x509)];
        let mut jwt_bundles = Vec::new();
        if !own_jwt.is_empty() {
            jwt_bundles.push(Arc::new(own_jwt));
        }
        let mut seen = BTreeSet::from([own]);
        for ((trust_domain, path), data) in self.federated.iter().zip(&snapshot.federated) {
            if !seen.insert(trust_domain.clone()) {
                return Err(FileProviderError::DuplicateTrustDomain {
                    trust_domain: trust_domain.clone(),
                });
            }
            let (x509, jwt) = parse_bundle(path, trust_domain, data)?;
            if !x509.authorities().is_empty() {
                bundles.push(Arc::new(x509));
            }
            if !jwt.is_empty() {
                jwt_bundles.push(Arc::new(jwt));
            }
        }
        Ok(Material {
            fingerprint: snapshot.fingerprint,
            x509: X509Context {
                svids: vec![X509SvidEntry::new(Arc::new(svid))],
                bundles,
            },
            jwt_bundles,
            minter,
        })
    }
}

impl fmt::Debug for FileIdentityConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileIdentityConfig")
            .field("svid", &self.svid)
            .field("key", &self.key)
            .field("bundle", &self.bundle)
            .field("federated", &self.federated)
            .field("jwt_key", &self.jwt_key.as_ref().map(|(path, _)| path))
            .field("allowed_uids", &self.allowed_uids)
            .finish()
    }
}

/// Reads a whole file, refusing one larger than [`MAX_FILE_LEN`].
fn read_file(path: &Path) -> Result<Vec<u8>, FileProviderError> {
    let failure = |source| FileProviderError::Read {
        path: path.to_owned(),
        source,
    };
    let mut data = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_FILE_LEN + 1).read_to_end(&mut data))
        .map_err(failure)?;
    if data.len() as u64 > MAX_FILE_LEN {
        return Err(FileProviderError::TooLarge {
            path: path.to_owned(),
            limit: MAX_FILE_LEN,
        });
    }
    Ok(data)
}

/// A bundle file of `trust_domain`: PEM/DER certificates, a SPIFFE bundle or a JWK Set.
fn parse_bundle(
    path: &Path,
    trust_domain: &TrustDomain,
    data: &[u8],
) -> Result<(X509Bundle, JwtBundle), FileProviderError> {
    let (bundle, _format) =
        SpiffeBundle::parse_any(trust_domain.clone(), data).map_err(|source| {
            FileProviderError::Bundle {
                path: path.to_owned(),
                trust_domain: trust_domain.clone(),
                source,
            }
        })?;
    Ok(bundle.into_parts())
}
