use std::time::Duration;

use serde_json::Value;

use super::jwk::{self, JwtMembers, X509Members};
use super::strict_json::{self, CheckedValue, PathSegment};
use super::{BundleError, KeyDiagnostic};
use crate::json::JsonObject;
use crate::{JwtBundle, TrustDomain, X509Bundle};

const KEYS: &str = "keys";
const SEQUENCE: &str = "spiffe_sequence";
const REFRESH_HINT: &str = "spiffe_refresh_hint";

/// The refresh interval to use when a bundle gives none: about five minutes (BUNDLE-18, FED-4).
pub const DEFAULT_REFRESH_HINT: Duration = Duration::from_secs(300);

/// A trust domain's SPIFFE bundle: the JWK Set document of SPIFFE Trust Domain and Bundle §4
/// (BUNDLE-3), with its X.509 authorities, JWT authorities, sequence number and refresh hint.
///
/// Reading follows the consumer rules exactly: unknown top-level members and JWKs with an
/// unknown `use` or `kty` are ignored (BUNDLE-4/8/12/13), x509-svid entries without `x5c` are
/// ignored and only `x5c[0]` is used (X509-29/30). Everything not interpreted is kept, so
/// [`to_json`](Self::to_json) writes back what was read: `parse(to_json(b)) == b`.
///
/// ```
/// use spiffe_core::bundle::SpiffeBundle;
/// use spiffe_core::TrustDomain;
///
/// let td = TrustDomain::new("example.org")?;
/// let bundle = SpiffeBundle::parse(td, br#"{"keys": [], "spiffe_sequence": 7, "x": 1}"#)?;
/// assert!(bundle.x509_authorities().is_empty());
/// assert_eq!(bundle.sequence(), Some(7));
/// let again = SpiffeBundle::parse(bundle.trust_domain().clone(), &bundle.to_json())?;
/// assert_eq!(again, bundle);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpiffeBundle {
    x509: X509Bundle,
    jwt: JwtBundle,
    sequence: Option<u64>,
    refresh_hint_secs: Option<u64>,
    extra: JsonObject,
    other_keys: Vec<JsonObject>,
    x509_members: X509Members,
    jwt_members: JwtMembers,
}

// === impl SpiffeBundle ===

impl SpiffeBundle {
    /// A bundle with no authorities (BUNDLE-9: nothing of `trust_domain` verifies).
    pub fn new(trust_domain: TrustDomain) -> Self {
        Self {
            x509: X509Bundle::new(trust_domain.clone()),
            jwt: JwtBundle::new(trust_domain),
            sequence: None,
            refresh_hint_secs: None,
            extra: JsonObject::new(),
            other_keys: Vec::new(),
            x509_members: X509Members::new(),
            jwt_members: JwtMembers::new(),
        }
    }

    /// A bundle of these authorities; both must be of the same trust domain (BUNDLE-1), and
    /// every X.509 authority's key must have a JWK key type (EC, RSA or OKP), or the bundle
    /// document could not carry it ([`BundleError::UnrepresentableAuthorityKey`]).
    pub fn from_parts(x509: X509Bundle, jwt: JwtBundle) -> Result<Self, BundleError> {
        check_same_trust_domain(x509.trust_domain(), jwt.trust_domain())?;
        check_representable(&x509, &X509Members::new())?;
        let mut bundle = Self::new(x509.trust_domain().clone());
        bundle.x509 = x509;
        bundle.jwt = jwt;
        Ok(bundle)
    }

    /// Parses the SPIFFE bundle document of `trust_domain` (a bundle does not name its own
    /// trust domain, BUNDLE-1).
    pub fn parse(trust_domain: TrustDomain, json: &[u8]) -> Result<Self, BundleError> {
        Self::parse_with_diagnostics(trust_domain, json).map(|(bundle, _)| bundle)
    }

    /// Like [`parse`](Self::parse), and also says which entries of `keys` were ignored, in
    /// whole or in part, and why.
    pub fn parse_with_diagnostics(
        trust_domain: TrustDomain,
        json: &[u8],
    ) -> Result<(Self, Vec<KeyDiagnostic>), BundleError> {
        let checked = strict_json::parse(json).map_err(BundleError::json)?;
        Self::from_checked(trust_domain, checked)
    }

    /// Reads a document already parsed (duplicate member names are an error).
    pub(super) fn from_checked(
        trust_domain: TrustDomain,
        checked: CheckedValue,
    ) -> Result<(Self, Vec<KeyDiagnostic>), BundleError> {
        if let Some(path) = checked.duplicate {
            let in_key = match path.as_slice() {
                [PathSegment::Member(keys), PathSegment::Index(index), _, ..] if keys == KEYS => {
                    Some(*index)
                }
                _ => None,
            };
            return Err(BundleError::DuplicateMember { in_key });
        }
        Self::from_value(trust_domain, checked.value)
    }

    /// Reads a parsed document (also used for the bundles inside a Bundle Map).
    pub(super) fn from_value(
        trust_domain: TrustDomain,
        value: Value,
    ) -> Result<(Self, Vec<KeyDiagnostic>), BundleError> {
        // BUNDLE-3: a JWK Set is a JSON object.
        let Value::Object(mut document) = value else {
            return Err(BundleError::NotAnObject);
        };
        // BUNDLE-7: `keys` must be present, and is an array.
        let keys = match document.remove(KEYS) {
            Some(Value::Array(keys)) => keys,
            Some(_) => return Err(BundleError::KeysNotAnArray),
            None => return Err(BundleError::MissingKeys),
        };
        // BUNDLE-5: an integer of at least 64 bits; -1, 1.5 and "3" are not.
        let sequence = match document.remove(SEQUENCE) {
            None => None,
            Some(value) => Some(value.as_u64().ok_or(BundleError::InvalidSequence)?),
        };
        // BUNDLE-6: an integer number of seconds.
        let refresh_hint_secs = match document.remove(REFRESH_HINT) {
            None => None,
            Some(value) => Some(value.as_u64().ok_or(BundleError::InvalidRefreshHint)?),
        };
        let keys = jwk::read_keys(&trust_domain, &keys)?;
        let bundle = Self {
            x509: keys.x509,
            jwt: keys.jwt,
            sequence,
            refresh_hint_secs,
            // BUNDLE-4: unknown members are not needed to work; kept for writing back.
            extra: JsonObject::from_map(document),
            other_keys: keys
                .other_keys
                .into_iter()
                .map(JsonObject::from_map)
                .collect(),
            x509_members: keys.x509_members,
            jwt_members: keys.jwt_members,
        };
        Ok((bundle, keys.diagnostics))
    }

    /// The document, pretty-printed JSON: x509-svid entries first (in authority order), then
    /// jwt-svid entries (by `kid`), then the kept entries of other uses.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing a `Value` cannot fail: every map key is a string.
        serde_json::to_vec_pretty(&self.to_value()).unwrap_or_default()
    }

    /// The document as compact JSON.
    pub fn to_json_compact(&self) -> Vec<u8> {
        serde_json::to_vec(&self.to_value()).unwrap_or_default()
    }

    /// The document as a JSON value (also used inside a Bundle Map).
    pub(super) fn to_value(&self) -> Value {
        let mut document = self.extra.as_map().clone();
        let keys = self
            .x509
            .authorities()
            .iter()
            .map(|authority| jwk::x509_jwk(authority, &self.x509_members))
            .chain(
                self.jwt
                    .authorities()
                    .map(|authority| jwk::jwt_jwk(authority, &self.jwt_members)),
            )
            .chain(
                self.other_keys
                    .iter()
                    .map(|k| Value::Object(k.as_map().clone())),
            )
            .collect();
        document.insert(KEYS.into(), Value::Array(keys));
        if let Some(sequence) = self.sequence {
            document.insert(SEQUENCE.into(), sequence.into());
        }
        if let Some(secs) = self.refresh_hint_secs {
            document.insert(REFRESH_HINT.into(), secs.into());
        }
        Value::Object(document)
    }

    /// The trust domain this bundle belongs to.
    pub fn trust_domain(&self) -> &TrustDomain {
        self.x509.trust_domain()
    }

    /// The X.509 authorities (X509-31: the union of the x509-svid entries; empty means the
    /// trust domain does not support X.509-SVIDs).
    pub fn x509_authorities(&self) -> &X509Bundle {
        &self.x509
    }

    /// The JWT authorities (JWT-17: the jwt-svid entries; empty means the trust domain does
    /// not support JWT-SVIDs).
    pub fn jwt_authorities(&self) -> &JwtBundle {
        &self.jwt
    }

    /// Replaces the X.509 authorities; they must be of this bundle's trust domain and have
    /// keys a JWK can describe (as for [`SpiffeBundle::from_parts`]).
    pub fn set_x509_authorities(&mut self, x509: X509Bundle) -> Result<(), BundleError> {
        check_same_trust_domain(self.trust_domain(), x509.trust_domain())?;
        check_representable(&x509, &self.x509_members)?;
        self.x509_members
            .retain(|der, _| x509.authorities().iter().any(|a| a.der().as_ref() == der));
        self.x509 = x509;
        Ok(())
    }

    /// Replaces the JWT authorities; they must be of this bundle's trust domain.
    pub fn set_jwt_authorities(&mut self, jwt: JwtBundle) -> Result<(), BundleError> {
        check_same_trust_domain(self.trust_domain(), jwt.trust_domain())?;
        self.jwt_members.retain(|kid, _| jwt.get(kid).is_some());
        self.jwt = jwt;
        Ok(())
    }

    /// Puts the bundle under another trust domain's name (a bundle does not name its own,
    /// BUNDLE-1).
    pub(super) fn relabel(&mut self, trust_domain: TrustDomain) {
        self.x509.relabel(trust_domain.clone());
        self.jwt.relabel(trust_domain);
    }

    /// Splits the bundle into its X.509 and JWT authorities.
    pub fn into_parts(self) -> (X509Bundle, JwtBundle) {
        (self.x509, self.jwt)
    }

    /// `spiffe_sequence` (BUNDLE-5), if present.
    pub fn sequence(&self) -> Option<u64> {
        self.sequence
    }

    /// Sets or clears `spiffe_sequence`.
    pub fn set_sequence(&mut self, sequence: Option<u64>) {
        self.sequence = sequence;
    }

    /// `spiffe_refresh_hint` (BUNDLE-6), if present.
    pub fn refresh_hint(&self) -> Option<Duration> {
        self.refresh_hint_secs.map(Duration::from_secs)
    }

    /// `spiffe_refresh_hint` in whole seconds, as written in the document.
    pub fn refresh_hint_secs(&self) -> Option<u64> {
        self.refresh_hint_secs
    }

    /// The refresh hint, or [`DEFAULT_REFRESH_HINT`] when there is none (BUNDLE-18).
    pub fn refresh_hint_or_default(&self) -> Duration {
        self.refresh_hint().unwrap_or(DEFAULT_REFRESH_HINT)
    }

    /// Sets or clears `spiffe_refresh_hint`. The document holds whole seconds (BUNDLE-6), so a
    /// fractional duration is rounded up.
    pub fn set_refresh_hint(&mut self, hint: Option<Duration>) {
        self.refresh_hint_secs =
            hint.map(|hint| hint.as_secs() + u64::from(hint.subsec_nanos() > 0));
    }

    /// Top-level members other than `keys`, `spiffe_sequence` and `spiffe_refresh_hint`:
    /// not interpreted (BUNDLE-4), written back by [`to_json`](Self::to_json).
    pub fn extra_members(&self) -> &JsonObject {
        &self.extra
    }

    /// JWKs whose `use` is neither `x509-svid` nor `jwt-svid` (e.g. `wit-svid`): ignored
    /// (BUNDLE-8), written back verbatim by [`to_json`](Self::to_json).
    pub fn other_keys(&self) -> &[JsonObject] {
        &self.other_keys
    }

    /// Drops the JWKs of other uses, unknown top-level members and JWK members that were
    /// only carried along, so that [`to_json`](Self::to_json) writes only what this profile
    /// defines (BUNDLE-11).
    pub fn clear_unknown(&mut self) {
        self.other_keys.clear();
        self.extra = JsonObject::new();
        self.x509_members.clear();
        self.jwt_members.clear();
    }
}

fn check_same_trust_domain(expected: &TrustDomain, found: &TrustDomain) -> Result<(), BundleError> {
    if expected != found {
        return Err(BundleError::TrustDomainMismatch {
            expected: expected.clone(),
            found: found.clone(),
        });
    }
    Ok(())
}

/// BUNDLE-12: every X.509 authority is written with a `kty`, derived from its key or kept
/// from the JWK it was read from; otherwise the written document would lose it.
fn check_representable(x509: &X509Bundle, members: &X509Members) -> Result<(), BundleError> {
    for (index, authority) in x509.authorities().iter().enumerate() {
        let kept_kty = members
            .get(authority.der().as_ref())
            .is_some_and(|m| m.contains_key("kty"));
        if !kept_kty && !jwk::has_key_members(authority) {
            return Err(BundleError::UnrepresentableAuthorityKey { index });
        }
    }
    Ok(())
}
