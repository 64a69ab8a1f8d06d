//! `types::Entry` <-> `RegistrationEntry`: round trips and the field each error names.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use proptest::prelude::*;
use spiffe_attest::entry::{EntryRules, RegistrationEntry};
use spiffe_attest::{EntryError, EntryId, Selector};
use spiffe_core::pki_types::UnixTime;
use spiffe_core::{SpiffeId, TrustDomain};
use spire_api_proto::convert::{entry_from_proto, entry_to_proto, ConvertError, FieldPath};
use spire_api_proto::types;

/// A change that makes a valid message invalid.
type Breaker = Box<dyn Fn(&mut types::Entry)>;

fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

fn id(trust_domain: &str, path: &str) -> Option<types::Spiffeid> {
    Some(types::Spiffeid {
        trust_domain: trust_domain.into(),
        path: path.into(),
    })
}

fn selector(selector_type: &str, value: &str) -> types::Selector {
    types::Selector {
        r#type: selector_type.into(),
        value: value.into(),
    }
}

/// An entry message with every field set, selectors and trust domains already in the order the
/// library keeps them.
fn full_message() -> types::Entry {
    types::Entry {
        id: "entry-1".into(),
        spiffe_id: id("example.org", "/ns/prod/web"),
        parent_id: id("example.org", "/spire/agent/join_token/abc"),
        selectors: vec![selector("k8s", "ns:prod"), selector("unix", "uid:1000")],
        x509_svid_ttl: 3600,
        federates_with: vec!["domain.test".into(), "other.test".into()],
        admin: true,
        downstream: true,
        expires_at: 1_900_000_000,
        dns_names: vec!["web.example.org".into(), "*.web.example.org".into()],
        revision_number: 42,
        store_svid: false,
        jwt_svid_ttl: 300,
        hint: "internal".into(),
        created_at: 1_700_000_000,
        additional_attributes: Some(types::entry::AdditionalAttributes {
            disable_x509_svid_prefetch: true,
            jwt_svid_include_jti: true,
        }),
    }
}

fn minimal_message() -> types::Entry {
    types::Entry {
        id: "e".into(),
        spiffe_id: id("example.org", "/web"),
        parent_id: id("example.org", "/agent"),
        selectors: vec![selector("unix", "uid:0")],
        ..Default::default()
    }
}

fn field_of(message: &types::Entry) -> String {
    entry_from_proto(message).unwrap_err().field().to_string()
}

#[test]
fn every_field_reaches_the_library_entry() {
    let entry = entry_from_proto(&full_message()).unwrap();
    assert_eq!(entry.id().as_str(), "entry-1");
    assert_eq!(
        entry.spiffe_id().as_str(),
        "spiffe://example.org/ns/prod/web"
    );
    assert_eq!(
        entry.parent_id().as_str(),
        "spiffe://example.org/spire/agent/join_token/abc"
    );
    assert_eq!(
        entry.selectors(),
        [
            Selector::parse("k8s:ns:prod").unwrap(),
            Selector::parse("unix:uid:1000").unwrap()
        ]
    );
    assert_eq!(entry.x509_svid_ttl(), Some(Duration::from_secs(3600)));
    assert_eq!(entry.jwt_svid_ttl(), Some(Duration::from_secs(300)));
    assert_eq!(
        entry.federates_with(),
        [
            TrustDomain::new("domain.test").unwrap(),
            TrustDomain::new("other.test").unwrap()
        ]
    );
    assert!(entry.admin() && entry.downstream() && !entry.store_svid());
    assert_eq!(entry.expires_at(), Some(at(1_900_000_000)));
    assert_eq!(entry.created_at(), Some(at(1_700_000_000)));
    assert_eq!(entry.dns_names(), ["web.example.org", "*.web.example.org"]);
    assert_eq!(entry.revision_number(), 42);
    assert_eq!(entry.hint(), Some("internal"));
    assert!(entry.disable_x509_svid_prefetch() && entry.jwt_svid_include_jti());
}

#[test]
fn each_additional_attribute_converts_both_ways_on_its_own() {
    for (prefetch_off, jti) in [(true, false), (false, true), (true, true)] {
        let mut message = minimal_message();
        message.additional_attributes = Some(types::entry::AdditionalAttributes {
            disable_x509_svid_prefetch: prefetch_off,
            jwt_svid_include_jti: jti,
        });
        let entry = entry_from_proto(&message).unwrap();
        assert_eq!(entry.disable_x509_svid_prefetch(), prefetch_off);
        assert_eq!(entry.jwt_svid_include_jti(), jti);
        assert_eq!(entry_to_proto(&entry).unwrap(), message);
    }
}

#[test]
fn a_message_round_trips() {
    for message in [full_message(), minimal_message()] {
        let entry = entry_from_proto(&message).unwrap();
        assert_eq!(entry_to_proto(&entry).unwrap(), message);
    }
}

#[test]
fn zero_and_empty_mean_unset() {
    let entry = entry_from_proto(&minimal_message()).unwrap();
    assert_eq!(entry.x509_svid_ttl(), None);
    assert_eq!(entry.jwt_svid_ttl(), None);
    assert_eq!(entry.expires_at(), None);
    assert_eq!(entry.created_at(), None);
    assert_eq!(entry.hint(), None);
    assert_eq!(entry.revision_number(), 0);
    assert!(!entry.disable_x509_svid_prefetch() && !entry.jwt_svid_include_jti());
    // All-false additional attributes are the same as none, and come back as none (as SPIRE's
    // datastore reads them back).
    let mut message = minimal_message();
    message.additional_attributes = Some(Default::default());
    assert_eq!(entry_from_proto(&message).unwrap(), entry);
    assert_eq!(entry_to_proto(&entry).unwrap().additional_attributes, None);
}

#[test]
fn selectors_and_trust_domains_come_back_sorted_and_deduplicated() {
    let mut message = minimal_message();
    message.selectors = vec![
        selector("unix", "uid:1"),
        selector("k8s", "ns:a"),
        selector("unix", "uid:1"),
    ];
    message.federates_with = vec!["b.test".into(), "spiffe://a.test".into(), "b.test".into()];
    let back = entry_to_proto(&entry_from_proto(&message).unwrap()).unwrap();
    assert_eq!(
        back.selectors,
        [selector("k8s", "ns:a"), selector("unix", "uid:1")]
    );
    assert_eq!(back.federates_with, ["a.test", "b.test"]);
}

#[test]
fn each_error_names_its_field() {
    let cases: Vec<(&str, Breaker)> = vec![
        ("id", Box::new(|m| m.id.clear())),
        ("id", Box::new(|m| m.id = "not/allowed".into())),
        ("spiffe_id", Box::new(|m| m.spiffe_id = None)),
        (
            "spiffe_id.trust_domain",
            Box::new(|m| m.spiffe_id = id("Example.org", "/x")),
        ),
        (
            "parent_id.path",
            Box::new(|m| m.parent_id = id("example.org", "agent")),
        ),
        ("selectors", Box::new(|m| m.selectors.clear())),
        (
            "selectors[1].value",
            Box::new(|m| m.selectors.push(selector("unix", ""))),
        ),
        ("x509_svid_ttl", Box::new(|m| m.x509_svid_ttl = -1)),
        ("jwt_svid_ttl", Box::new(|m| m.jwt_svid_ttl = i32::MIN)),
        (
            "federates_with[1]",
            Box::new(|m| m.federates_with = vec!["ok.test".into(), "Bad.test".into()]),
        ),
        ("expires_at", Box::new(|m| m.expires_at = -1)),
        ("created_at", Box::new(|m| m.created_at = -1)),
        ("revision_number", Box::new(|m| m.revision_number = -1)),
        (
            "dns_names[1]",
            Box::new(|m| m.dns_names = vec!["ok.test".into(), "bad_name.test".into()]),
        ),
        ("hint", Box::new(|m| m.hint = "a\nb".into())),
        ("hint", Box::new(|m| m.hint = "h".repeat(2000))),
        (
            "store_svid",
            Box::new(|m| {
                m.store_svid = true;
                m.selectors.push(selector("k8s", "ns:a"));
            }),
        ),
        (
            "additional_attributes.disable_x509_svid_prefetch",
            Box::new(|m| {
                m.store_svid = true;
                m.additional_attributes = Some(types::entry::AdditionalAttributes {
                    disable_x509_svid_prefetch: true,
                    jwt_svid_include_jti: false,
                })
            }),
        ),
    ];
    for (field, break_it) in cases {
        let mut message = minimal_message();
        break_it(&mut message);
        assert_eq!(field_of(&message), field, "{message:?}");
    }
}

#[test]
fn error_kinds_carry_the_library_cause() {
    let mut message = minimal_message();
    message.selectors.clear();
    assert_eq!(
        entry_from_proto(&message).unwrap_err(),
        ConvertError::Entry {
            field: FieldPath::new("selectors"),
            source: EntryError::NoSelectors
        }
    );
    let mut message = minimal_message();
    message.spiffe_id = None;
    let error = entry_from_proto(&message).unwrap_err();
    assert_eq!(error.to_string(), "spiffe_id is required");
    let mut message = minimal_message();
    message.store_svid = true;
    message.additional_attributes = Some(types::entry::AdditionalAttributes {
        disable_x509_svid_prefetch: true,
        jwt_svid_include_jti: false,
    });
    let error = entry_from_proto(&message).unwrap_err();
    assert_eq!(
        error,
        ConvertError::Entry {
            field: FieldPath::new("additional_attributes").then("disable_x509_svid_prefetch"),
            source: EntryError::StoreSvidWithoutPrefetch
        }
    );
    let cause = std::error::Error::source(&error).map(ToString::to_string);
    assert!(cause.is_some_and(|c| c.contains("incompatible with storable SVIDs")));
}

#[test]
fn rule_failures_name_fields_too() {
    let entry = entry_from_proto(&minimal_message()).unwrap();
    let rules = EntryRules::new(TrustDomain::new("other.org").unwrap());
    let error = ConvertError::from(rules.check(&entry).unwrap_err());
    assert_eq!(error.field().to_string(), "spiffe_id");
}

#[test]
fn values_spire_cannot_carry_are_refused_on_the_way_out() {
    let base = entry_from_proto(&minimal_message()).unwrap();
    let refused = |entry: RegistrationEntry| entry_to_proto(&entry).unwrap_err();
    let entry = base
        .to_builder()
        .x509_svid_ttl(Some(Duration::from_millis(1500)))
        .build()
        .unwrap();
    assert_eq!(
        refused(entry),
        ConvertError::FractionalSeconds {
            field: FieldPath::new("x509_svid_ttl")
        }
    );
    let entry = base
        .to_builder()
        .jwt_svid_ttl(Some(Duration::from_secs(1 << 31)))
        .build()
        .unwrap();
    assert_eq!(refused(entry).field().to_string(), "jwt_svid_ttl");
    let entry = base.to_builder().revision_number(u64::MAX).build().unwrap();
    assert_eq!(refused(entry).field().to_string(), "revision_number");
    let entry = base.to_builder().expires_at(Some(at(0))).build().unwrap();
    assert_eq!(refused(entry).field().to_string(), "expires_at");
}

prop_compose! {
    fn arb_entry()(
        id in "[A-Za-z0-9._-]{1,40}",
        path in proptest::collection::vec("[a-z0-9]{1,8}", 0..4),
        parent in "[a-z0-9]{1,8}",
        selectors in proptest::collection::btree_set(("[a-z]{1,6}", "[a-z0-9:]{1,10}"), 1..4),
        x509_ttl in proptest::option::of(1..=i32::MAX as u64),
        jwt_ttl in proptest::option::of(1..=i32::MAX as u64),
        federates in proptest::collection::btree_set("[a-z]{1,8}\\.test", 0..3),
        flags in any::<(bool, bool)>(),
        attributes in any::<(bool, bool)>(),
        expires in proptest::option::of(1..=i64::MAX as u64),
        created in proptest::option::of(1..=i64::MAX as u64),
        revision in 0..=i64::MAX as u64,
        hint in "[a-z ]{0,12}",
        dns in proptest::collection::vec("[a-z]{1,10}\\.example", 0..3),
    ) -> RegistrationEntry {
        let td = TrustDomain::new("example.org").unwrap();
        let mut builder = RegistrationEntry::builder(
            EntryId::new(&id).unwrap(),
            SpiffeId::from_segments(&td, &path).unwrap(),
            SpiffeId::from_segments(&td, [parent]).unwrap(),
        )
        .selectors(selectors.iter().map(|(t, v)| Selector::new(t, v).unwrap()))
        .x509_svid_ttl(x509_ttl.map(Duration::from_secs))
        .jwt_svid_ttl(jwt_ttl.map(Duration::from_secs))
        .admin(flags.0)
        .downstream(flags.1)
        .disable_x509_svid_prefetch(attributes.0)
        .jwt_svid_include_jti(attributes.1)
        .expires_at(expires.map(at))
        .created_at(created.map(at))
        .revision_number(revision)
        .hint(hint)
        .dns_names(dns);
        for name in federates {
            builder = builder.federates_with(TrustDomain::new(&name).unwrap());
        }
        builder.build().unwrap()
    }
}

proptest! {
    #[test]
    fn library_entries_round_trip(entry in arb_entry()) {
        let message = entry_to_proto(&entry).unwrap();
        prop_assert_eq!(entry_from_proto(&message).unwrap(), entry);
    }
}
