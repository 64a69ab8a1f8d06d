//! The server's CA, wired from the configuration: `spiffe-ca`'s [`CaManager`] with the
//! configured key manager, self-signed or under the `disk` or `spire` upstream authority
//! ([`SpireUpstream`]: nested servers, with [`upstream_bundle`] following the upstream's
//! bundle), its journal in
//! the datastore under this server instance's key; the bundle it publishes into the datastore
//! ([`publish`]); the trust bundles TLS callers are verified against ([`TrustBundles`]); and the
//! server's own X.509-SVID ([`ServerSvid`]).
//!
//! Several servers sharing one database each keep their own CA (as SPIRE's): each journals
//! under its own instance id (a file in `data_dir`, created on first start), and each appends
//! its authorities to the trust domain's one shared bundle.

mod bundles;
mod keys;
mod server_svid;
mod spire_upstream;
mod upstream;
pub mod upstream_bundle;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use spiffe_ca::keys::KeyManager;
use spiffe_ca::manager::{CaManager, CaManagerConfig, Journal, ManagerError, MemoryJournal};
use spiffe_ca::{CaError, Clock};
use thiserror::Error;

use crate::config::{KeyManagerConfig, ServerConfig, UpstreamAuthorityConfig};
use crate::datastore::{DataStore, DataStoreJournal};

pub use bundles::{prune_expired, publish, to_datastore_bundle, TrustBundles};
pub use server_svid::{ServerSvid, ServerSvidError};
pub use spire_upstream::{SpireUpstream, UpstreamHealth};

/// The file in `data_dir` naming this server instance (its CA journal's key).
pub const INSTANCE_ID_FILE: &str = "server-instance-id";

/// Why the CA could not be set up.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CaSetupError {
    /// The key manager could not be opened.
    #[error("unable to open the {kind} key manager")]
    KeyManager {
        /// `disk`, `pkcs11`.
        kind: &'static str,
        /// Why.
        #[source]
        source: spiffe_ca::keys::KeyError,
    },
    /// The `disk` upstream authority's files could not be used.
    #[error("unable to load the disk upstream authority from {}", path.display())]
    Upstream {
        /// The file at fault.
        path: PathBuf,
        /// Why.
        #[source]
        source: CaError,
    },
    /// The instance id file could not be read or created.
    #[error("unable to read or create {}", path.display())]
    InstanceId {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The CA could not be resumed or created.
    #[error("unable to start the CA")]
    Manager(#[source] ManagerError),
}

/// Builds the CA from the configuration: resumes the authorities journaled under this
/// instance's key (with a persistent key manager), or creates new ones. Under
/// `UpstreamAuthority "spire"` the plugin is returned too, for the bundle follower.
pub async fn build(
    config: &ServerConfig,
    datastore: Arc<dyn DataStore>,
    clock: Arc<dyn Clock>,
) -> Result<(Arc<CaManager>, Option<Arc<SpireUpstream>>), CaSetupError> {
    let key_manager: Arc<dyn KeyManager> = keys::open(&config.key_manager)?;
    // Keys held in memory are gone after a restart, so their journal could never be resumed:
    // such a CA starts new authorities each time (as SPIRE's memory key manager does).
    let journal: Arc<dyn Journal> = match config.key_manager {
        KeyManagerConfig::Memory => Arc::new(MemoryJournal::new()),
        _ => {
            let key = instance_id(&config.settings.data_dir)?;
            Arc::new(DataStoreJournal::new(datastore, key))
        }
    };
    let mut ca_config = CaManagerConfig::new(config.settings.trust_domain.clone())
        .with_x509(config.ca.key_type, config.ca.ttl)
        .with_jwt(config.ca.jwt_key_type, config.ca.ttl);
    let mut spire = None;
    match &config.upstream {
        Some(UpstreamAuthorityConfig::Disk(disk)) => {
            ca_config = ca_config.with_upstream(Arc::new(upstream::load(disk)?));
        }
        Some(UpstreamAuthorityConfig::Spire(settings)) => {
            let plugin = Arc::new(SpireUpstream::new(
                settings.clone(),
                config.settings.trust_domain.clone(),
            ));
            ca_config = ca_config.with_upstream(plugin.clone());
            spire = Some(plugin);
        }
        _ => {}
    }
    if config.ca.subject.is_some() {
        tracing::warn!(
            "ca_subject is set but CA certificates use the fixed SPIFFE subject of spiffe-ca"
        );
    }
    let manager = CaManager::load_or_init(ca_config, key_manager, journal, clock)
        .await
        .map_err(CaSetupError::Manager)?;
    Ok((Arc::new(manager), spire))
}

/// This server instance's id: read from `data_dir/server-instance-id`, or created there
/// (random, 128 bits in hex) on first start.
pub fn instance_id(data_dir: &Path) -> Result<String, CaSetupError> {
    let path = data_dir.join(INSTANCE_ID_FILE);
    let err = |source| CaSetupError::InstanceId {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| err(io::Error::other("no randomness")))?;
    let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::create_dir_all(data_dir).map_err(err)?;
    let tmp = data_dir.join(format!(".{INSTANCE_ID_FILE}.tmp"));
    std::fs::write(&tmp, format!("{id}\n")).map_err(err)?;
    std::fs::rename(&tmp, &path).map_err(err)?;
    Ok(id)
}
