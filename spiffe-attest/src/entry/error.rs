use std::fmt;
use std::time::Duration;

/// Why a registration entry was rejected.
///
/// Each variant names the field at fault; none repeats the rejected value, since entries come
/// from operators' requests and are echoed into logs and API errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// The entry id is empty.
    #[error("entry id is empty")]
    EmptyEntryId,
    /// The entry id is longer than the limit.
    #[error("entry id is {len} bytes, the limit is {max}")]
    EntryIdTooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The entry id holds a character outside `A-Z a-z 0-9 - . _`.
    #[error("entry id has a character outside A-Z a-z 0-9 - . _ at byte {at}")]
    EntryIdCharacter {
        /// Byte offset of the first offending character.
        at: usize,
    },
    /// The entry has no selectors: it would match every workload.
    #[error("an entry needs at least one selector")]
    NoSelectors,
    /// An ID of the entry is outside the server's trust domain.
    #[error("{field} is not in the server's trust domain")]
    ForeignTrustDomain {
        /// Which ID.
        field: EntryField,
    },
    /// An ID of the entry is a bare trust-domain ID (`spiffe://example.org`), which names no
    /// workload or agent.
    #[error("{field} has no path")]
    NoPath {
        /// Which ID.
        field: EntryField,
    },
    /// The SPIFFE ID lies under `/spire/`, the path reserved for agents and servers.
    #[error("{field} is under the reserved path /spire/")]
    ReservedPath {
        /// Which ID.
        field: EntryField,
    },
    /// An SVID time-to-live exceeds the server's limit.
    #[error("{field} is {ttl:?}, the limit is {max:?}")]
    TtlTooLong {
        /// Which TTL.
        field: EntryField,
        /// The TTL asked for.
        ttl: Duration,
        /// The limit.
        max: Duration,
    },
    /// A DNS name is not a valid X.509 `dNSName`.
    #[error("dns_names[{index}]: {reason}")]
    DnsName {
        /// Position of the name in the entry's list.
        index: usize,
        /// What is wrong with it.
        reason: DnsNameError,
    },
    /// The hint is longer than the limit.
    #[error("hint is {len} bytes, the limit is {max}")]
    HintTooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The hint contains a control character.
    #[error("hint has a control character at byte {at}")]
    HintCharacter {
        /// Byte offset.
        at: usize,
    },
    /// `federates_with` names the server's own trust domain.
    #[error("federates_with[{index}] is the server's own trust domain")]
    FederatesWithOwnTrustDomain {
        /// Position in the list.
        index: usize,
    },
    /// `store_svid` is set but the selectors have different types; SPIRE requires one type so
    /// that a single SVIDStore plugin is chosen.
    #[error("store_svid requires all selectors to have the same type")]
    StoreSvidMixedSelectorTypes,
    /// `store_svid` and `disable_x509_svid_prefetch` are both set: an SVID pushed to an
    /// SVIDStore is signed ahead of any request, so it cannot be left to be fetched on demand
    /// (SPIRE refuses the same pair).
    #[error("specifying cache behaviour is incompatible with storable SVIDs")]
    StoreSvidWithoutPrefetch,
}

/// A field of a registration entry, as named in errors (SPIRE's `types.Entry` field names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EntryField {
    /// `spiffe_id`.
    SpiffeId,
    /// `parent_id`.
    ParentId,
    /// `x509_svid_ttl`.
    X509SvidTtl,
    /// `jwt_svid_ttl`.
    JwtSvidTtl,
}

impl fmt::Display for EntryField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::SpiffeId => "spiffe_id",
            Self::ParentId => "parent_id",
            Self::X509SvidTtl => "x509_svid_ttl",
            Self::JwtSvidTtl => "jwt_svid_ttl",
        })
    }
}

/// Why a DNS name was rejected (RFC 1034 §3.5 preferred syntax as RFC 5280 §4.2.1.6 uses it,
/// with a wildcard allowed as the whole leftmost label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsNameError {
    /// The name is empty.
    #[error("empty name")]
    Empty,
    /// The name is longer than 253 bytes.
    #[error("{len} bytes, the limit is 253")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// Two dots in a row, or a leading or trailing dot.
    #[error("empty label")]
    EmptyLabel,
    /// A label is longer than 63 bytes.
    #[error("a label is longer than 63 bytes")]
    LabelTooLong,
    /// A character outside letters, digits and `-`.
    #[error("invalid character at byte {at}")]
    Character {
        /// Byte offset.
        at: usize,
    },
    /// A label starts or ends with `-`.
    #[error("a label starts or ends with '-'")]
    HyphenAtEdge,
    /// `*` anywhere but as the whole leftmost label of a name with at least two more labels.
    #[error("a wildcard may only be the whole leftmost label")]
    MisplacedWildcard,
}
