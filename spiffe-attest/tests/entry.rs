//! Registration entries: the builder's checks and a server's rules.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use spiffe_attest::entry::{
    server_id, DnsNameError, EntryError, EntryField, EntryId, EntryRules, RegistrationEntry,
    RegistrationEntryBuilder, MAX_ENTRY_ID_LEN, MAX_HINT_LEN,
};
use spiffe_attest::Selector;
use spiffe_core::pki_types::UnixTime;
use spiffe_core::{SpiffeId, TrustDomain};

fn sid(s: &str) -> SpiffeId {
    SpiffeId::new(s).unwrap()
}

fn base() -> RegistrationEntryBuilder {
    RegistrationEntry::builder(
        EntryId::new("entry-1").unwrap(),
        sid("spiffe://example.org/web"),
        sid("spiffe://example.org/spire/agent/join_token/t"),
    )
    .selector(Selector::parse("unix:uid:1000").unwrap())
}

fn rules() -> EntryRules {
    EntryRules::new(TrustDomain::new("example.org").unwrap())
}

#[test]
fn builds_with_all_fields() {
    let at = UnixTime::since_unix_epoch(Duration::from_secs(2_000_000_000));
    let e = base()
        .selector(Selector::parse("unix:gid:5").unwrap())
        .x509_svid_ttl(Some(Duration::from_secs(3600)))
        .jwt_svid_ttl(Some(Duration::from_secs(300)))
        .dns_name("web.example.org")
        .federates_with(TrustDomain::new("other.org").unwrap())
        .federates_with(TrustDomain::new("other.org").unwrap())
        .admin(true)
        .downstream(true)
        .hint("external")
        .expires_at(Some(at))
        .revision_number(7)
        .created_at(Some(UnixTime::since_unix_epoch(Duration::from_secs(1))))
        .build()
        .unwrap();
    assert_eq!(e.id().as_str(), "entry-1");
    assert_eq!(
        e.selectors(),
        [
            Selector::parse("unix:gid:5").unwrap(),
            Selector::parse("unix:uid:1000").unwrap()
        ]
    );
    assert_eq!(e.x509_svid_ttl(), Some(Duration::from_secs(3600)));
    assert_eq!(e.jwt_svid_ttl(), Some(Duration::from_secs(300)));
    assert_eq!(e.dns_names(), ["web.example.org"]);
    assert_eq!(e.federates_with().len(), 1);
    assert!(e.admin() && e.downstream() && !e.store_svid());
    assert_eq!(e.hint(), Some("external"));
    assert_eq!(e.revision_number(), 7);
    assert!(
        !e.is_expired(UnixTime::since_unix_epoch(Duration::from_secs(
            1_999_999_999
        )))
    );
    assert!(e.is_expired(at));
    assert_eq!(rules().check(&e), Ok(()));
    // to_builder round-trips.
    assert_eq!(e.to_builder().build().unwrap(), e);
}

#[test]
fn entry_id_follows_spire_rules() {
    assert!(EntryId::new("a-Z_0.9").is_ok());
    assert_eq!(EntryId::new(""), Err(EntryError::EmptyEntryId));
    assert_eq!(
        EntryId::new("ab/c"),
        Err(EntryError::EntryIdCharacter { at: 2 })
    );
    assert_eq!(
        EntryId::new("é"),
        Err(EntryError::EntryIdCharacter { at: 0 })
    );
    assert!(EntryId::new(&"e".repeat(MAX_ENTRY_ID_LEN)).is_ok());
    assert_eq!(
        EntryId::new(&"e".repeat(256)),
        Err(EntryError::EntryIdTooLong { len: 256, max: 255 })
    );
}

#[test]
fn builder_rejects() {
    let no_selectors = RegistrationEntry::builder(
        EntryId::new("e").unwrap(),
        sid("spiffe://example.org/web"),
        sid("spiffe://example.org/agent"),
    );
    assert_eq!(no_selectors.build(), Err(EntryError::NoSelectors));
    assert_eq!(
        base()
            .dns_name("ok.example.org")
            .dns_name("bad_name")
            .build(),
        Err(EntryError::DnsName {
            index: 1,
            reason: DnsNameError::Character { at: 3 }
        })
    );
    assert_eq!(
        base().hint("x".repeat(MAX_HINT_LEN + 1)).build(),
        Err(EntryError::HintTooLong {
            len: MAX_HINT_LEN + 1,
            max: MAX_HINT_LEN
        })
    );
    assert_eq!(
        base().hint("a\nb").build(),
        Err(EntryError::HintCharacter { at: 1 })
    );
    assert_eq!(base().hint("").build().unwrap().hint(), None);
    assert_eq!(
        base()
            .store_svid(true)
            .selector(Selector::parse("k8s:ns:a").unwrap())
            .build(),
        Err(EntryError::StoreSvidMixedSelectorTypes)
    );
    assert!(base().store_svid(true).build().is_ok());
    assert_eq!(
        base()
            .store_svid(true)
            .disable_x509_svid_prefetch(true)
            .build(),
        Err(EntryError::StoreSvidWithoutPrefetch)
    );
}

#[test]
fn rules_check_ids_against_the_trust_domain() {
    let foreign = base()
        .spiffe_id(sid("spiffe://other.org/web"))
        .build()
        .unwrap();
    assert_eq!(
        rules().check(&foreign),
        Err(EntryError::ForeignTrustDomain {
            field: EntryField::SpiffeId
        })
    );
    let foreign_parent = base()
        .parent_id(sid("spiffe://other.org/agent"))
        .build()
        .unwrap();
    assert_eq!(
        rules().check(&foreign_parent),
        Err(EntryError::ForeignTrustDomain {
            field: EntryField::ParentId
        })
    );
    let bare = base()
        .spiffe_id(sid("spiffe://example.org"))
        .build()
        .unwrap();
    assert_eq!(
        rules().check(&bare),
        Err(EntryError::NoPath {
            field: EntryField::SpiffeId
        })
    );
    let bare_parent = base()
        .parent_id(sid("spiffe://example.org"))
        .build()
        .unwrap();
    assert_eq!(
        rules().check(&bare_parent),
        Err(EntryError::NoPath {
            field: EntryField::ParentId
        })
    );
    let reserved = base()
        .spiffe_id(sid("spiffe://example.org/spire/agent/x"))
        .build()
        .unwrap();
    assert_eq!(
        rules().check(&reserved),
        Err(EntryError::ReservedPath {
            field: EntryField::SpiffeId
        })
    );
    // A node-alias entry: parent is the server.
    let td = TrustDomain::new("example.org").unwrap();
    let alias = base().parent_id(server_id(&td)).build().unwrap();
    assert_eq!(rules().check(&alias), Ok(()));
    assert!(alias.is_node_alias(rules().server_id()));
    // A nested entry: parent is a workload's ID.
    let nested = base()
        .parent_id(sid("spiffe://example.org/ds"))
        .build()
        .unwrap();
    assert_eq!(rules().check(&nested), Ok(()));
}

#[test]
fn rules_bound_ttls_and_federation() {
    let r = rules()
        .max_x509_svid_ttl(Duration::from_secs(3600))
        .max_jwt_svid_ttl(Duration::from_secs(600));
    assert_eq!(
        r.check(
            &base()
                .x509_svid_ttl(Some(Duration::from_secs(3600)))
                .build()
                .unwrap()
        ),
        Ok(())
    );
    assert_eq!(
        r.check(
            &base()
                .x509_svid_ttl(Some(Duration::from_secs(3601)))
                .build()
                .unwrap()
        ),
        Err(EntryError::TtlTooLong {
            field: EntryField::X509SvidTtl,
            ttl: Duration::from_secs(3601),
            max: Duration::from_secs(3600),
        })
    );
    assert!(matches!(
        r.check(
            &base()
                .jwt_svid_ttl(Some(Duration::from_secs(601)))
                .build()
                .unwrap()
        ),
        Err(EntryError::TtlTooLong {
            field: EntryField::JwtSvidTtl,
            ..
        })
    ));
    // The default cap is SPIRE's int32 seconds.
    assert!(rules()
        .check(
            &base()
                .x509_svid_ttl(Some(Duration::from_secs(1 << 31)))
                .build()
                .unwrap()
        )
        .is_err());
    let own = base()
        .federates_with(TrustDomain::new("a.org").unwrap())
        .federates_with(TrustDomain::new("example.org").unwrap())
        .build()
        .unwrap();
    // Federated trust domains are sorted: a.org, example.org.
    assert_eq!(
        rules().check(&own),
        Err(EntryError::FederatesWithOwnTrustDomain { index: 1 })
    );
}

#[test]
fn errors_do_not_echo_values() {
    let err = base().hint("secret\u{7}").build().unwrap_err();
    assert!(!err.to_string().contains("secret"));
    let err = EntryId::new("token-abc/def").unwrap_err();
    assert!(!err.to_string().contains("token-abc"));
}

#[test]
fn additional_attributes_default_off_and_round_trip() {
    let plain = base().build().unwrap();
    assert!(!plain.disable_x509_svid_prefetch() && !plain.jwt_svid_include_jti());
    let lazy = base().disable_x509_svid_prefetch(true).build().unwrap();
    assert!(lazy.disable_x509_svid_prefetch() && !lazy.jwt_svid_include_jti());
    let jti = base().jwt_svid_include_jti(true).build().unwrap();
    assert!(!jti.disable_x509_svid_prefetch() && jti.jwt_svid_include_jti());
    assert_ne!(lazy, plain);
    assert_ne!(jti, lazy);
    assert_eq!(lazy.to_builder().build().unwrap(), lazy);
    let cleared = jti
        .to_builder()
        .jwt_svid_include_jti(false)
        .build()
        .unwrap();
    assert_eq!(cleared, plain);
}

/// The entry index holds up to a million entries: the two flags live in what was padding.
#[test]
fn entry_size_is_unchanged_by_the_additional_attributes() {
    assert!(
        std::mem::size_of::<RegistrationEntry>() <= 240,
        "RegistrationEntry grew to {} bytes",
        std::mem::size_of::<RegistrationEntry>()
    );
}
