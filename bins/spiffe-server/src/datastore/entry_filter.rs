use spiffe_attest::Selector;
use spiffe_core::{SpiffeId, TrustDomain};

/// How a set given in a filter is compared with a record's set (SPIRE's
/// `spire.api.types.SelectorMatch.MatchBehavior` and `FederatesWithMatch.MatchBehavior`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum MatchBehavior {
    /// `MATCH_EXACT` (0): the record's set equals the given set.
    #[default]
    Exact,
    /// `MATCH_SUBSET` (1): the record's set is a non-empty subset of the given set.
    Subset,
    /// `MATCH_SUPERSET` (2): the record's set contains every given element.
    Superset,
    /// `MATCH_ANY` (3): the record's set contains at least one given element.
    Any,
}

impl MatchBehavior {
    /// From the protobuf enum value; `None` for an unknown value.
    pub fn from_proto(value: i32) -> Option<Self> {
        match value {
            0 => Some(Self::Exact),
            1 => Some(Self::Subset),
            2 => Some(Self::Superset),
            3 => Some(Self::Any),
            _ => None,
        }
    }
}

/// A filter on a record's selectors (`spire.api.types.SelectorMatch`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorMatch {
    /// The selectors compared with the record's; must not be empty.
    pub selectors: Vec<Selector>,
    /// How they are compared.
    pub behavior: MatchBehavior,
}

/// A filter on an entry's federated trust domains (`spire.api.types.FederatesWithMatch`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederatesWithMatch {
    /// The trust domains compared with the entry's; must not be empty.
    pub trust_domains: Vec<TrustDomain>,
    /// How they are compared.
    pub behavior: MatchBehavior,
}

/// The filters of SPIRE's `ListEntries` and `CountEntries` (all that are set must hold).
///
/// ```
/// use spiffe_server::datastore::EntryFilter;
/// use spiffe_core::SpiffeId;
///
/// let mut filter = EntryFilter::default();
/// filter.by_parent_id = Some(SpiffeId::new("spiffe://example.org/agent")?);
/// filter.by_downstream = Some(false);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct EntryFilter {
    /// `by_spiffe_id`: the entry's SPIFFE ID equals this.
    pub by_spiffe_id: Option<SpiffeId>,
    /// `by_parent_id`: the entry's parent ID equals this.
    pub by_parent_id: Option<SpiffeId>,
    /// `by_selectors`.
    pub by_selectors: Option<SelectorMatch>,
    /// `by_federates_with`.
    pub by_federates_with: Option<FederatesWithMatch>,
    /// `by_hint`: the entry's hint equals this (an empty string matches entries without one).
    pub by_hint: Option<String>,
    /// `by_downstream`: the entry's downstream flag equals this.
    pub by_downstream: Option<bool>,
}

impl EntryFilter {
    /// Whether no filter is set (every entry matches).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}
