use std::fmt;
use std::sync::Arc;

use spiffe_core::{JwtBundle, SpiffeId, X509Bundle, X509Svid};

/// One X.509-SVID granted to a caller, with its optional hint (WAPI-13, WAPI-15).
#[derive(Clone, Debug)]
pub struct X509SvidEntry {
    /// The SVID: chain (leaf first) and private key.
    pub svid: Arc<X509Svid>,
    /// An operator-chosen name for this identity; empty for none. Non-empty hints must be
    /// unique within one response (WAPI-15) and at most 1024 bytes (WAPI-25).
    pub hint: String,
}

// === impl X509SvidEntry ===

impl X509SvidEntry {
    /// An entry without a hint.
    pub fn new(svid: Arc<X509Svid>) -> Self {
        Self {
            svid,
            hint: String::new(),
        }
    }

    /// The same entry with `hint`.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = hint.into();
        self
    }
}

/// Everything a caller may see of the X.509 profile: its SVIDs and the X.509 bundles it trusts.
#[derive(Clone, Debug, Default)]
pub struct X509Context {
    /// The caller's SVIDs; the first is its default identity (WAPI-24). Empty means the caller
    /// has no X.509 identity (answered with PERMISSION_DENIED, WAPI-16).
    pub svids: Vec<X509SvidEntry>,
    /// One bundle per trust domain: those of the SVIDs' own trust domains (mandatory, WAPI-13)
    /// and federated ones.
    pub bundles: Vec<Arc<X509Bundle>>,
}

/// One JWT-SVID minted for a caller (WAPI-19). `Debug` does not show the token.
#[derive(Clone, PartialEq, Eq)]
pub struct JwtSvidEntry {
    /// The token's subject.
    pub spiffe_id: SpiffeId,
    /// The token, JWS compact serialization.
    pub token: String,
    /// Optional hint; empty for none (WAPI-15).
    pub hint: String,
}

impl fmt::Debug for JwtSvidEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtSvidEntry")
            .field("spiffe_id", &self.spiffe_id)
            .field("token", &"<redacted>")
            .field("hint", &self.hint)
            .finish()
    }
}

/// The JWT bundles a caller trusts, one per trust domain (WAPI-21).
pub type JwtBundles = Vec<Arc<JwtBundle>>;
