use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;
use std::sync::Arc;

use super::{validate, IdError, SpiffeId, SCHEME_PREFIX};

/// A SPIFFE trust domain: the authority part of a SPIFFE ID, e.g. `example.org`.
///
/// Valid by construction (ID-2..ID-8, ID-16). Cloning is a reference-count increment; a trust
/// domain taken from a [`SpiffeId`] shares the ID's allocation. Comparison and hashing use the
/// name only, and `TrustDomain: Borrow<str>`, so maps keyed by trust domain can be queried with
/// a `&str` name.
///
/// ```
/// use spiffe_core::TrustDomain;
/// let td: TrustDomain = "example.org".parse()?;
/// assert_eq!(td.as_str(), "example.org");
/// assert_eq!(td.id().as_str(), "spiffe://example.org");
/// // The SPIFFE ID form is accepted too; its path is discarded.
/// assert_eq!(TrustDomain::new("spiffe://example.org/web")?, td);
/// # Ok::<(), spiffe_core::IdError>(())
/// ```
#[derive(Clone)]
pub struct TrustDomain {
    /// `spiffe://<name>`, possibly followed by a path when shared with a [`SpiffeId`].
    repr: Arc<str>,
    /// End of `spiffe://<name>` in `repr`.
    end: usize,
}

// === impl TrustDomain ===

impl TrustDomain {
    /// Parses a trust-domain name (`example.org`) or a SPIFFE ID (`spiffe://example.org/x`),
    /// keeping only the trust domain of the latter.
    pub fn new(input: &str) -> Result<Self, IdError> {
        if input.contains(":/") || input.contains("://") {
            return Ok(SpiffeId::new(input)?.trust_domain());
        }
        validate::trust_domain(input.as_bytes(), 0)?;
        let mut repr = String::with_capacity(SCHEME_PREFIX.len() + input.len());
        repr.push_str(SCHEME_PREFIX);
        repr.push_str(input);
        let end = repr.len();
        Ok(Self {
            repr: repr.into(),
            end,
        })
    }

    /// Builds a trust domain that shares an already validated representation.
    pub(super) fn from_shared(repr: Arc<str>, end: usize) -> Self {
        Self { repr, end }
    }

    /// The trust-domain name, e.g. `example.org`.
    pub fn as_str(&self) -> &str {
        &self.repr[SCHEME_PREFIX.len()..self.end]
    }

    /// The trust domain's SPIFFE ID as a string, `spiffe://example.org` (the form used as a map
    /// key by the Workload API, WAPI-26).
    pub fn id_str(&self) -> &str {
        &self.repr[..self.end]
    }

    /// The trust domain's own SPIFFE ID, `spiffe://<name>` (no path). Allocates only when this
    /// trust domain was taken from a longer ID.
    pub fn id(&self) -> SpiffeId {
        let repr = if self.repr.len() == self.end {
            self.repr.clone()
        } else {
            Arc::from(self.id_str())
        };
        SpiffeId::from_shared(repr, self.end)
    }
}

impl PartialEq for TrustDomain {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}
impl Eq for TrustDomain {}

impl PartialOrd for TrustDomain {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for TrustDomain {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for TrustDomain {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Must agree with `str`'s hash for `Borrow<str>`.
        self.as_str().hash(state)
    }
}

impl Borrow<str> for TrustDomain {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for TrustDomain {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for TrustDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for TrustDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TrustDomain").field(&self.as_str()).finish()
    }
}

impl FromStr for TrustDomain {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<&str> for TrustDomain {
    type Error = IdError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl TryFrom<String> for TrustDomain {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(&s)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for TrustDomain {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for TrustDomain {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::new(&s).map_err(serde::de::Error::custom)
    }
}
