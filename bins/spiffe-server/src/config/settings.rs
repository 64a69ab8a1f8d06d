//! The server's typed settings: what the configuration file and the `run` flags decide, with
//! every default stated where it is defined.

use std::path::PathBuf;
use std::time::Duration;

use spiffe_core::{SpiffeId, TrustDomain};

/// SPIRE's default `ca_ttl`.
pub const DEFAULT_CA_TTL: Duration = Duration::from_secs(24 * 3600);
/// SPIRE's default `default_x509_svid_ttl`.
pub const DEFAULT_X509_SVID_TTL: Duration = Duration::from_secs(3600);
/// SPIRE's default `default_jwt_svid_ttl`.
pub const DEFAULT_JWT_SVID_TTL: Duration = Duration::from_secs(300);
/// SPIRE's default admin socket.
pub const DEFAULT_SOCKET_PATH: &str = "/tmp/spire-server/private/api.sock";
/// SPIRE's default `bind_port`.
pub const DEFAULT_BIND_PORT: u16 = 8081;
/// How often the entry cache follows other servers' writes (SPIRE's `cache_reload_interval`).
pub const DEFAULT_CACHE_RELOAD_INTERVAL: Duration = Duration::from_secs(5);

/// The settings the API services read. The runtime's settings (listeners, plugins, logging,
/// health checks, telemetry) live beside them in [`super::ServerConfig`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerSettings {
    /// `trust_domain`.
    pub trust_domain: TrustDomain,
    /// The server's own SPIFFE ID, `spiffe://<trust domain>/spire/server`.
    pub server_id: SpiffeId,
    /// `data_dir`.
    pub data_dir: PathBuf,
    /// `default_x509_svid_ttl` (1 h).
    pub default_x509_svid_ttl: Duration,
    /// `default_jwt_svid_ttl` (5 min).
    pub default_jwt_svid_ttl: Duration,
    /// `agent_ttl`: lifetime of agent SVIDs; `None` means `default_x509_svid_ttl`.
    pub agent_ttl: Option<Duration>,
    /// `jwt_issuer`: the `iss` claim of JWT-SVIDs, if set.
    pub jwt_issuer: Option<String>,
    /// `admin_ids`: SPIFFE IDs treated as admins besides those of `admin` entries.
    pub admin_ids: Vec<SpiffeId>,
    /// `audit_log_enabled`.
    pub audit_log_enabled: bool,
    /// `ratelimit { attestation }` (true): at most one attestation per second per IP.
    pub ratelimit_attestation: bool,
    /// `ratelimit { signing }` (true): at most 500 signatures per second per IP.
    pub ratelimit_signing: bool,
    /// Whether one signature may be made on the async threads: the key manager signs in
    /// memory (`memory`, `disk`) with ECDSA keys (tens of microseconds). False (the default)
    /// runs every signature on the blocking pool, as a `pkcs11` device or an RSA key needs.
    pub sign_in_place: bool,
}

// === impl ServerSettings ===

impl ServerSettings {
    /// Settings for `trust_domain` with SPIRE's defaults (the data directory is the current
    /// directory, as SPIRE's).
    pub fn new(trust_domain: TrustDomain) -> Self {
        let server_id = spiffe_attest::entry::server_id(&trust_domain);
        Self {
            trust_domain,
            server_id,
            data_dir: PathBuf::from("."),
            default_x509_svid_ttl: DEFAULT_X509_SVID_TTL,
            default_jwt_svid_ttl: DEFAULT_JWT_SVID_TTL,
            agent_ttl: None,
            jwt_issuer: None,
            admin_ids: Vec::new(),
            audit_log_enabled: false,
            ratelimit_attestation: true,
            ratelimit_signing: true,
            sign_in_place: false,
        }
    }

    /// The lifetime of agent SVIDs.
    pub fn agent_svid_ttl(&self) -> Duration {
        self.agent_ttl.unwrap_or(self.default_x509_svid_ttl)
    }
}
