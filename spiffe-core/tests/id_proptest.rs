//! Property tests for SPIFFE IDs: display ∘ parse = id on generated valid IDs, the builders
//! agree with the parser, and parsing arbitrary strings never panics and never accepts a
//! string that breaks the character rules.

use proptest::prelude::*;
use spiffe_core::{SpiffeId, TrustDomain};

/// A valid trust-domain name (ID-6, ID-16).
fn trust_domain_name() -> impl Strategy<Value = String> {
    "[a-z0-9._-]{1,64}"
}

/// A valid path segment (ID-10, ID-12).
fn segment() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9._-]{1,24}".prop_filter("dot segment", |s| s != "." && s != "..")
}

/// A string near the grammar: mostly SPIFFE ID characters plus the separators and the
/// characters the rules single out, so the fuzzing reaches deep into the parser.
fn near_miss() -> impl Strategy<Value = String> {
    let prefix = prop_oneof![
        Just("spiffe://"),
        Just("spiffe:/"),
        Just("SPIFFE://"),
        Just(""),
    ];
    let body = proptest::collection::vec(
        prop_oneof![
            8 => "[a-zA-Z0-9._-]",
            2 => Just("/".to_owned()),
            1 => "[?#@:%~ \\\\\\[\\]\u{0}\u{7f}äé]",
        ],
        0..40,
    );
    (prefix, body).prop_map(|(p, b)| format!("{p}{}", b.concat()))
}

/// Independent oracle: does `s` satisfy the character and shape rules ID-1..ID-16?
fn satisfies_rules(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("spiffe://") else {
        return false; // ID-1
    };
    let (td, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let td_ok = !td.is_empty() // ID-2
        && td.len() <= 255 // ID-16
        && td.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_')); // ID-3..7
    let path_ok = path.is_empty()
        || path[1..].split('/').all(|seg| {
            !seg.is_empty() // ID-10, ID-11
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| matches!(b, b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_')) // ID-9, ID-12
        });
    td_ok && path_ok && s.len() <= 2048 // ID-14
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn display_of_parse_is_identity(td in trust_domain_name(), segments in proptest::collection::vec(segment(), 0..8)) {
        let mut s = format!("spiffe://{td}");
        for seg in &segments {
            s.push('/');
            s.push_str(seg);
        }
        let id = SpiffeId::new(&s).map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
        prop_assert_eq!(id.to_string(), s.clone());
        prop_assert_eq!(id.trust_domain_name(), td.as_str());
        prop_assert_eq!(id.segments().collect::<Vec<_>>(), segments.iter().map(String::as_str).collect::<Vec<_>>());
        // Parsing the display again gives an equal ID.
        let shown = id.to_string();
        prop_assert_eq!(SpiffeId::new(&shown).ok(), Some(id.clone()));

        // The builders produce the same ID as the parser.
        let trust_domain = TrustDomain::new(&td).map_err(|e| TestCaseError::fail(format!("{td}: {e}")))?;
        prop_assert_eq!(trust_domain.to_string(), td.clone());
        prop_assert_eq!(SpiffeId::from_segments(&trust_domain, &segments).ok(), Some(id.clone()));
        prop_assert_eq!(SpiffeId::from_path(&trust_domain, id.path()).ok(), Some(id.clone()));
        prop_assert_eq!(id.trust_domain(), trust_domain.clone());
        // TrustDomain::new accepts the ID form and discards the path.
        prop_assert_eq!(TrustDomain::new(&s).ok(), Some(trust_domain));
    }

    #[test]
    fn parse_of_arbitrary_strings_never_panics(s in any::<String>()) {
        // Neither constructor panics; an accepted ID obeys every character rule.
        let _ = TrustDomain::new(&s);
        if let Ok(id) = SpiffeId::new(&s) {
            prop_assert!(satisfies_rules(&s), "accepted {s:?}");
            prop_assert_eq!(id.as_str(), s.as_str());
        }
    }

    #[test]
    fn parser_agrees_with_oracle_on_near_misses(s in near_miss()) {
        let parsed = SpiffeId::new(&s);
        prop_assert_eq!(parsed.is_ok(), satisfies_rules(&s), "{:?}: {:?}", s, parsed);
        if let Err(e) = parsed {
            // Every rejection names a requirement.
            prop_assert!(e.requirement().starts_with("ID-"));
        }
    }
}
