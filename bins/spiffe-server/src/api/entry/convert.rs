//! Request fields to datastore filters and entries, and entries back to SPIRE's messages
//! through the output mask.
//!
//! Errors are INVALID_ARGUMENT with SPIRE's leading text (`malformed selectors filter`,
//! `failed to convert entry`) followed by the field at fault and why, never the value.

use spiffe_attest::entry::EntryRules;
use spiffe_attest::{EntryId, RegistrationEntry};
use spiffe_core::{SpiffeId, TrustDomain};
use spire_api_proto::convert::{
    entry_from_proto, entry_to_proto, selector_from_proto, spiffe_id_from_proto, ConvertError,
    FieldPath,
};
use spire_api_proto::types;
use tonic::Status;

use crate::api::bundle::convert::trust_domain_from_string;
use crate::api::status::chain;
use crate::datastore::{
    new_entry_id, EntryFilter, EntryMask, FederatesWithMatch, MatchBehavior, SelectorMatch,
};

/// The filter fields `CountEntriesRequest.Filter` and `ListEntriesRequest.Filter` share.
pub(super) struct FilterFields<'a> {
    pub(super) by_spiffe_id: Option<&'a types::Spiffeid>,
    pub(super) by_parent_id: Option<&'a types::Spiffeid>,
    pub(super) by_selectors: Option<&'a types::SelectorMatch>,
    pub(super) by_federates_with: Option<&'a types::FederatesWithMatch>,
    pub(super) by_hint: Option<&'a String>,
    pub(super) by_downstream: Option<bool>,
}

/// SPIRE's checks on a list or count filter: IDs of the server's trust domain (the SPIFFE ID
/// not under `/spire/`), non-empty selector and trust domain sets, known match behaviours.
pub(super) fn entry_filter(
    td: &TrustDomain,
    fields: FilterFields<'_>,
) -> Result<EntryFilter, Status> {
    let mut filter = EntryFilter::default();
    if let Some(id) = fields.by_parent_id {
        filter.by_parent_id =
            Some(member_id(td, id, false).map_err(|e| {
                Status::invalid_argument(format!("malformed parent ID filter: {e}"))
            })?);
    }
    if let Some(id) = fields.by_spiffe_id {
        filter.by_spiffe_id =
            Some(member_id(td, id, true).map_err(|e| {
                Status::invalid_argument(format!("malformed SPIFFE ID filter: {e}"))
            })?);
    }
    if let Some(by) = fields.by_selectors {
        let bad = |e: String| Status::invalid_argument(format!("malformed selectors filter: {e}"));
        let selectors = by
            .selectors
            .iter()
            .enumerate()
            .map(|(i, s)| {
                selector_from_proto(s)
                    .map_err(|e| bad(chain(&e.within(FieldPath::new("selectors").at(i)))))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if selectors.is_empty() {
            return Err(bad("empty selector set".into()));
        }
        let behavior = MatchBehavior::from_proto(by.r#match)
            .ok_or_else(|| bad(format!("unknown match behavior {}", by.r#match)))?;
        filter.by_selectors = Some(SelectorMatch {
            selectors,
            behavior,
        });
    }
    if let Some(by) = fields.by_federates_with {
        let bad =
            |e: String| Status::invalid_argument(format!("malformed federates with filter: {e}"));
        let trust_domains = by
            .trust_domains
            .iter()
            .enumerate()
            .map(|(i, name)| {
                trust_domain_from_string(name).map_err(|e| {
                    bad(format!(
                        "trust_domains[{i}] is not a valid trust domain: {e}"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if trust_domains.is_empty() {
            return Err(bad("empty trust domain set".into()));
        }
        let behavior = MatchBehavior::from_proto(by.r#match)
            .ok_or_else(|| bad(format!("unknown match behavior {}", by.r#match)))?;
        filter.by_federates_with = Some(FederatesWithMatch {
            trust_domains,
            behavior,
        });
    }
    // As SPIRE's datastore: an empty hint filters nothing.
    filter.by_hint = fields.by_hint.filter(|h| !h.is_empty()).cloned();
    // As SPIRE's datastore: only `true` filters (downstream entries only); `false`, which
    // SPIRE's CLI always sends, filters nothing.
    filter.by_downstream = fields.by_downstream.filter(|downstream| *downstream);
    Ok(filter)
}

/// A SPIFFE ID of the server's trust domain (SPIRE's `TrustDomainMemberIDFromProto`, or with
/// `workload` its `TrustDomainWorkloadIDFromProto`: a path, not under `/spire/`).
pub(crate) fn member_id(
    td: &TrustDomain,
    id: &types::Spiffeid,
    workload: bool,
) -> Result<SpiffeId, String> {
    let id = spiffe_id_from_proto(id).map_err(|e| chain(&e))?;
    if !id.is_member_of(td) {
        return Err(format!(
            "\"{id}\" is not a member of trust domain \"{}\"",
            td.as_str()
        ));
    }
    if !id.has_path() {
        return Err(format!(
            "\"{id}\" is not a member of trust domain \"{}\"; path is empty",
            td.as_str()
        ));
    }
    if workload && id.path().starts_with("/spire/") {
        return Err(format!(
            "invalid path \"{}\": \"/spire/\" is reserved for agents and servers",
            id.path()
        ));
    }
    Ok(id)
}

/// An entry to create: `message` with a fresh id when it has none, converted and checked
/// against the server's rules.
pub(super) fn entry_to_create(
    rules: &EntryRules,
    message: &types::Entry,
) -> Result<RegistrationEntry, Status> {
    let entry = if message.id.is_empty() {
        let mut message = message.clone();
        let id = new_entry_id()
            .map_err(|e| crate::api::status::internal("failed to create entry", &e))?;
        message.id = id.as_str().to_owned();
        entry_from_proto(&message)
    } else {
        entry_from_proto(message)
    };
    let entry = entry.map_err(|e| convert_failed(&e))?;
    rules
        .check(&entry)
        .map_err(|e| convert_failed(&ConvertError::from(e)))?;
    Ok(entry)
}

/// `stored` with the fields `mask` selects taken from `message`, converted and checked as a
/// whole (so a partial update cannot produce an entry a create would refuse).
pub(super) fn entry_to_update(
    rules: &EntryRules,
    stored: &RegistrationEntry,
    message: &types::Entry,
    mask: &EntryMask,
) -> Result<RegistrationEntry, Status> {
    let mut merged = entry_to_proto(stored)
        .map_err(|e| crate::api::status::internal("failed to convert entry", &e))?;
    if mask.spiffe_id {
        merged.spiffe_id.clone_from(&message.spiffe_id);
    }
    if mask.parent_id {
        merged.parent_id.clone_from(&message.parent_id);
    }
    if mask.selectors {
        merged.selectors.clone_from(&message.selectors);
    }
    if mask.x509_svid_ttl {
        merged.x509_svid_ttl = message.x509_svid_ttl;
    }
    if mask.federates_with {
        merged.federates_with.clone_from(&message.federates_with);
    }
    if mask.admin {
        merged.admin = message.admin;
    }
    if mask.downstream {
        merged.downstream = message.downstream;
    }
    if mask.expires_at {
        merged.expires_at = message.expires_at;
    }
    if mask.dns_names {
        merged.dns_names.clone_from(&message.dns_names);
    }
    if mask.store_svid {
        merged.store_svid = message.store_svid;
    }
    if mask.jwt_svid_ttl {
        merged.jwt_svid_ttl = message.jwt_svid_ttl;
    }
    if mask.hint {
        merged.hint.clone_from(&message.hint);
    }
    if mask.additional_attributes {
        // Replaced whole, as SPIRE: unset clears both flags.
        merged
            .additional_attributes
            .clone_from(&message.additional_attributes);
    }
    let entry = entry_from_proto(&merged).map_err(|e| convert_failed(&e))?;
    rules
        .check(&entry)
        .map_err(|e| convert_failed(&ConvertError::from(e)))?;
    Ok(entry)
}

/// The `input_mask` of `BatchUpdateEntry`: every field when absent (SPIRE's behaviour).
pub(super) fn input_mask(mask: Option<&types::EntryMask>) -> EntryMask {
    let Some(m) = mask else {
        return EntryMask::all();
    };
    let mut mask = EntryMask::none();
    mask.spiffe_id = m.spiffe_id;
    mask.parent_id = m.parent_id;
    mask.selectors = m.selectors;
    mask.x509_svid_ttl = m.x509_svid_ttl;
    mask.federates_with = m.federates_with;
    mask.admin = m.admin;
    mask.downstream = m.downstream;
    mask.expires_at = m.expires_at;
    mask.dns_names = m.dns_names;
    mask.store_svid = m.store_svid;
    mask.jwt_svid_ttl = m.jwt_svid_ttl;
    mask.hint = m.hint;
    mask.additional_attributes = m.additional_attributes;
    mask
}

/// An entry id from a request: empty is INVALID_ARGUMENT `missing`; one that no entry could
/// have (bad characters, too long) is NOT_FOUND `not_found`, as SPIRE answers for any id it
/// does not hold.
pub(super) fn entry_id(
    text: &str,
    missing: &'static str,
    not_found: &'static str,
) -> Result<EntryId, Status> {
    if text.is_empty() {
        return Err(Status::invalid_argument(missing));
    }
    EntryId::new(text).map_err(|_| Status::not_found(not_found))
}

fn convert_failed(err: &ConvertError) -> Status {
    Status::invalid_argument(format!("failed to convert entry: {}", chain(err)))
}

/// A stored entry as SPIRE's message through `mask` (every field without one).
pub(super) fn entry_message(
    entry: &RegistrationEntry,
    mask: Option<&types::EntryMask>,
) -> Result<types::Entry, Status> {
    let mut message = entry_to_proto(entry).map_err(|e| {
        tracing::error!(entry_id = %entry.id().as_str(), error = %chain(&e), "Failed to convert entry");
        Status::internal(format!("failed to convert entry: {e}"))
    })?;
    apply_mask(&mut message, mask);
    Ok(message)
}

/// SPIRE's `applyMask`: without a mask every field is returned; with one, the fields it leaves
/// unset are cleared (the id is always returned).
pub(super) fn apply_mask(entry: &mut types::Entry, mask: Option<&types::EntryMask>) {
    let Some(mask) = mask else {
        return;
    };
    if !mask.spiffe_id {
        entry.spiffe_id = None;
    }
    if !mask.parent_id {
        entry.parent_id = None;
    }
    if !mask.selectors {
        entry.selectors.clear();
    }
    if !mask.federates_with {
        entry.federates_with.clear();
    }
    if !mask.admin {
        entry.admin = false;
    }
    if !mask.downstream {
        entry.downstream = false;
    }
    if !mask.expires_at {
        entry.expires_at = 0;
    }
    if !mask.dns_names {
        entry.dns_names.clear();
    }
    if !mask.revision_number {
        entry.revision_number = 0;
    }
    if !mask.store_svid {
        entry.store_svid = false;
    }
    if !mask.x509_svid_ttl {
        entry.x509_svid_ttl = 0;
    }
    if !mask.jwt_svid_ttl {
        entry.jwt_svid_ttl = 0;
    }
    if !mask.hint {
        entry.hint.clear();
    }
    if !mask.additional_attributes {
        entry.additional_attributes = None;
    }
    if !mask.created_at {
        entry.created_at = 0;
    }
}
