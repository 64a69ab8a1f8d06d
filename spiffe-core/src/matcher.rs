//! Composable predicates over SPIFFE IDs, the vocabulary of authorizers and policy.
//!
//! ```
//! use spiffe_core::{IdMatcher, SpiffeId, TrustDomain};
//! let prod = TrustDomain::new("prod.example")?;
//! let m = IdMatcher::path_prefix(&prod, "/ns/payments")?
//!     .or(IdMatcher::exact("spiffe://prod.example/admin".parse()?));
//! assert!(m.matches(&"spiffe://prod.example/ns/payments/sa/api".parse()?));
//! assert!(m.matches(&"spiffe://prod.example/admin".parse()?));
//! // Prefixes match whole segments only.
//! assert!(!m.matches(&"spiffe://prod.example/ns/payments-old".parse()?));
//! # Ok::<(), spiffe_core::IdError>(())
//! ```

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use crate::{IdError, SpiffeId, TrustDomain};

type Predicate = dyn Fn(&SpiffeId) -> bool + Send + Sync;

/// A predicate over SPIFFE IDs: cheap to clone, thread-safe, composable with
/// [`or`](IdMatcher::or), [`and`](IdMatcher::and) and [`not`](IdMatcher::not).
#[derive(Clone)]
pub struct IdMatcher(Arc<Kind>);

enum Kind {
    Any,
    Exact(SpiffeId),
    OneOf(HashSet<SpiffeId>),
    TrustDomain(TrustDomain),
    /// Trust domain and a path prefix without a trailing `/`.
    PathPrefix(TrustDomain, String),
    Predicate(Box<Predicate>),
    Or(IdMatcher, IdMatcher),
    And(IdMatcher, IdMatcher),
    Not(IdMatcher),
}

// === impl IdMatcher ===

impl IdMatcher {
    /// Matches every valid SPIFFE ID. Named on purpose: nothing defaults to it.
    pub fn any() -> Self {
        Self::from_kind(Kind::Any)
    }

    /// Matches exactly `id` (byte-for-byte, ID-17).
    pub fn exact(id: SpiffeId) -> Self {
        Self::from_kind(Kind::Exact(id))
    }

    /// Matches any ID of the set.
    pub fn one_of<I: IntoIterator<Item = SpiffeId>>(ids: I) -> Self {
        Self::from_kind(Kind::OneOf(ids.into_iter().collect()))
    }

    /// Matches every ID in `trust_domain`, its own ID included.
    pub fn member_of(trust_domain: TrustDomain) -> Self {
        Self::from_kind(Kind::TrustDomain(trust_domain))
    }

    /// Matches IDs in `trust_domain` whose path is `prefix` or lies below it, segment by
    /// segment: `/ns/prod` matches `/ns/prod` and `/ns/prod/web`, not `/ns/production`.
    /// `prefix` must be a valid path (ID-9..ID-13); `""` or `"/"` match the whole trust domain.
    pub fn path_prefix(trust_domain: &TrustDomain, prefix: &str) -> Result<Self, IdError> {
        let prefix = if prefix == "/" { "" } else { prefix };
        // Validates the prefix with the full ID rules.
        SpiffeId::from_path(trust_domain, prefix)?;
        Ok(Self::from_kind(Kind::PathPrefix(
            trust_domain.clone(),
            prefix.to_owned(),
        )))
    }

    /// Matches IDs for which `predicate` returns true.
    pub fn predicate<F>(predicate: F) -> Self
    where
        F: Fn(&SpiffeId) -> bool + Send + Sync + 'static,
    {
        Self::from_kind(Kind::Predicate(Box::new(predicate)))
    }

    /// Matches what `self` or `other` matches.
    pub fn or(self, other: IdMatcher) -> Self {
        Self::from_kind(Kind::Or(self, other))
    }

    /// Matches what both `self` and `other` match.
    pub fn and(self, other: IdMatcher) -> Self {
        Self::from_kind(Kind::And(self, other))
    }

    /// Matches what `self` does not.
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Self {
        Self::from_kind(Kind::Not(self))
    }

    fn from_kind(kind: Kind) -> Self {
        Self(Arc::new(kind))
    }

    /// Whether `id` matches.
    pub fn matches(&self, id: &SpiffeId) -> bool {
        match &*self.0 {
            Kind::Any => true,
            Kind::Exact(expected) => expected == id,
            Kind::OneOf(set) => set.contains(id),
            Kind::TrustDomain(td) => id.is_member_of(td),
            Kind::PathPrefix(td, prefix) => {
                id.is_member_of(td)
                    && id
                        .path()
                        .strip_prefix(prefix.as_str())
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            }
            Kind::Predicate(f) => f(id),
            Kind::Or(a, b) => a.matches(id) || b.matches(id),
            Kind::And(a, b) => a.matches(id) && b.matches(id),
            Kind::Not(a) => !a.matches(id),
        }
    }
}

impl fmt::Debug for IdMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            Kind::Any => f.write_str("Any"),
            Kind::Exact(id) => f.debug_tuple("Exact").field(id).finish(),
            Kind::OneOf(set) => f.debug_tuple("OneOf").field(set).finish(),
            Kind::TrustDomain(td) => f.debug_tuple("MemberOf").field(td).finish(),
            Kind::PathPrefix(td, p) => f.debug_tuple("PathPrefix").field(td).field(p).finish(),
            Kind::Predicate(_) => f.write_str("Predicate(..)"),
            Kind::Or(a, b) => f.debug_tuple("Or").field(a).field(b).finish(),
            Kind::And(a, b) => f.debug_tuple("And").field(a).field(b).finish(),
            Kind::Not(a) => f.debug_tuple("Not").field(a).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> SpiffeId {
        SpiffeId::new(s).expect("test IDs are valid")
    }

    #[test]
    fn combinators() {
        let td = TrustDomain::new("a.test").expect("valid");
        let m =
            IdMatcher::member_of(td.clone()).and(IdMatcher::exact(id("spiffe://a.test/x")).not());
        assert!(m.matches(&id("spiffe://a.test/y")));
        assert!(!m.matches(&id("spiffe://a.test/x")));
        assert!(!m.matches(&id("spiffe://b.test/y")));
        let one = IdMatcher::one_of([id("spiffe://a.test/1"), id("spiffe://b.test/2")]);
        assert!(one.matches(&id("spiffe://b.test/2")));
        assert!(!one.matches(&id("spiffe://b.test/1")));
        let p = IdMatcher::predicate(|i| i.segments().count() == 2);
        assert!(p.matches(&id("spiffe://a.test/x/y")));
        assert!(!p.matches(&id("spiffe://a.test/x")));
        assert!(IdMatcher::any().matches(&id("spiffe://z")));
    }

    #[test]
    fn path_prefix_is_segment_aware() {
        let td = TrustDomain::new("a.test").expect("valid");
        let m = IdMatcher::path_prefix(&td, "/ns/prod").expect("valid prefix");
        assert!(m.matches(&id("spiffe://a.test/ns/prod")));
        assert!(m.matches(&id("spiffe://a.test/ns/prod/web")));
        assert!(!m.matches(&id("spiffe://a.test/ns/production")));
        assert!(!m.matches(&id("spiffe://b.test/ns/prod")));
        assert!(!m.matches(&id("spiffe://a.test/ns")));
        let all = IdMatcher::path_prefix(&td, "/").expect("root prefix");
        assert!(all.matches(&id("spiffe://a.test")));
        assert!(IdMatcher::path_prefix(&td, "/ns/").is_err());
        assert!(IdMatcher::path_prefix(&td, "ns").is_err());
    }
}
