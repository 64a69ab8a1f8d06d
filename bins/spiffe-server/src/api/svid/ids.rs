//! Which SPIFFE IDs an operator may mint SVIDs for, and TTLs as SPIRE's requests give them.

use std::time::Duration;

use spiffe_core::{SpiffeId, TrustDomain};

/// SPIRE's `VerifyTrustDomainWorkloadID`: a member of `td`, with a path, outside the reserved
/// `/spire` namespace (agents and servers). The error is SPIRE's text.
pub(super) fn check_workload_id(td: &TrustDomain, id: &SpiffeId) -> Result<(), String> {
    if !id.is_member_of(td) {
        return Err(format!(
            "{:?} is not a member of trust domain {:?}",
            id.as_str(),
            td.as_str()
        ));
    }
    if !id.has_path() {
        return Err(format!(
            "{:?} is not a workload in trust domain {:?}; path is empty",
            id.as_str(),
            td.as_str()
        ));
    }
    let path = id.path();
    if path == "/spire" || path.starts_with("/spire/") {
        return Err(format!(
            "{:?} is not a workload in trust domain {:?}; path is in the reserved namespace",
            id.as_str(),
            td.as_str()
        ));
    }
    Ok(())
}

/// A TTL in seconds from a request: zero or less means the default.
pub(super) fn ttl_or(seconds: i32, default: Duration) -> Duration {
    match u64::try_from(seconds) {
        Ok(secs) if secs > 0 => Duration::from_secs(secs),
        _ => default,
    }
}
