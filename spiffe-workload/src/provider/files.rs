//! [`FileIdentityProvider`]: one X.509-SVID, its trust bundles and optionally a JWT signing key,
//! read from files and reloaded when they change. A static Workload API for tests and demos
//! (`spiffe workload serve`), or for a workload whose identity another tool writes to disk.

mod config;
mod error;
mod minter;
mod pkcs8;

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use spiffe_core::{SpiffeId, X509Svid};
use tokio::sync::watch;

use super::{IdentityProvider, JwtBundles, JwtSvidEntry, ProviderError, X509Context};
use crate::CallerInfo;
use config::Material;

pub use config::FileIdentityConfig;
pub use error::FileProviderError;
pub use minter::{JwtKeyLoader, JwtSvidMinter};

/// How often [`FileIdentityProvider::watch_files`] looks at the files, unless told otherwise.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(500);

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
        if !self.config.allows(caller.uid) {
            return Err(ProviderError::NoIdentity);
        }
        Ok(self.material())
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
