use std::time::Duration;

use spiffe_core::{SpiffeId, TrustDomain};

use super::{server_id, EntryError, EntryField, RegistrationEntry};

/// The longest hint accepted, in bytes.
pub const MAX_HINT_LEN: usize = 1024;

/// SPIRE carries TTLs as `int32` seconds; no entry may ask for more.
const MAX_TTL_SECS: u64 = i32::MAX as u64;

/// The checks a server applies to an entry before storing it.
///
/// - `spiffe_id` is in the server's trust domain, has a path, and is not under `/spire/`
///   (reserved for agent and server IDs);
/// - `parent_id` is in the server's trust domain and has a path: an agent, another entry's
///   SPIFFE ID, or the server's own ID `spiffe://<td>/spire/server` for node-alias entries;
/// - TTLs are at most the configured maxima (by default SPIRE's `int32` seconds);
/// - `federates_with` does not name the server's own trust domain.
#[derive(Debug, Clone)]
pub struct EntryRules {
    trust_domain: TrustDomain,
    server_id: SpiffeId,
    max_x509_svid_ttl: Duration,
    max_jwt_svid_ttl: Duration,
}

// === impl EntryRules ===

impl EntryRules {
    /// Rules for a server of `trust_domain`.
    pub fn new(trust_domain: TrustDomain) -> Self {
        Self {
            server_id: server_id(&trust_domain),
            trust_domain,
            max_x509_svid_ttl: Duration::from_secs(MAX_TTL_SECS),
            max_jwt_svid_ttl: Duration::from_secs(MAX_TTL_SECS),
        }
    }

    /// Caps the X.509-SVID TTL an entry may ask for.
    pub fn max_x509_svid_ttl(mut self, max: Duration) -> Self {
        self.max_x509_svid_ttl = max.min(Duration::from_secs(MAX_TTL_SECS));
        self
    }

    /// Caps the JWT-SVID TTL an entry may ask for.
    pub fn max_jwt_svid_ttl(mut self, max: Duration) -> Self {
        self.max_jwt_svid_ttl = max.min(Duration::from_secs(MAX_TTL_SECS));
        self
    }

    /// The server's trust domain.
    pub fn trust_domain(&self) -> &TrustDomain {
        &self.trust_domain
    }

    /// The server's own ID, the parent of node-alias entries.
    pub fn server_id(&self) -> &SpiffeId {
        &self.server_id
    }

    /// Checks `entry` against these rules.
    pub fn check(&self, entry: &RegistrationEntry) -> Result<(), EntryError> {
        self.check_id(&entry.spiffe_id, EntryField::SpiffeId)?;
        if entry.spiffe_id.path().starts_with("/spire/") {
            return Err(EntryError::ReservedPath {
                field: EntryField::SpiffeId,
            });
        }
        self.check_id(&entry.parent_id, EntryField::ParentId)?;
        check_ttl(
            entry.x509_svid_ttl,
            self.max_x509_svid_ttl,
            EntryField::X509SvidTtl,
        )?;
        check_ttl(
            entry.jwt_svid_ttl,
            self.max_jwt_svid_ttl,
            EntryField::JwtSvidTtl,
        )?;
        if let Some(index) = entry
            .federates_with
            .iter()
            .position(|td| td == &self.trust_domain)
        {
            return Err(EntryError::FederatesWithOwnTrustDomain { index });
        }
        Ok(())
    }

    fn check_id(&self, id: &SpiffeId, field: EntryField) -> Result<(), EntryError> {
        if !id.is_member_of(&self.trust_domain) {
            return Err(EntryError::ForeignTrustDomain { field });
        }
        if !id.has_path() {
            return Err(EntryError::NoPath { field });
        }
        Ok(())
    }
}

fn check_ttl(ttl: Option<Duration>, max: Duration, field: EntryField) -> Result<(), EntryError> {
    match ttl {
        Some(ttl) if ttl > max => Err(EntryError::TtlTooLong { field, ttl, max }),
        _ => Ok(()),
    }
}
