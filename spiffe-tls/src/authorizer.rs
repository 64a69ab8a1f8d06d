//! Deciding, after an X.509-SVID verified, whether its SPIFFE ID may talk to us.

use std::fmt;
use std::sync::Arc;

use spiffe_core::{IdError, IdMatcher, SpiffeId, TrustDomain, VerifiedX509Svid};

use crate::PeerRejected;

type AuthorizeFn = dyn Fn(&VerifiedX509Svid) -> bool + Send + Sync;

/// Decides whether a peer whose X.509-SVID verified is authorized.
///
/// Every TLS configuration of this crate requires one; there is no permissive default, and
/// accepting every ID of every trusted trust domain must be asked for by name with
/// [`Authorizer::any`].
///
/// ```
/// use spiffe_core::TrustDomain;
/// use spiffe_tls::Authorizer;
/// let payments = Authorizer::path_prefix(&TrustDomain::new("prod.example")?, "/payments")?;
/// let admin = Authorizer::exact("spiffe://prod.example/admin".parse()?);
/// # let _ = (payments, admin);
/// # Ok::<(), spiffe_core::IdError>(())
/// ```
#[derive(Clone)]
pub struct Authorizer(Kind);

#[derive(Clone)]
enum Kind {
    Matcher(IdMatcher),
    Fn(Arc<AuthorizeFn>),
}

// === impl Authorizer ===

impl Authorizer {
    /// Authorizes every peer whose X.509-SVID verified against a bundle of the source.
    pub fn any() -> Self {
        Self::from_matcher(IdMatcher::any())
    }

    /// Authorizes exactly `id`.
    pub fn exact(id: SpiffeId) -> Self {
        Self::from_matcher(IdMatcher::exact(id))
    }

    /// Authorizes any ID of `ids`.
    pub fn one_of<I: IntoIterator<Item = SpiffeId>>(ids: I) -> Self {
        Self::from_matcher(IdMatcher::one_of(ids))
    }

    /// Authorizes every ID of `trust_domain`.
    pub fn member_of(trust_domain: TrustDomain) -> Self {
        Self::from_matcher(IdMatcher::member_of(trust_domain))
    }

    /// Authorizes IDs of `trust_domain` whose path is `prefix` or lies below it, segment by
    /// segment (see [`IdMatcher::path_prefix`]). Fails when `prefix` is not a valid path.
    pub fn path_prefix(trust_domain: &TrustDomain, prefix: &str) -> Result<Self, IdError> {
        IdMatcher::path_prefix(trust_domain, prefix).map(Self::from_matcher)
    }

    /// Authorizes the IDs `matcher` matches.
    pub fn from_matcher(matcher: IdMatcher) -> Self {
        Self(Kind::Matcher(matcher))
    }

    /// Authorizes the peers for which `f` returns true; `f` sees the verified SVID, its
    /// SPIFFE ID and the verified chain.
    pub fn from_fn<F>(f: F) -> Self
    where
        F: Fn(&VerifiedX509Svid) -> bool + Send + Sync + 'static,
    {
        Self(Kind::Fn(Arc::new(f)))
    }

    /// `Ok(())` when `svid` is authorized, else [`PeerRejected::Unauthorized`] naming its ID.
    pub fn authorize(&self, svid: &VerifiedX509Svid) -> Result<(), PeerRejected> {
        let allowed = match &self.0 {
            Kind::Matcher(m) => m.matches(svid.spiffe_id()),
            Kind::Fn(f) => f(svid),
        };
        match allowed {
            true => Ok(()),
            false => Err(PeerRejected::Unauthorized {
                spiffe_id: svid.spiffe_id().clone(),
            }),
        }
    }
}

impl fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Matcher(m) => f.debug_tuple("Authorizer").field(m).finish(),
            Kind::Fn(_) => f.write_str("Authorizer(Fn(..))"),
        }
    }
}
