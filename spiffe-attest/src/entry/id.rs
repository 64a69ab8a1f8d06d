use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use super::EntryError;

/// The longest entry id accepted, in bytes (SPIRE's datastore limit).
pub const MAX_ENTRY_ID_LEN: usize = 255;

/// The identifier of a registration entry: 1 to 255 characters from `A-Z a-z 0-9 - . _`, the
/// character set and length SPIRE's datastore accepts (SPIRE generates UUIDs when the operator
/// gives none; so may the daemons).
///
/// Cloning is cheap (one shared allocation). Compares, orders and hashes by its text, and
/// `EntryId: Borrow<str>`, so maps keyed by entry id can be queried with a `&str`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryId(Arc<str>);

// === impl EntryId ===

impl EntryId {
    /// Checks and wraps an entry id.
    pub fn new(id: &str) -> Result<Self, EntryError> {
        if id.is_empty() {
            return Err(EntryError::EmptyEntryId);
        }
        if id.len() > MAX_ENTRY_ID_LEN {
            return Err(EntryError::EntryIdTooLong {
                len: id.len(),
                max: MAX_ENTRY_ID_LEN,
            });
        }
        if let Some(at) = id
            .bytes()
            .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')))
        {
            return Err(EntryError::EntryIdCharacter { at });
        }
        Ok(Self(id.into()))
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EntryId({:?})", &*self.0)
    }
}

impl FromStr for EntryId {
    type Err = EntryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl Borrow<str> for EntryId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for EntryId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}
