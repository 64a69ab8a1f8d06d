//! What every API service works with: settings, the datastore, the CA, the entry cache and
//! the node attestors. Built once by the server runtime ([`crate::server`]) and shared.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use spiffe_attest::node::NodeAttestorServer;
use spiffe_ca::manager::CaManager;
use spiffe_ca::Clock;

use crate::ca::ServerSvid;
use crate::cache::EntryCache;
use crate::config::ServerSettings;
use crate::datastore::DataStore;
use crate::ops::ServerMetrics;

/// The server's shared state, handed to every API service.
pub struct ServerContext {
    /// The settings the services read.
    pub settings: Arc<ServerSettings>,
    /// Where everything is stored.
    pub datastore: Arc<dyn DataStore>,
    /// This server's CA: mints SVIDs, rotates, answers the local-authority operations.
    pub ca: Arc<CaManager>,
    /// Entries and attested nodes in memory, for agents' requests and authorization.
    pub cache: Arc<EntryCache>,
    /// The configured node attestors, by plugin name (`join_token`, `x509pop`, `tpm`).
    pub node_attestors: HashMap<String, Arc<dyn NodeAttestorServer>>,
    /// The time source (the CA's, so minting and checks agree).
    pub clock: Arc<dyn Clock>,
    /// When the server started (`Debug.GetInfo` uptime).
    pub started: Instant,
    /// Metrics: handlers count what they sign here (`ctx.metrics.x509_svids_signed(n)`).
    pub metrics: Arc<ServerMetrics>,
    /// The server's own X.509-SVID (`Debug.GetInfo` reports its chain). Set once by the
    /// runtime after the CA is up; unset in contexts that serve no TLS (tests).
    pub server_svid: OnceLock<Arc<ServerSvid>>,
    /// The federated trust domains this server polls (`RefreshBundle` asks it). Set once by
    /// the runtime; unset in contexts that run no federation (tests).
    pub federation: OnceLock<Arc<crate::federation::FederationManager>>,
}

impl ServerContext {
    /// Runs `sign`, one CA signature (or a few), where the key manager allows: in place when
    /// it signs in memory ([`ServerSettings::sign_in_place`]), where a trip to the blocking
    /// pool and back would cost more than the signature (two thread wake-ups, on the
    /// attestation path issue 12 measures); on the blocking pool otherwise. `None` if that
    /// task failed.
    pub(crate) async fn sign<T, F>(&self, sign: F) -> Option<T>
    where
        T: Send + 'static,
        F: FnOnce(&CaManager) -> T + Send + 'static,
    {
        if self.settings.sign_in_place {
            return Some(sign(&self.ca));
        }
        let ca = self.ca.clone();
        tokio::task::spawn_blocking(move || sign(&ca)).await.ok()
    }
}

impl std::fmt::Debug for ServerContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerContext")
            .field("trust_domain", &self.settings.trust_domain)
            .field(
                "node_attestors",
                &self.node_attestors.keys().collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}
