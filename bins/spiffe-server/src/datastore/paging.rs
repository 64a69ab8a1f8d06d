use std::fmt;
use std::num::NonZeroU32;

/// Where a listing starts and how much it returns (SPIRE's `page_size` and `page_token`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PageRequest {
    /// The most records returned; `None` for all of them (SPIRE's `page_size = 0`).
    pub size: Option<NonZeroU32>,
    /// The token of the previous page's [`Page::next`]; `None` for the first page.
    pub token: Option<PageToken>,
}

impl PageRequest {
    /// Everything in one page.
    pub fn all() -> Self {
        Self::default()
    }

    /// The first page of at most `size` records (`size = 0` means all).
    pub fn first(size: u32) -> Self {
        Self {
            size: NonZeroU32::new(size),
            token: None,
        }
    }

    /// The page after `token`, of at most `size` records (`size = 0` means all).
    pub fn after(size: u32, token: PageToken) -> Self {
        Self {
            size: NonZeroU32::new(size),
            token: Some(token),
        }
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The records, in the listing's stable order.
    pub items: Vec<T>,
    /// The token for the next page; `None` when this page is the last. A page that is exactly
    /// full carries a token even if nothing follows; the next page is then empty.
    pub next: Option<PageToken>,
}

/// An opaque position in a listing, handed to clients as `next_page_token`.
///
/// Listings are ordered by a key that never changes for a record (insertion order for entries
/// and nodes, the trust domain for bundles and relationships), and a token is the last key
/// returned, so paging is stable while records are inserted: no record that existed when the
/// listing started is skipped or returned twice. A token that this datastore did not produce is
/// rejected as an invalid `page_token`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PageToken(String);

// === impl PageToken ===

impl PageToken {
    /// Wraps a token received from a client (checked when used).
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token's text, to send to the client.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PageToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PageToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PageToken({:?})", self.0)
    }
}
