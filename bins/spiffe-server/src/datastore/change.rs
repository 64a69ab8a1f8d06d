/// What kind of record a [`Change`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChangeKind {
    /// A registration entry; the change's id is the entry id.
    Entry,
    /// An attested node; the change's id is the agent's SPIFFE ID.
    Node,
    /// A bundle; the change's id is the trust domain name.
    Bundle,
}

/// What happened to the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChangeOp {
    /// It was created.
    Created,
    /// It was changed.
    Updated,
    /// It was deleted.
    Deleted,
}

/// One entry of the change log: the record `id` of `kind` underwent `op` at `revision`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Change {
    /// The global revision this change took (each write takes the next one).
    pub revision: u64,
    /// The kind of record.
    pub kind: ChangeKind,
    /// The record's id (entry id, agent SPIFFE ID or trust domain).
    pub id: String,
    /// What happened.
    pub op: ChangeOp,
}

/// The answer to [`changes_since`](super::DataStore::changes_since).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeFeed {
    /// The changes after the revision asked for, in revision order, without gaps; fewer than
    /// the limit means the reader has caught up.
    Changes(Vec<Change>),
    /// Changes after the revision asked for were pruned: the reader must reload everything
    /// (then follow the log from the revision it read before reloading).
    Pruned {
        /// Every change up to this revision was pruned.
        pruned_through: u64,
    },
}

// === impl ChangeKind / ChangeOp ===

impl ChangeKind {
    pub(crate) fn code(self) -> i64 {
        match self {
            Self::Entry => 1,
            Self::Node => 2,
            Self::Bundle => 3,
        }
    }

    pub(crate) fn from_code(code: i64) -> Option<Self> {
        match code {
            1 => Some(Self::Entry),
            2 => Some(Self::Node),
            3 => Some(Self::Bundle),
            _ => None,
        }
    }
}

impl ChangeOp {
    pub(crate) fn code(self) -> i64 {
        match self {
            Self::Created => 1,
            Self::Updated => 2,
            Self::Deleted => 3,
        }
    }

    pub(crate) fn from_code(code: i64) -> Option<Self> {
        match code {
            1 => Some(Self::Created),
            2 => Some(Self::Updated),
            3 => Some(Self::Deleted),
            _ => None,
        }
    }
}
