//! One test per requirement ID-1..ID-17 of the conformance checklist §1.1 that a parser can
//! check, each named after its id. The §4.1 vectors are in `id_vectors.rs`; these tests probe
//! each rule on its own, including its boundaries.

mod id_support;

use spiffe_core::id::{MAX_ID_LEN, MAX_TRUST_DOMAIN_LEN};
use spiffe_core::{IdError, SpiffeId, TrustDomain};

/// Asserts `input` is rejected by `SpiffeId::new` with an error for `requirement`.
#[track_caller]
fn assert_id_rejected(input: &str, requirement: &str) -> IdError {
    match SpiffeId::new(input) {
        Ok(id) => panic!("{input:?} accepted as {id}, expected {requirement}"),
        Err(e) => {
            assert_eq!(e.requirement(), requirement, "{input:?}: {e}");
            assert!(
                e.to_string().contains(requirement),
                "{e} must name {requirement}"
            );
            e
        }
    }
}

#[track_caller]
fn assert_td_rejected(input: &str, requirement: &str) -> IdError {
    match TrustDomain::new(input) {
        Ok(td) => panic!("{input:?} accepted as trust domain {td}, expected {requirement}"),
        Err(e) => {
            assert_eq!(e.requirement(), requirement, "{input:?}: {e}");
            e
        }
    }
}

#[track_caller]
fn assert_id_accepted(input: &str) -> SpiffeId {
    match SpiffeId::new(input) {
        Ok(id) => {
            assert_eq!(id.as_str(), input);
            id
        }
        Err(e) => panic!("{input:?} rejected: {e}"),
    }
}

fn example_td() -> TrustDomain {
    TrustDomain::new("example.org").expect("valid trust domain")
}

#[test]
fn id_1_scheme_must_be_exactly_spiffe() {
    assert_eq!(assert_id_rejected("", "ID-1"), IdError::Empty);
    for input in [
        "spiffe:/example.org/a",
        "spiffe:example.org/a",
        "spiff://example.org/a",
        "spiffes://example.org/a",
        "http://example.org/a",
        "urn:spiffe:example.org",
        " spiffe://example.org/a",
        "example.org/a",
    ] {
        assert_eq!(assert_id_rejected(input, "ID-1"), IdError::WrongScheme);
    }
    for input in [
        "SPIFFE://example.org/a",
        "Spiffe://example.org/a",
        "spiffE://x",
    ] {
        assert_eq!(assert_id_rejected(input, "ID-1"), IdError::UppercaseScheme);
    }
    assert_id_accepted("spiffe://example.org/a");
}

#[test]
fn id_2_trust_domain_must_be_non_empty() {
    for input in ["spiffe://", "spiffe:///", "spiffe:///a", "spiffe:///a/b"] {
        assert_eq!(
            assert_id_rejected(input, "ID-2"),
            IdError::MissingTrustDomain
        );
    }
    assert_eq!(assert_td_rejected("", "ID-2"), IdError::MissingTrustDomain);
    assert_eq!(
        assert_td_rejected("spiffe://", "ID-2"),
        IdError::MissingTrustDomain
    );
    // The trust-domain ID itself is a valid ID (ID-13: the path is optional).
    assert_id_accepted("spiffe://a");
}

#[test]
fn id_3_query_and_fragment_rejected() {
    for (input, position) in [
        ("spiffe://example.org/a?x=1", 22),
        ("spiffe://example.org/a#frag", 22),
        ("spiffe://example.org?x", 20),
        ("spiffe://example.org#f", 20),
        ("spiffe://example.org/a/b?", 24),
        ("spiffe://example.org/?", 21),
    ] {
        assert_eq!(
            assert_id_rejected(input, "ID-3"),
            IdError::QueryOrFragment { position },
            "{input}"
        );
    }
    assert_td_rejected("example.org?x", "ID-3");
}

#[test]
fn id_4_no_userinfo_and_no_port() {
    assert_eq!(
        assert_id_rejected("spiffe://user@example.org/a", "ID-4"),
        IdError::UserInfo { position: 13 }
    );
    assert_eq!(
        assert_id_rejected("spiffe://example.org:8443/a", "ID-4"),
        IdError::Port { position: 20 }
    );
    assert_eq!(
        assert_id_rejected("spiffe://example.org:/a", "ID-4"),
        IdError::Port { position: 20 }
    );
    assert_id_rejected("spiffe://user:pw@example.org/a", "ID-4");
    assert_id_rejected("spiffe://@example.org", "ID-4");
    assert_td_rejected("example.org:443", "ID-4");
    assert_td_rejected("user@example.org", "ID-4");
}

#[test]
fn id_5_uppercase_trust_domain_rejected() {
    assert_eq!(
        assert_id_rejected("spiffe://Example.org/a", "ID-5"),
        IdError::UppercaseTrustDomain { position: 9 }
    );
    assert_eq!(
        assert_id_rejected("spiffe://example.orG", "ID-5"),
        IdError::UppercaseTrustDomain { position: 19 }
    );
    assert_td_rejected("EXAMPLE.ORG", "ID-5");
    // Not lowercased silently: the lowercase form is a different, valid input.
    assert_id_accepted("spiffe://example.org/a");
}

#[test]
fn id_6_trust_domain_character_set() {
    // Every allowed byte is accepted...
    let all_allowed = "abcdefghijklmnopqrstuvwxyz0123456789.-_";
    assert_eq!(
        TrustDomain::new(all_allowed).map(|t| t.to_string()).ok(),
        Some(all_allowed.to_owned())
    );
    // ...and every other ASCII byte and any non-ASCII byte is refused.
    for b in 0u8..0x80 {
        let c = b as char;
        if all_allowed.contains(c) || c.is_ascii_uppercase() || c == '/' {
            continue;
        }
        let input = format!("spiffe://ex{c}ample.org/a");
        let err = SpiffeId::new(&input).expect_err(&format!("byte {b:#04x} accepted"));
        let expected = match c {
            '?' | '#' => "ID-3",
            '@' | ':' => "ID-4",
            '%' => "ID-7",
            _ => "ID-6",
        };
        assert_eq!(err.requirement(), expected, "byte {b:#04x}: {err}");
        if expected == "ID-6" {
            assert_eq!(
                err,
                IdError::BadTrustDomainChar {
                    position: 11,
                    byte: b
                }
            );
        }
    }
    for input in [
        "spiffe://[::1]/a",
        "spiffe://exämple.org/a",
        "spiffe://例え.jp/a",
        "spiffe://example.org\\a",
    ] {
        assert_id_rejected(input, "ID-6");
    }
    // IPv4 dotted quads are just characters from the allowed set.
    assert_id_accepted("spiffe://192.168.0.1/a");
    assert_id_accepted("spiffe://xn--exmple-cua.org/a");
}

#[test]
fn id_7_percent_encoded_trust_domain_rejected() {
    assert_eq!(
        assert_id_rejected("spiffe://ex%41mple.org/a", "ID-7"),
        IdError::PercentEncodedTrustDomain { position: 11 }
    );
    assert_id_rejected("spiffe://%65xample.org", "ID-7");
    assert_td_rejected("ex%2eorg", "ID-7");
}

#[test]
fn id_8_no_dns_or_ip_semantics() {
    // No label-length rule, no leading/trailing dot or dash rule, no IP canonicalisation:
    // each of these is kept byte for byte and is distinct from its "normalised" form.
    let long_label = "a".repeat(100);
    for td in [
        "-td-.",
        "..",
        ".",
        "td..x",
        "example.org.",
        "_",
        "010.0.0.1",
        "10.0.0.1",
        "999.999.999.999",
        long_label.as_str(),
    ] {
        let id = assert_id_accepted(&format!("spiffe://{td}/a"));
        assert_eq!(id.trust_domain_name(), td);
        assert_eq!(
            TrustDomain::new(td).map(|t| t.to_string()).ok().as_deref(),
            Some(td)
        );
    }
    assert_ne!(
        TrustDomain::new("example.org.").ok(),
        TrustDomain::new("example.org").ok()
    );
    assert_ne!(
        TrustDomain::new("010.0.0.1").ok(),
        TrustDomain::new("10.0.0.1").ok()
    );
}

#[test]
fn id_9_percent_encoded_path_rejected() {
    assert_eq!(
        assert_id_rejected("spiffe://example.org/a%20b", "ID-9"),
        IdError::PercentEncodedPath { position: 22 }
    );
    assert_id_rejected("spiffe://example.org/%2F", "ID-9");
    assert_id_rejected("spiffe://example.org/a/%", "ID-9");
    let td = example_td();
    assert_eq!(
        SpiffeId::from_path(&td, "/a%41").map_err(|e| e.requirement()),
        Err("ID-9")
    );
    assert_eq!(
        SpiffeId::from_segments(&td, ["a%41"]).map_err(|e| e.requirement()),
        Err("ID-9")
    );
}

#[test]
fn id_10_empty_and_dot_segments_rejected() {
    for (input, position) in [
        ("spiffe://example.org//a", 21),
        ("spiffe://example.org/a//b", 23),
        ("spiffe://example.org//", 21),
    ] {
        assert_eq!(
            assert_id_rejected(input, "ID-10"),
            IdError::EmptySegment { position },
            "{input}"
        );
    }
    for (input, position) in [
        ("spiffe://example.org/.", 21),
        ("spiffe://example.org/..", 21),
        ("spiffe://example.org/./a", 21),
        ("spiffe://example.org/a/./b", 23),
        ("spiffe://example.org/a/..", 23),
        ("spiffe://example.org/../a", 21),
    ] {
        assert_eq!(
            assert_id_rejected(input, "ID-10"),
            IdError::DotSegment { position },
            "{input}"
        );
    }
    for path in ["/.a", "/..a", "/...", "/a.", "/a..", "/a/.b/..c"] {
        assert_id_accepted(&format!("spiffe://example.org{path}"));
    }
    let td = example_td();
    for segment in ["", ".", ".."] {
        assert_eq!(
            SpiffeId::from_segments(&td, [segment]).map_err(|e| e.requirement()),
            Err("ID-10"),
            "{segment:?}"
        );
    }
    assert_eq!(
        SpiffeId::from_path(&td, "/a/../b").map_err(|e| e.requirement()),
        Err("ID-10")
    );
}

#[test]
fn id_11_trailing_slash_rejected() {
    for input in [
        "spiffe://example.org/",
        "spiffe://example.org/a/",
        "spiffe://example.org/a/b/",
    ] {
        assert_eq!(assert_id_rejected(input, "ID-11"), IdError::TrailingSlash);
    }
    assert_eq!(
        SpiffeId::from_path(&example_td(), "/a/").map_err(|e| e.requirement()),
        Err("ID-11")
    );
    assert_eq!(
        SpiffeId::from_path(&example_td(), "/").map_err(|e| e.requirement()),
        Err("ID-11")
    );
}

#[test]
fn id_12_path_character_set() {
    let allowed = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_";
    assert_id_accepted(&format!("spiffe://example.org/{allowed}"));
    for b in 0u8..0x80 {
        let c = b as char;
        if allowed.contains(c) || c == '/' {
            continue;
        }
        let input = format!("spiffe://example.org/a{c}b");
        let err = SpiffeId::new(&input).expect_err(&format!("byte {b:#04x} accepted"));
        let expected = match c {
            '?' | '#' => "ID-3",
            '%' => "ID-9",
            _ => "ID-12",
        };
        assert_eq!(err.requirement(), expected, "byte {b:#04x}: {err}");
        if expected == "ID-12" {
            assert_eq!(
                err,
                IdError::BadPathChar {
                    position: 22,
                    byte: b
                }
            );
        }
    }
    assert_id_rejected("spiffe://example.org/ä", "ID-12");
    assert_id_rejected("spiffe://example.org/a\0b", "ID-12");
    let td = example_td();
    assert_eq!(
        SpiffeId::from_segments(&td, ["a/b"]),
        Err(IdError::SegmentContainsSlash)
    );
    assert_eq!(
        SpiffeId::from_segments(&td, ["a~b"]).map_err(|e| e.requirement()),
        Err("ID-12")
    );
}

#[test]
fn id_13_path_optional_hierarchical_and_absolute() {
    let id = assert_id_accepted("spiffe://example.org");
    assert_eq!(id.path(), "");
    assert!(id.is_trust_domain_id());
    assert_eq!(id.segments().count(), 0);

    let id = assert_id_accepted("spiffe://example.org/ns/prod/sa/web");
    assert_eq!(
        id.segments().collect::<Vec<_>>(),
        ["ns", "prod", "sa", "web"]
    );

    let td = example_td();
    assert_eq!(
        SpiffeId::from_path(&td, "a/b"),
        Err(IdError::PathNotAbsolute)
    );
    assert_eq!(SpiffeId::from_path(&td, "").ok(), Some(td.id()));
    assert_eq!(
        SpiffeId::from_path(&td, "/ns/prod").ok(),
        SpiffeId::new("spiffe://example.org/ns/prod").ok()
    );
    assert_eq!(
        SpiffeId::from_segments(&td, Vec::<&str>::new()).ok(),
        Some(td.id())
    );
}

#[test]
fn id_14_ids_up_to_2048_bytes_accepted() {
    assert_eq!(MAX_ID_LEN, 2048);
    for len in [2046, 2047, 2048] {
        let input = id_support::id_of_len(len);
        assert_id_accepted(&input);
    }
    // The count covers the whole string: one byte more is over the limit.
    let input = id_support::id_of_len(2049);
    assert_eq!(
        assert_id_rejected(&input, "ID-14"),
        IdError::TooLong { len: 2049 }
    );
    // A single huge segment is fine too, as long as the total fits.
    let prefix = "spiffe://example.org/";
    let input = format!("{prefix}{}", "x".repeat(2048 - prefix.len()));
    assert_id_accepted(&input);
}

#[test]
fn id_15_builders_never_generate_ids_over_2048_bytes() {
    let td = example_td();
    let base = "spiffe://example.org".len();
    let fits = format!("/{}", "a".repeat(2048 - base - 1));
    let built = SpiffeId::from_path(&td, &fits).expect("2048 bytes fits");
    assert_eq!(built.as_str().len(), 2048);

    let over = format!("/{}", "a".repeat(2048 - base));
    assert_eq!(
        SpiffeId::from_path(&td, &over),
        Err(IdError::TooLong { len: 2049 })
    );
    let segment = "a".repeat(2048 - base);
    assert_eq!(
        SpiffeId::from_segments(&td, [segment.as_str()]),
        Err(IdError::TooLong { len: 2049 })
    );
    let many = vec!["abc"; 600];
    assert!(matches!(
        SpiffeId::from_segments(&td, &many),
        Err(IdError::TooLong { .. })
    ));
}

#[test]
fn id_16_trust_domain_at_most_255_bytes() {
    assert_eq!(MAX_TRUST_DOMAIN_LEN, 255);
    let ok = id_support::trust_domain_of_len(255);
    assert_eq!(
        TrustDomain::new(&ok).map(|t| t.to_string()).ok(),
        Some(ok.clone())
    );
    assert_id_accepted(&format!("spiffe://{ok}/a"));
    assert_id_accepted(&format!("spiffe://{ok}"));

    let long = id_support::trust_domain_of_len(256);
    assert_eq!(
        assert_td_rejected(&long, "ID-16"),
        IdError::TrustDomainTooLong { len: 256 }
    );
    assert_eq!(
        assert_id_rejected(&format!("spiffe://{long}/a"), "ID-16"),
        IdError::TrustDomainTooLong { len: 256 }
    );
    assert_td_rejected(&format!("spiffe://{long}"), "ID-16");
}

#[test]
fn id_17_path_case_sensitive_and_comparison_bytewise() {
    let upper = assert_id_accepted("spiffe://example.org/Foo");
    let lower = assert_id_accepted("spiffe://example.org/foo");
    assert_ne!(upper, lower);
    assert_eq!(upper.path(), "/Foo");
    assert_eq!(
        upper,
        SpiffeId::new("spiffe://example.org/Foo").expect("valid")
    );
    // Scheme and trust domain are lowercase-only rather than case-folded (trap 1).
    assert_id_rejected("SPIFFE://example.org/Foo", "ID-1");
    assert_id_rejected("spiffe://EXAMPLE.org/Foo", "ID-5");
    // Ordering and hashing follow the bytes.
    assert!(upper < lower);
    let set: std::collections::HashSet<SpiffeId> = [upper.clone(), lower.clone(), upper.clone()]
        .into_iter()
        .collect();
    assert_eq!(set.len(), 2);
}
