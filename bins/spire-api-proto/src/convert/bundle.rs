//! `types::Bundle` to and from [`ApiBundle`]: a [`SpiffeBundle`] plus the per-authority state
//! SPIRE records beside the keys.
//!
//! | proto | library |
//! |---|---|
//! | `trust_domain` | [`SpiffeBundle::trust_domain`] |
//! | `x509_authorities[].asn1` | [`SpiffeBundle::x509_authorities`], in order, without duplicates |
//! | `x509_authorities[].tainted` | [`ApiBundle::tainted_x509`] |
//! | `jwt_authorities[].public_key`, `key_id` | [`SpiffeBundle::jwt_authorities`] (SPKI ⇄ JWK) |
//! | `jwt_authorities[].expires_at`, `tainted` | [`ApiBundle::jwt_states`] by key id |
//! | `refresh_hint` (seconds, 0 = none) | [`SpiffeBundle::refresh_hint`] |
//! | `sequence_number` | [`SpiffeBundle::sequence`] (always set when read, as SPIRE does) |
//! | `wit_authorities` | ignored: no library type holds WIT keys yet |
//!
//! What a bundle document carries and SPIRE's message does not (unknown JSON members, JWKs of
//! other uses, JWK members such as `alg`) is not converted.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use spiffe_core::pki_types::{CertificateDer, UnixTime};
use spiffe_core::{Certificate, JwtAuthority, JwtBundle, SpiffeBundle, X509Bundle};

use super::id::trust_domain_from_proto;
use super::spki::{jwt_authority_from_spki, jwt_authority_to_spki};
use super::time::{out_of_range, time_from_secs, time_to_secs};
use super::{ConvertError, FieldPath};
use crate::types;

/// A trust bundle as SPIRE's API carries it: the keys, sequence number and refresh hint
/// ([`SpiffeBundle`]) with which X.509 authorities are tainted, and when each JWT authority
/// expires and whether it is tainted.
///
/// State recorded for an authority the bundle does not hold is ignored when converting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiBundle {
    /// The authorities and bundle metadata.
    pub bundle: SpiffeBundle,
    /// The X.509 authorities marked tainted (SVIDs they signed should be replaced), by DER.
    pub tainted_x509: HashSet<CertificateDer<'static>>,
    /// Expiry and taint of JWT authorities, by key id; a key without an entry has neither.
    pub jwt_states: BTreeMap<String, JwtAuthorityState>,
}

/// What SPIRE records about a JWT authority beside its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct JwtAuthorityState {
    /// When the key stops being used (`expires_at`), if ever.
    pub expires_at: Option<UnixTime>,
    /// Whether the key is tainted: tokens it signed should be replaced.
    pub tainted: bool,
}

// === impl ApiBundle ===

impl ApiBundle {
    /// A bundle with no authority tainted and no JWT authority expiring.
    pub fn new(bundle: SpiffeBundle) -> Self {
        Self {
            bundle,
            tainted_x509: HashSet::new(),
            jwt_states: BTreeMap::new(),
        }
    }

    /// Whether `authority` is marked tainted.
    pub fn is_x509_tainted(&self, authority: &Certificate) -> bool {
        self.tainted_x509.contains(authority.der())
    }

    /// The recorded state of the JWT authority `kid` (the default when none is recorded).
    pub fn jwt_state(&self, kid: &str) -> JwtAuthorityState {
        self.jwt_states.get(kid).copied().unwrap_or_default()
    }
}

/// Reads SPIRE's bundle message. Errors name the field, e.g. `jwt_authorities[1].public_key`.
///
/// A repeated X.509 authority is kept once (tainted if any copy is); a repeated JWT key id is
/// an error, as a token's key would be ambiguous (JWT-16).
pub fn bundle_from_proto(bundle: &types::Bundle) -> Result<ApiBundle, ConvertError> {
    let trust_domain =
        trust_domain_from_proto(&bundle.trust_domain, FieldPath::new("trust_domain"))?;

    let mut x509 = X509Bundle::new(trust_domain.clone());
    // For each authority kept, its index in the message, to name it in errors.
    let mut x509_indexes = Vec::new();
    let mut tainted_x509 = HashSet::new();
    for (i, authority) in bundle.x509_authorities.iter().enumerate() {
        let certificate =
            x509_authority_from_proto(authority).map_err(|e| e.within(x509_field(i)))?;
        if authority.tainted {
            tainted_x509.insert(certificate.der().clone());
        }
        if x509.add_authority(certificate) {
            x509_indexes.push(i);
        }
    }

    let mut jwt = JwtBundle::new(trust_domain);
    let mut jwt_states = BTreeMap::new();
    for (i, key) in bundle.jwt_authorities.iter().enumerate() {
        let (authority, state) = jwt_authority_from_proto(key)
            .map_err(|e| e.within(FieldPath::new("jwt_authorities").at(i)))?;
        if jwt.get(authority.kid()).is_some() {
            return Err(ConvertError::DuplicateKeyId {
                field: FieldPath::new("jwt_authorities").at(i).then("key_id"),
            });
        }
        if state != JwtAuthorityState::default() {
            jwt_states.insert(authority.kid().to_owned(), state);
        }
        jwt.insert(authority);
    }

    let mut spiffe_bundle = SpiffeBundle::from_parts(x509, jwt).map_err(|source| {
        let field = match source {
            spiffe_core::bundle::BundleError::UnrepresentableAuthorityKey { index } => {
                x509_indexes.get(index).map_or_else(
                    || FieldPath::new("x509_authorities"),
                    |i| x509_field(*i).then("asn1"),
                )
            }
            _ => FieldPath::new("x509_authorities"),
        };
        ConvertError::Bundle { field, source }
    })?;
    let refresh_hint =
        u64::try_from(bundle.refresh_hint).map_err(|_| out_of_range("refresh_hint"))?;
    spiffe_bundle.set_refresh_hint((refresh_hint != 0).then(|| Duration::from_secs(refresh_hint)));
    spiffe_bundle.set_sequence(Some(bundle.sequence_number));
    Ok(ApiBundle {
        bundle: spiffe_bundle,
        tainted_x509,
        jwt_states,
    })
}

/// SPIRE's bundle message, every field filled in (`wit_authorities` empty).
///
/// Fails only when a refresh hint or a JWT authority's expiry exceeds `i64::MAX` seconds.
pub fn bundle_to_proto(bundle: &ApiBundle) -> Result<types::Bundle, ConvertError> {
    let spiffe_bundle = &bundle.bundle;
    let x509_authorities = spiffe_bundle
        .x509_authorities()
        .authorities()
        .iter()
        .map(|certificate| {
            x509_authority_to_proto(certificate, bundle.is_x509_tainted(certificate))
        })
        .collect();
    let jwt_authorities = spiffe_bundle
        .jwt_authorities()
        .authorities()
        .enumerate()
        .map(|(i, authority)| {
            jwt_authority_to_proto(authority, bundle.jwt_state(authority.kid()))
                .map_err(|e| e.within(FieldPath::new("jwt_authorities").at(i)))
        })
        .collect::<Result<_, _>>()?;
    let refresh_hint = spiffe_bundle
        .refresh_hint_secs()
        .map_or(Ok(0), i64::try_from)
        .map_err(|_| out_of_range("refresh_hint"))?;
    Ok(types::Bundle {
        trust_domain: spiffe_bundle.trust_domain().as_str().to_owned(),
        x509_authorities,
        jwt_authorities,
        refresh_hint,
        sequence_number: spiffe_bundle.sequence().unwrap_or(0),
        wit_authorities: Vec::new(),
    })
}

/// One X.509 authority (as `AppendBundle` sends them): the certificate, parsed. Its `tainted`
/// flag is the caller's to read. Errors name `asn1`.
pub fn x509_authority_from_proto(
    authority: &types::X509Certificate,
) -> Result<Certificate, ConvertError> {
    Certificate::from_der(CertificateDer::from(authority.asn1.clone())).map_err(|source| {
        ConvertError::Certificate {
            field: FieldPath::new("asn1"),
            source,
        }
    })
}

/// One X.509 authority as SPIRE's message.
pub fn x509_authority_to_proto(authority: &Certificate, tainted: bool) -> types::X509Certificate {
    types::X509Certificate {
        asn1: authority.der().to_vec(),
        tainted,
    }
}

/// One JWT authority (as `AppendBundle` and `PublishJWTAuthority` send them): the key from its
/// PKIX public key and key id, and its expiry and taint. Errors name `key_id`, `public_key`
/// or `expires_at`.
pub fn jwt_authority_from_proto(
    key: &types::JwtKey,
) -> Result<(JwtAuthority, JwtAuthorityState), ConvertError> {
    // JWT-16: a JWT authority without a key id could never be selected.
    if key.key_id.is_empty() {
        return Err(ConvertError::Missing {
            field: FieldPath::new("key_id"),
        });
    }
    let authority = jwt_authority_from_spki(&key.key_id, &key.public_key)?;
    let state = JwtAuthorityState {
        expires_at: time_from_secs(key.expires_at, "expires_at")?,
        tainted: key.tainted,
    };
    Ok((authority, state))
}

/// One JWT authority as SPIRE's message: the key as a DER `SubjectPublicKeyInfo`.
pub fn jwt_authority_to_proto(
    authority: &JwtAuthority,
    state: JwtAuthorityState,
) -> Result<types::JwtKey, ConvertError> {
    Ok(types::JwtKey {
        public_key: jwt_authority_to_spki(authority)?,
        key_id: authority.kid().to_owned(),
        expires_at: time_to_secs(state.expires_at, "expires_at")?,
        tainted: state.tainted,
    })
}

fn x509_field(index: usize) -> FieldPath {
    FieldPath::new("x509_authorities").at(index)
}
