use spiffe_attest::Selector;
use spiffe_core::pki_types::UnixTime;
use spiffe_core::SpiffeId;

use super::SelectorMatch;

/// An agent that attested its node (SPIRE's `AttestedNode` with its node selectors).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttestedNode {
    /// The agent's SPIFFE ID.
    pub spiffe_id: SpiffeId,
    /// The node attestor that attested it (`join_token`, `x509pop`, `tpm`, …).
    pub attestation_type: String,
    /// The node selectors the attestor produced; sorted, without duplicates.
    pub selectors: Vec<Selector>,
    /// The serial number of the agent's current X.509-SVID (SPIRE's decimal string).
    pub cert_serial_number: Option<String>,
    /// When the current X.509-SVID expires.
    pub cert_not_after: Option<UnixTime>,
    /// The serial number of an X.509-SVID issued by a renewal the agent has not used yet.
    pub new_cert_serial_number: Option<String>,
    /// When that new X.509-SVID expires.
    pub new_cert_not_after: Option<UnixTime>,
    /// Banned: the agent may not renew or re-attest until its record is deleted.
    pub banned: bool,
    /// Whether the agent may re-attest (its attestor supports it).
    pub can_reattest: bool,
    /// The global revision of the node's last change (set by the datastore).
    pub revision_number: u64,
    /// When the node was first recorded (set by the datastore).
    pub created_at: Option<UnixTime>,
}

impl AttestedNode {
    /// A node of `spiffe_id` attested by `attestation_type`, with no certificate yet.
    pub fn new(spiffe_id: SpiffeId, attestation_type: impl Into<String>) -> Self {
        Self {
            spiffe_id,
            attestation_type: attestation_type.into(),
            selectors: Vec::new(),
            cert_serial_number: None,
            cert_not_after: None,
            new_cert_serial_number: None,
            new_cert_not_after: None,
            banned: false,
            can_reattest: false,
            revision_number: 0,
            created_at: None,
        }
    }

    /// Sorts and deduplicates the selectors, as stored.
    pub(crate) fn normalize(&mut self) {
        self.selectors.sort_unstable();
        self.selectors.dedup();
    }
}

/// Which fields of an attested node an update replaces. The SPIFFE ID, `banned` (see
/// [`ban_node`](super::DataStore::ban_node)), `revision_number` and `created_at` are never
/// replaced by an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct NodeMask {
    /// `attestation_type` (a re-attestation through another attestor).
    pub attestation_type: bool,
    /// `selectors`.
    pub selectors: bool,
    /// `cert_serial_number`.
    pub cert_serial_number: bool,
    /// `cert_not_after`.
    pub cert_not_after: bool,
    /// `new_cert_serial_number`.
    pub new_cert_serial_number: bool,
    /// `new_cert_not_after`.
    pub new_cert_not_after: bool,
    /// `can_reattest`.
    pub can_reattest: bool,
}

impl NodeMask {
    /// Every updatable field.
    pub fn all() -> Self {
        Self {
            attestation_type: true,
            selectors: true,
            cert_serial_number: true,
            cert_not_after: true,
            new_cert_serial_number: true,
            new_cert_not_after: true,
            can_reattest: true,
        }
    }

    /// The fields a renewal changes: both serial numbers and expiries.
    pub fn certificates() -> Self {
        Self {
            cert_serial_number: true,
            cert_not_after: true,
            new_cert_serial_number: true,
            new_cert_not_after: true,
            ..Self::default()
        }
    }
}

/// The filters of SPIRE's `ListAgents` and `CountAgents` (all that are set must hold).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct NodeFilter {
    /// `by_attestation_type`: the node's attestation type equals this.
    pub by_attestation_type: Option<String>,
    /// `by_selector_match`: on the node selectors.
    pub by_selector_match: Option<SelectorMatch>,
    /// `by_banned`.
    pub by_banned: Option<bool>,
    /// `by_expires_before`: the current X.509-SVID expires before this instant.
    pub by_expires_before: Option<UnixTime>,
    /// `by_can_reattest`.
    pub by_can_reattest: Option<bool>,
}
