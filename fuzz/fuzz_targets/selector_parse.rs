//! Fuzz target: the strings an operator or a plugin hands to `spiffe-attest` — selectors
//! (`Selector::parse`), registration entry ids (`EntryId::new`) and entry DNS names
//! (`entry::check_dns_name`) — on arbitrary UTF-8.
//!
//! None may panic. An accepted selector displays as itself, splits at its first `:` into a
//! non-empty type without `:` and a non-empty value, rebuilds equal from the two halves, and
//! holds no control character. An accepted entry id is 1..=255 bytes of `A-Z a-z 0-9 - . _`.
//! An accepted DNS name is at most 253 bytes of letters, digits, `-`, `.` and a leading `*`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spiffe_attest::entry::{check_dns_name, EntryId};
use spiffe_attest::Selector;

fuzz_target!(|input: &str| {
    if let Ok(s) = Selector::parse(input) {
        assert_eq!(s.to_string(), input, "display round trip");
        assert_eq!(s.as_str(), input);
        assert!(!s.selector_type().is_empty() && !s.value().is_empty());
        assert!(!s.selector_type().contains(':'));
        assert_eq!(format!("{}:{}", s.selector_type(), s.value()), input);
        assert_eq!(Selector::new(s.selector_type(), s.value()).ok(), Some(s.clone()));
        assert!(!input.chars().any(char::is_control));
        assert_eq!(input.parse::<Selector>().ok(), Some(s));
    }
    if let Ok(id) = EntryId::new(input) {
        assert_eq!(id.as_str(), input);
        assert!((1..=255).contains(&input.len()));
        assert!(input
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')));
    }
    if check_dns_name(input).is_ok() {
        assert!(!input.is_empty() && input.len() <= 253);
        assert!(input
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'*')));
        assert!(!input.contains("..") && !input.starts_with('.') && !input.ends_with('.'));
        assert!(!input[1..].contains('*'), "a wildcard only as the leftmost label");
    }
});
