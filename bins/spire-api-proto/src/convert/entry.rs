//! `types::Entry` to and from [`RegistrationEntry`].
//!
//! Field by field (SPIRE's 0 / empty meaning "unset" on the proto side):
//!
//! | proto | library |
//! |---|---|
//! | `id` (required) | [`EntryId`] |
//! | `spiffe_id`, `parent_id` (required) | [`SpiffeId`](spiffe_core::SpiffeId) |
//! | `selectors` | [`Selector`](spiffe_attest::Selector)s, sorted and deduplicated by the builder |
//! | `x509_svid_ttl`, `jwt_svid_ttl` (seconds, 0 = default) | `Option<Duration>` |
//! | `federates_with` (names) | [`TrustDomain`]s, sorted and deduplicated |
//! | `admin`, `downstream`, `store_svid` | the same flags |
//! | `expires_at`, `created_at` (seconds, 0 = unset) | `Option<UnixTime>` |
//! | `dns_names` | the same names, checked by the builder |
//! | `revision_number` (`int64`) | `u64` |
//! | `hint` (empty = none) | `Option<String>` |
//! | `additional_attributes.disable_x509_svid_prefetch`, `.jwt_svid_include_jti` (unset = both false) | the same flags |
//!
//! Back to the message, `additional_attributes` is set only when a flag in it is: SPIRE's
//! datastore stores an all-false message as nothing and reads it back unset, so an entry
//! without either flag has no `additional_attributes`, whichever way it was written.

use spiffe_attest::entry::EntryField;
use spiffe_attest::{EntryError, EntryId, RegistrationEntry};
use spiffe_core::TrustDomain;

use super::id::{required_id, spiffe_id_to_proto, trust_domain_from_proto};
use super::selector::{selector_to_proto, selectors_from_proto};
use super::time::{out_of_range, time_from_secs, time_to_secs, ttl_from_secs, ttl_to_secs};
use super::{ConvertError, FieldPath};
use crate::types;

/// Builds and checks a registration entry from SPIRE's message, with the checks of
/// [`RegistrationEntryBuilder::build`](spiffe_attest::entry::RegistrationEntryBuilder::build)
/// (server-specific rules, [`EntryRules`](spiffe_attest::entry::EntryRules), are the caller's
/// next step).
///
/// The `id` is required: a server creating an entry without one assigns it before converting.
pub fn entry_from_proto(entry: &types::Entry) -> Result<RegistrationEntry, ConvertError> {
    if entry.id.is_empty() {
        return Err(ConvertError::Missing {
            field: FieldPath::new("id"),
        });
    }
    let id = EntryId::new(&entry.id).map_err(ConvertError::from)?;
    let spiffe_id = required_id(entry.spiffe_id.as_ref(), "spiffe_id")?;
    let parent_id = required_id(entry.parent_id.as_ref(), "parent_id")?;
    let selectors = selectors_from_proto(&entry.selectors, "selectors")?;
    let federates_with = entry
        .federates_with
        .iter()
        .enumerate()
        .map(|(i, name)| trust_domain_from_proto(name, FieldPath::new("federates_with").at(i)))
        .collect::<Result<Vec<TrustDomain>, _>>()?;
    let attributes = entry.additional_attributes.unwrap_or_default();
    let revision =
        u64::try_from(entry.revision_number).map_err(|_| out_of_range("revision_number"))?;

    let mut builder = RegistrationEntry::builder(id, spiffe_id, parent_id)
        .selectors(selectors)
        .x509_svid_ttl(ttl_from_secs(entry.x509_svid_ttl, "x509_svid_ttl")?)
        .jwt_svid_ttl(ttl_from_secs(entry.jwt_svid_ttl, "jwt_svid_ttl")?)
        .dns_names(entry.dns_names.iter().cloned())
        .admin(entry.admin)
        .downstream(entry.downstream)
        .store_svid(entry.store_svid)
        .disable_x509_svid_prefetch(attributes.disable_x509_svid_prefetch)
        .jwt_svid_include_jti(attributes.jwt_svid_include_jti)
        .hint(entry.hint.as_str())
        .expires_at(time_from_secs(entry.expires_at, "expires_at")?)
        .revision_number(revision)
        .created_at(time_from_secs(entry.created_at, "created_at")?);
    for trust_domain in federates_with {
        builder = builder.federates_with(trust_domain);
    }
    builder.build().map_err(ConvertError::from)
}

/// SPIRE's message for a registration entry, every field filled in (`additional_attributes`
/// only when one of its flags is set).
///
/// Fails only for values SPIRE's fields cannot carry: a TTL of zero, over `i32::MAX` seconds or
/// with a fraction of a second; a time at the epoch or past `i64::MAX`; a revision past
/// `i64::MAX`.
pub fn entry_to_proto(entry: &RegistrationEntry) -> Result<types::Entry, ConvertError> {
    Ok(types::Entry {
        id: entry.id().as_str().to_owned(),
        spiffe_id: Some(spiffe_id_to_proto(entry.spiffe_id())),
        parent_id: Some(spiffe_id_to_proto(entry.parent_id())),
        selectors: entry.selectors().iter().map(selector_to_proto).collect(),
        x509_svid_ttl: ttl_to_secs(entry.x509_svid_ttl(), "x509_svid_ttl")?,
        federates_with: entry
            .federates_with()
            .iter()
            .map(|td| td.as_str().to_owned())
            .collect(),
        admin: entry.admin(),
        downstream: entry.downstream(),
        expires_at: time_to_secs(entry.expires_at(), "expires_at")?,
        dns_names: entry.dns_names().to_vec(),
        revision_number: i64::try_from(entry.revision_number())
            .map_err(|_| out_of_range("revision_number"))?,
        store_svid: entry.store_svid(),
        jwt_svid_ttl: ttl_to_secs(entry.jwt_svid_ttl(), "jwt_svid_ttl")?,
        hint: entry.hint().unwrap_or_default().to_owned(),
        created_at: time_to_secs(entry.created_at(), "created_at")?,
        additional_attributes: (entry.disable_x509_svid_prefetch() || entry.jwt_svid_include_jti())
            .then_some(types::entry::AdditionalAttributes {
                disable_x509_svid_prefetch: entry.disable_x509_svid_prefetch(),
                jwt_svid_include_jti: entry.jwt_svid_include_jti(),
            }),
    })
}

/// An entry check failure, attributed to the `types::Entry` field it concerns; also for
/// failures of [`EntryRules::check`](spiffe_attest::entry::EntryRules::check), so a server can
/// report them the same way.
impl From<EntryError> for ConvertError {
    fn from(source: EntryError) -> Self {
        let field = match &source {
            EntryError::EmptyEntryId
            | EntryError::EntryIdTooLong { .. }
            | EntryError::EntryIdCharacter { .. } => FieldPath::new("id"),
            EntryError::NoSelectors => FieldPath::new("selectors"),
            EntryError::StoreSvidMixedSelectorTypes => FieldPath::new("store_svid"),
            EntryError::StoreSvidWithoutPrefetch => {
                FieldPath::new("additional_attributes").then("disable_x509_svid_prefetch")
            }
            EntryError::DnsName { index, .. } => FieldPath::new("dns_names").at(*index),
            EntryError::HintTooLong { .. } | EntryError::HintCharacter { .. } => {
                FieldPath::new("hint")
            }
            EntryError::FederatesWithOwnTrustDomain { index } => {
                FieldPath::new("federates_with").at(*index)
            }
            EntryError::ForeignTrustDomain { field }
            | EntryError::NoPath { field }
            | EntryError::ReservedPath { field }
            | EntryError::TtlTooLong { field, .. } => entry_field(*field),
            _ => FieldPath::default(),
        };
        ConvertError::Entry { field, source }
    }
}

fn entry_field(field: EntryField) -> FieldPath {
    match field {
        EntryField::SpiffeId => FieldPath::new("spiffe_id"),
        EntryField::ParentId => FieldPath::new("parent_id"),
        EntryField::X509SvidTtl => FieldPath::new("x509_svid_ttl"),
        EntryField::JwtSvidTtl => FieldPath::new("jwt_svid_ttl"),
        _ => FieldPath::default(),
    }
}
