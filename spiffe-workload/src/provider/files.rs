//! [`FileIdentityProvider`]: one X.509-SVID, its trust bundles and optionally a JWT signing key,
//! read from files and reloaded when they change. A static Workload API for tests and demos
//! (`spiffe workload serve`), or for a workload whose identity another tool writes to disk.

use std::collections::BTreeSet;
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use spiffe_core::bundle::BundleError;
use spiffe_core::x509::X509Error;
use spiffe_core::{
    JwtAuthority, JwtBundle, SpiffeBundle, SpiffeId, TrustDomain, X509Bundle, X509Svid,
};
use tokio::sync::watch;

use super::{
    CallerInfo, IdentityProvider, JwtBundles, JwtSvidEntry, ProviderError, X509Context,
    X509SvidEntry,
};

/// How often [`FileIdentityProvider::watch_files`] looks at the files, unless told otherwise.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Files larger than this are refused rather than read into memory.
const MAX_FILE_LEN: u64 = 4 * 1024 * 1024;

/// A boxed error from code the provider calls but does not own (a JWT key loader or minter).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Mints JWT-SVIDs for the provider's SPIFFE ID. Implemented outside this crate (e.g. with
/// `spiffe-ca`'s `JwtSigningAuthority`), so the Workload API crate does not depend on minting.
pub trait JwtSvidMinter: Send + Sync + 'static {
    /// The public key tokens are signed with, published in the JWT bundle of the SVID's trust
    /// domain (its `kid` is the one in every token header).
    fn jwt_authority(&self) -> JwtAuthority;

    /// A JWT-SVID for `spiffe_id` and `audience` (never empty).
    fn mint(&self, spiffe_id: &SpiffeId, audience: &[String]) -> Result<String, BoxError>;
}

/// Turns the bytes of the JWT key file into a [`JwtSvidMinter`] for `trust_domain` (the SVID's);
/// called at load and on every change of the file. Closures of that shape implement it.
pub trait JwtKeyLoader: Send + Sync + 'static {
    /// Loads the key in `key_file`.
    fn load(
        &self,
        trust_domain: &TrustDomain,
        key_file: &[u8],
    ) -> Result<Arc<dyn JwtSvidMinter>, BoxError>;
}

impl<F> JwtKeyLoader for F
where
    F: Fn(&TrustDomain, &[u8]) -> Result<Arc<dyn JwtSvidMinter>, BoxError> + Send + Sync + 'static,
{
    fn load(
        &self,
        trust_domain: &TrustDomain,
        key_file: &[u8],
    ) -> Result<Arc<dyn JwtSvidMinter>, BoxError> {
        self(trust_domain, key_file)
    }
}

/// Which files a [`FileIdentityProvider`] serves, and to whom.
#[derive(Clone)]
pub struct FileIdentityConfig {
    svid: PathBuf,
    key: PathBuf,
    bundle: PathBuf,
    federated: Vec<(TrustDomain, PathBuf)>,
    jwt_key: Option<(PathBuf, Arc<dyn JwtKeyLoader>)>,
    allowed_uids: Option<BTreeSet<u32>>,
}

/// Why the files could not be (re)loaded. The provider keeps serving what it had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileProviderError {
    /// A file could not be read.
    #[error("reading `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A file is larger than the provider reads.
    #[error("`{}` is larger than {limit} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// The certificate chain and key do not make an X.509-SVID (bad PEM, not an SVID, or a key
    /// that does not belong to the leaf, WAPI-13).
    #[error("X.509-SVID `{}` with key `{}` is unusable", chain.display(), key.display())]
    Svid {
        /// The certificate chain file.
        chain: PathBuf,
        /// The private key file.
        key: PathBuf,
        /// What is wrong.
        #[source]
        source: X509Error,
    },
    /// A bundle file is neither PEM certificates nor a SPIFFE bundle document.
    #[error("bundle `{}` of trust domain {trust_domain} is unusable", path.display())]
    Bundle {
        /// The file.
        path: PathBuf,
        /// The trust domain it was read for.
        trust_domain: TrustDomain,
        /// What is wrong.
        #[source]
        source: BundleError,
    },
    /// Two bundle files were given for one trust domain (a federated one repeated, or equal to
    /// the SVID's own).
    #[error("more than one bundle file for trust domain {trust_domain}")]
    DuplicateTrustDomain {
        /// The trust domain.
        trust_domain: TrustDomain,
    },
    /// The JWT signing key file was refused by the loader.
    #[error("JWT signing key `{}` is unusable", path.display())]
    JwtKey {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: BoxError,
    },
}

/// What [`FileIdentityProvider::reload`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReloadOutcome {
    /// No file changed; nothing was parsed.
    Unchanged,
    /// A file changed and the new material is served; open streams were notified.
    Changed,
}

/// An [`IdentityProvider`] that serves one X.509-SVID and its bundles from files to every
/// caller (or to the callers whose uid is allowed), mints JWT-SVIDs for the SVID's SPIFFE ID
/// when given a JWT key, and picks up changed files ([`Self::watch_files`]).
///
/// A reload that fails (unreadable file, key not matching the leaf, bad bundle) changes
/// nothing: the previous material stays in service and the error is reported.
///
/// ```no_run
/// use std::sync::Arc;
///
/// use spiffe_workload::provider::files::{FileIdentityConfig, FileIdentityProvider};
/// use spiffe_workload::WorkloadApiServer;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let config = FileIdentityConfig::new("svid.pem", "svid.key", "bundle.pem");
/// let provider = Arc::new(FileIdentityProvider::load(config)?);
/// let watcher = provider.clone();
/// tokio::spawn(async move {
///     watcher
///         .watch_files(std::time::Duration::from_millis(500), |result| {
///             if let Err(error) = result {
///                 eprintln!("reload failed, serving the previous files: {error}");
///             }
///         })
///         .await
/// });
/// let listener = tokio::net::UnixListener::bind("/tmp/agent.sock")?;
/// WorkloadApiServer::new(provider)
///     .serve_unix(listener, std::future::pending())
///     .await?;
/// # Ok(())
/// # }
/// ```
pub struct FileIdentityProvider {
    config: FileIdentityConfig,
    current: RwLock<Arc<Material>>,
    changes: watch::Sender<()>,
}

/// One consistent load of every file.
struct Material {
    fingerprint: u64,
    x509: X509Context,
    jwt_bundles: JwtBundles,
    minter: Option<Arc<dyn JwtSvidMinter>>,
}

/// The raw bytes of every configured file, read in one pass.
struct Snapshot {
    svid: Vec<u8>,
    key: Vec<u8>,
    bundle: Vec<u8>,
    federated: Vec<Vec<u8>>,
    jwt_key: Option<Vec<u8>>,
    fingerprint: u64,
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

    /// Every file the provider reads, in reading order.
    pub fn files(&self) -> impl Iterator<Item = &Path> + '_ {
        [&self.svid, &self.key, &self.bundle]
            .into_iter()
            .chain(self.federated.iter().map(|(_, path)| path))
            .chain(self.jwt_key.iter().map(|(path, _)| path))
            .map(PathBuf::as_path)
    }

    fn read(&self) -> Result<Snapshot, FileProviderError> {
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
    fn parse(&self, snapshot: Snapshot) -> Result<Material, FileProviderError> {
        // WAPI-13: the key must belong to the leaf (checked by `X509Svid::parse_pem`).
        let svid = X509Svid::parse_pem(&snapshot.svid, &snapshot.key).map_err(|source| {
            FileProviderError::Svid {
                chain: self.svid.clone(),
                key: self.key.clone(),
                source,
            }
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

// === impl FileIdentityProvider ===

impl FileIdentityProvider {
    /// Reads and checks every file of `config`; fails if any is unusable.
    pub fn load(config: FileIdentityConfig) -> Result<Self, FileProviderError> {
        let material = config.parse(config.read()?)?;
        Ok(Self {
            config,
            current: RwLock::new(Arc::new(material)),
            changes: watch::channel(()).0,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &FileIdentityConfig {
        &self.config
    }

    /// The X.509-SVID served now.
    pub fn x509_svid(&self) -> Arc<X509Svid> {
        self.material().x509.svids[0].svid.clone()
    }

    /// Reads the files again; when any changed, checks the new material and serves it
    /// (notifying [`IdentityProvider::changes`]). On error the previous material stays.
    ///
    /// Reading is blocking file I/O on a few small files.
    pub fn reload(&self) -> Result<ReloadOutcome, FileProviderError> {
        self.reload_snapshot().map_err(|(_, error)| error)
    }

    /// [`Self::reload`], with the fingerprint of the refused input on error (`None` when a file
    /// could not even be read).
    fn reload_snapshot(&self) -> Result<ReloadOutcome, (Option<u64>, FileProviderError)> {
        let snapshot = self.config.read().map_err(|e| (None, e))?;
        if snapshot.fingerprint == self.material().fingerprint {
            return Ok(ReloadOutcome::Unchanged);
        }
        let fingerprint = snapshot.fingerprint;
        let material = self
            .config
            .parse(snapshot)
            .map_err(|e| (Some(fingerprint), e))?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(material);
        self.changes.send_replace(());
        Ok(ReloadOutcome::Changed)
    }

    /// Polls the files every `interval` (see [`DEFAULT_POLL_INTERVAL`]) and serves changed
    /// material; never returns (drop or abort it to stop).
    ///
    /// `report` is called with `Ok(())` after each change is served, and with the error when
    /// changed files are refused: once per refused content, after it was seen at two polls in
    /// a row (so a chain written a moment before its key is not reported). The future is `Send`
    /// when `report` is.
    pub async fn watch_files(
        &self,
        interval: Duration,
        mut report: impl FnMut(Result<(), FileProviderError>),
    ) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await; // the first tick is immediate; the files were just loaded
                             // The refused input seen at the last poll, and whether it was reported. Files are
                             // rarely replaced atomically together (chain, then key), so a refusal is reported
                             // only when the same input is seen at two polls in a row, and then only once.
        let mut refused: Option<(Option<u64>, bool)> = None;
        loop {
            ticker.tick().await;
            match self.reload_snapshot() {
                Ok(outcome) => {
                    refused = None;
                    if outcome == ReloadOutcome::Changed {
                        report(Ok(()));
                    }
                }
                Err((fingerprint, error)) => match refused {
                    Some((seen, reported)) if seen == fingerprint => {
                        if !reported {
                            report(Err(error));
                        }
                        refused = Some((fingerprint, true));
                    }
                    _ => refused = Some((fingerprint, false)),
                },
            }
        }
    }

    fn material(&self) -> Arc<Material> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The material for `caller`, or `NoIdentity` when its uid is not allowed.
    fn material_for(&self, caller: &CallerInfo) -> Result<Arc<Material>, ProviderError> {
        match &self.config.allowed_uids {
            Some(uids) if !uids.contains(&caller.uid) => Err(ProviderError::NoIdentity),
            _ => Ok(self.material()),
        }
    }
}

impl IdentityProvider for FileIdentityProvider {
    async fn x509_context(&self, caller: &CallerInfo) -> Result<X509Context, ProviderError> {
        Ok(self.material_for(caller)?.x509.clone())
    }

    async fn jwt_svids(
        &self,
        caller: &CallerInfo,
        audience: &[String],
        spiffe_id: Option<&SpiffeId>,
    ) -> Result<Vec<JwtSvidEntry>, ProviderError> {
        let material = self.material_for(caller)?;
        let Some(minter) = &material.minter else {
            return Err(ProviderError::NoIdentity);
        };
        let own = material.x509.svids[0].svid.spiffe_id();
        // WAPI-20: the caller holds exactly one identity.
        if let Some(requested) = spiffe_id.filter(|requested| *requested != own) {
            return Err(ProviderError::NotEntitled {
                spiffe_id: requested.clone(),
            });
        }
        let token = minter
            .mint(own, audience)
            .map_err(ProviderError::Internal)?;
        Ok(vec![JwtSvidEntry {
            spiffe_id: own.clone(),
            token,
            hint: String::new(),
        }])
    }

    async fn jwt_bundles(&self, caller: &CallerInfo) -> Result<JwtBundles, ProviderError> {
        let material = self.material_for(caller)?;
        // WAPI-21: a response carries at least one bundle; without any, the caller has no
        // JWT identity to speak of.
        if material.jwt_bundles.is_empty() {
            return Err(ProviderError::NoIdentity);
        }
        Ok(material.jwt_bundles.clone())
    }

    fn changes(&self) -> watch::Receiver<()> {
        self.changes.subscribe()
    }
}

impl fmt::Debug for FileIdentityProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileIdentityProvider")
            .field("config", &self.config)
            .field("spiffe_id", self.x509_svid().spiffe_id())
            .finish_non_exhaustive()
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
