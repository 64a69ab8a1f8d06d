use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;
use std::sync::Arc;

use super::{validate, IdError, TrustDomain, MAX_ID_LEN, SCHEME_PREFIX};

/// A SPIFFE ID, e.g. `spiffe://example.org/ns/prod/sa/web` (SPIFFE-ID.md §2).
///
/// Valid by construction: every rule ID-1..ID-17 is checked, with the strict policy (lowercase
/// scheme and trust domain, no character outside the standard's sets). IDs up to 2048 bytes are
/// accepted (ID-14); longer ones are rejected so this library never holds or produces one (ID-15).
///
/// One allocation per ID; `Clone` is a reference-count increment, and [`trust_domain`]
/// shares the allocation. Comparison is byte-for-byte (ID-17: the path is case-sensitive).
/// `Display` prints exactly the string that was parsed.
///
/// ```
/// use spiffe_core::{SpiffeId, TrustDomain};
/// let id: SpiffeId = "spiffe://example.org/ns/prod/sa/web".parse()?;
/// assert_eq!(id.trust_domain().as_str(), "example.org");
/// assert_eq!(id.path(), "/ns/prod/sa/web");
/// assert_eq!(id.segments().collect::<Vec<_>>(), ["ns", "prod", "sa", "web"]);
///
/// let td = TrustDomain::new("example.org")?;
/// assert_eq!(SpiffeId::from_segments(&td, ["ns", "prod", "sa", "web"])?, id);
/// assert!(SpiffeId::new("spiffe://Example.org/web").is_err()); // ID-5
/// # Ok::<(), spiffe_core::IdError>(())
/// ```
///
/// [`trust_domain`]: SpiffeId::trust_domain
#[derive(Clone)]
pub struct SpiffeId {
    repr: Arc<str>,
    /// End of `spiffe://<trust domain>` in `repr`; the path follows.
    td_end: usize,
}

// === impl SpiffeId ===

impl SpiffeId {
    /// Parses a SPIFFE ID, enforcing ID-1..ID-17.
    pub fn new(input: &str) -> Result<Self, IdError> {
        let td_end = Self::validate(input)?;
        Ok(Self {
            repr: Arc::from(input),
            td_end,
        })
    }

    /// Checks `input` without allocating; returns the end offset of `spiffe://<td>`.
    fn validate(input: &str) -> Result<usize, IdError> {
        let bytes = input.as_bytes();
        if bytes.is_empty() {
            return Err(IdError::Empty); // ID-1
        }
        if !bytes.starts_with(SCHEME_PREFIX.as_bytes()) {
            // ID-1/ID-17: `SPIFFE://` is refused rather than lowercased (trap 1).
            let prefix = &bytes[..bytes.len().min(SCHEME_PREFIX.len())];
            if prefix.eq_ignore_ascii_case(SCHEME_PREFIX.as_bytes()) {
                return Err(IdError::UppercaseScheme);
            }
            return Err(IdError::WrongScheme);
        }
        if bytes.len() > MAX_ID_LEN {
            return Err(IdError::TooLong { len: bytes.len() }); // ID-14, ID-15
        }
        let start = SCHEME_PREFIX.len();
        let rest = &bytes[start..];
        let td_len = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
        validate::trust_domain(&rest[..td_len], start)?;
        let td_end = start + td_len;
        if td_end < bytes.len() {
            validate::path(&bytes[td_end..], td_end)?;
        }
        Ok(td_end)
    }

    /// Builds an ID from a trust domain and a path such as `/ns/prod` (ID-9..ID-13); an empty
    /// path gives the trust domain's own ID.
    pub fn from_path(trust_domain: &TrustDomain, path: &str) -> Result<Self, IdError> {
        if !path.is_empty() {
            if !path.starts_with('/') {
                return Err(IdError::PathNotAbsolute); // ID-13
            }
            validate::path(path.as_bytes(), 0)?;
        }
        Self::concat(trust_domain, |s| s.push_str(path), path.len())
    }

    /// Builds an ID from a trust domain and path segments, each checked on its own: a segment
    /// may not contain `/` (ID-12), be empty or be a dot segment (ID-10).
    pub fn from_segments<I, S>(trust_domain: &TrustDomain, segments: I) -> Result<Self, IdError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut path = String::new();
        for segment in segments {
            let segment = segment.as_ref();
            validate::segment(segment.as_bytes())?;
            path.push('/');
            path.push_str(segment);
        }
        Self::concat(trust_domain, |s| s.push_str(&path), path.len())
    }

    fn concat(
        trust_domain: &TrustDomain,
        push_path: impl FnOnce(&mut String),
        path_len: usize,
    ) -> Result<Self, IdError> {
        let td = trust_domain.id_str();
        let len = td.len() + path_len;
        if len > MAX_ID_LEN {
            return Err(IdError::TooLong { len }); // ID-15: never generate longer IDs
        }
        let mut repr = String::with_capacity(len);
        repr.push_str(td);
        push_path(&mut repr);
        Ok(Self {
            repr: repr.into(),
            td_end: td.len(),
        })
    }

    /// Builds an ID from a representation already known to be valid.
    pub(super) fn from_shared(repr: Arc<str>, td_end: usize) -> Self {
        Self { repr, td_end }
    }

    /// The trust domain of this ID; shares this ID's allocation.
    pub fn trust_domain(&self) -> TrustDomain {
        TrustDomain::from_shared(self.repr.clone(), self.td_end)
    }

    /// The trust-domain name, e.g. `example.org`, without building a [`TrustDomain`].
    pub fn trust_domain_name(&self) -> &str {
        &self.repr[SCHEME_PREFIX.len()..self.td_end]
    }

    /// The path, `""` for a trust domain's own ID, otherwise starting with `/`.
    pub fn path(&self) -> &str {
        &self.repr[self.td_end..]
    }

    /// The path segments, in order (none for a trust domain's own ID).
    pub fn segments(&self) -> Segments<'_> {
        let path = self.path();
        Segments {
            rest: path.strip_prefix('/').unwrap_or(path),
        }
    }

    /// Whether this ID has a non-empty path. Leaf X.509-SVIDs require one (X509-5, X509-24).
    pub fn has_path(&self) -> bool {
        self.td_end < self.repr.len()
    }

    /// Whether this is a trust domain's own ID (`spiffe://td`, no path).
    pub fn is_trust_domain_id(&self) -> bool {
        !self.has_path()
    }

    /// Whether this ID is in `trust_domain`.
    pub fn is_member_of(&self, trust_domain: &TrustDomain) -> bool {
        self.trust_domain_name() == trust_domain.as_str()
    }

    /// The whole ID as a string.
    pub fn as_str(&self) -> &str {
        &self.repr
    }
}

/// Iterator over the path segments of a [`SpiffeId`].
#[derive(Debug, Clone)]
pub struct Segments<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Segments<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        match self.rest.split_once('/') {
            Some((segment, rest)) => {
                self.rest = rest;
                Some(segment)
            }
            None => Some(std::mem::take(&mut self.rest)),
        }
    }
}

impl PartialEq for SpiffeId {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}
impl Eq for SpiffeId {}

impl PartialOrd for SpiffeId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for SpiffeId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for SpiffeId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl std::borrow::Borrow<str> for SpiffeId {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for SpiffeId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SpiffeId").field(&self.as_str()).finish()
    }
}

impl FromStr for SpiffeId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<&str> for SpiffeId {
    type Error = IdError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl TryFrom<String> for SpiffeId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        let td_end = Self::validate(&s)?;
        Ok(Self {
            repr: s.into(),
            td_end,
        })
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for SpiffeId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for SpiffeId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::new(&s).map_err(serde::de::Error::custom)
    }
}
