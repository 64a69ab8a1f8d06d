//! One test per bundle requirement a library can check: BUNDLE-1..19, X509-27..31, JWT-16/17
//! (ids from SPIFFE-CONFORMANCE.md §1.2-1.4).
#![allow(missing_docs, clippy::unwrap_used)]

mod bundle_common;

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bundle_common::{data, json, jwk, jwt_bundle, roots, td};
use serde_json::{json, Value};
use spiffe_core::bundle::{
    BundleError, BundleMap, BundleSet, KeyIssue, SpiffeBundle, DEFAULT_REFRESH_HINT,
};
use spiffe_core::{JwtBundleSource, X509BundleSource};

fn parse(text: &str) -> Result<SpiffeBundle, BundleError> {
    SpiffeBundle::parse(td("example.com"), text.as_bytes())
}

fn full() -> SpiffeBundle {
    SpiffeBundle::parse(td("example.com"), &data("full.json")).unwrap()
}

fn keys_of(bundle: &SpiffeBundle) -> Vec<Value> {
    json(&bundle.to_json())["keys"].as_array().unwrap().clone()
}

fn x509_entry(pem_name: &str) -> Value {
    let der = roots(&td("example.com"), &[pem_name]).authorities()[0]
        .der()
        .to_vec();
    json!({"kty": "EC", "use": "x509-svid", "x5c": [STANDARD.encode(der)]})
}

fn jwt_entry(name: &str) -> Value {
    let mut key = jwk(name);
    key.insert("use".into(), "jwt-svid".into());
    Value::Object(key)
}

fn doc(keys: Vec<Value>) -> String {
    json!({ "keys": keys }).to_string()
}

#[test]
fn bundle_1_bundle_is_held_with_its_trust_domain() {
    let a = td("a.example");
    let bundle = SpiffeBundle::parse(a.clone(), &data("full.json")).unwrap();
    assert_eq!(bundle.trust_domain(), &a);
    assert_eq!(bundle.x509_authorities().trust_domain(), &a);
    assert_eq!(bundle.jwt_authorities().trust_domain(), &a);
    let set: BundleSet = [bundle].into_iter().collect();
    assert_eq!(set.x509_bundle_for(&a).unwrap().trust_domain(), &a);
    assert!(set.x509_bundle_for(&td("b.example")).is_none());
    assert!(set.jwt_bundle_for(&td("b.example")).is_none());
}

#[test]
fn bundle_2_newer_bundle_replaces_all_keys() {
    let t = td("example.com");
    let mut set = BundleSet::new();
    set.insert_bundle(full());
    assert_eq!(set.x509_bundle("example.com").unwrap().len(), 3);
    let newer = SpiffeBundle::from_parts(roots(&t, &["p384"]), jwt_bundle(&t, &[])).unwrap();
    set.insert_bundle(newer);
    // The keys missing from the newer bundle are revoked.
    assert_eq!(*set.x509_bundle_for(&t).unwrap(), roots(&t, &["p384"]));
    assert!(set.jwt_bundle_for(&t).unwrap().is_empty());
}

#[test]
fn bundle_3_document_is_a_json_object() {
    assert_eq!(parse("[]"), Err(BundleError::NotAnObject));
    assert_eq!(parse("\"keys\""), Err(BundleError::NotAnObject));
    assert!(matches!(
        parse("{\"keys\": ["),
        Err(BundleError::Json { line: 1, .. })
    ));
}

#[test]
fn bundle_4_unknown_members_ignored_and_kept() {
    let bundle = parse(r#"{"keys": [], "foo": {"a": [1, 2]}, "bar": null}"#).unwrap();
    assert_eq!(bundle.extra_members().len(), 2);
    let written = json(&bundle.to_json());
    assert_eq!(written["foo"], json!({"a": [1, 2]}));
    assert_eq!(written["bar"], Value::Null);
    assert_eq!(
        SpiffeBundle::parse(td("example.com"), &bundle.to_json()).unwrap(),
        bundle
    );
}

#[test]
fn bundle_5_sequence_is_u64() {
    let max = parse(r#"{"keys": [], "spiffe_sequence": 18446744073709551615}"#).unwrap();
    assert_eq!(max.sequence(), Some(u64::MAX));
    for bad in ["18446744073709551616", "-1", "1.5", "\"3\"", "null", "true"] {
        let text = format!(r#"{{"keys": [], "spiffe_sequence": {bad}}}"#);
        assert_eq!(parse(&text), Err(BundleError::InvalidSequence), "{bad}");
    }
    let mut bundle = max;
    bundle.set_sequence(Some(4));
    assert_eq!(json(&bundle.to_json())["spiffe_sequence"], json!(4));
    bundle.set_sequence(None);
    assert!(json(&bundle.to_json()).get("spiffe_sequence").is_none());
}

#[test]
fn bundle_6_refresh_hint_is_integer_seconds() {
    let bundle = parse(r#"{"keys": [], "spiffe_refresh_hint": 300}"#).unwrap();
    assert_eq!(bundle.refresh_hint(), Some(Duration::from_secs(300)));
    for bad in ["\"300\"", "1.5", "-5", "null"] {
        let text = format!(r#"{{"keys": [], "spiffe_refresh_hint": {bad}}}"#);
        assert_eq!(parse(&text), Err(BundleError::InvalidRefreshHint), "{bad}");
    }
    let mut bundle = bundle;
    bundle.set_refresh_hint(Some(Duration::from_millis(1500)));
    assert_eq!(bundle.refresh_hint_secs(), Some(2), "fractions round up");
    assert_eq!(json(&bundle.to_json())["spiffe_refresh_hint"], json!(2));
}

#[test]
fn bundle_7_missing_keys_rejected() {
    assert_eq!(parse("{}"), Err(BundleError::MissingKeys));
    assert_eq!(parse(r#"{"keys": {}}"#), Err(BundleError::KeysNotAnArray));
    assert_eq!(parse(r#"{"keys": null}"#), Err(BundleError::KeysNotAnArray));
    assert_eq!(
        parse(r#"{"keys": [{}, 3]}"#),
        Err(BundleError::KeyNotAnObject { index: 1 })
    );
}

#[test]
fn bundle_8_unknown_use_or_kty_ignored_not_an_error() {
    let mut odd = jwt_entry("ec-p256");
    odd["use"] = json!("enc");
    let mut odd_kty = jwt_entry("ec-p384");
    odd_kty["kty"] = json!("oct");
    let (bundle, diagnostics) = SpiffeBundle::parse_with_diagnostics(
        td("example.com"),
        doc(vec![odd, odd_kty, jwt_entry("rsa")]).as_bytes(),
    )
    .unwrap();
    assert_eq!(bundle.jwt_authorities().len(), 1);
    assert!(bundle.jwt_authorities().get("rsa").is_some());
    let issues: Vec<_> = diagnostics.iter().map(|d| (d.index, d.issue)).collect();
    assert_eq!(
        issues,
        [(0, KeyIssue::UnknownUse), (1, KeyIssue::UnknownKty)]
    );
    // The other-use key is kept for writing back, and stays ignored when read again.
    assert_eq!(bundle.other_keys().len(), 1);
    assert_eq!(
        SpiffeBundle::parse(td("example.com"), &bundle.to_json()).unwrap(),
        bundle
    );
}

#[test]
fn bundle_9_no_usable_keys_means_no_authorities() {
    for text in [
        doc(vec![]),
        doc(vec![json!({"kty": "EC"}), json!({"use": "sig"})]),
    ] {
        let bundle = parse(&text).unwrap();
        assert!(bundle.x509_authorities().is_empty());
        assert!(bundle.jwt_authorities().is_empty());
        let set: BundleSet = [bundle].into_iter().collect();
        // The trust domain is known, with nothing in it: nothing of it verifies.
        let t = td("example.com");
        assert!(set.x509_bundle_for(&t).unwrap().is_empty());
        assert!(set.jwt_bundle_for(&t).unwrap().is_empty());
    }
}

#[test]
fn bundle_10_use_values_select_the_profile() {
    let bundle = parse(&doc(vec![x509_entry("p256"), jwt_entry("ec-p256")])).unwrap();
    assert_eq!(bundle.x509_authorities().len(), 1);
    assert_eq!(bundle.jwt_authorities().len(), 1);
}

#[test]
fn bundle_11_written_jwks_hold_only_defined_members() {
    let t = td("example.com");
    let bundle = SpiffeBundle::from_parts(
        roots(&t, &["p256", "rsa"]),
        jwt_bundle(&t, &["ec-p256", "rsa"]),
    )
    .unwrap();
    let members = |key: &Value| {
        let mut names: Vec<_> = key.as_object().unwrap().keys().cloned().collect();
        names.sort();
        names.join(",")
    };
    let keys = keys_of(&bundle);
    assert_eq!(keys.len(), 4);
    assert_eq!(members(&keys[0]), "crv,kty,use,x,x5c,y");
    assert_eq!(members(&keys[1]), "e,kty,n,use,x5c");
    assert_eq!(members(&keys[2]), "crv,kid,kty,use,x,y");
    assert_eq!(members(&keys[3]), "e,kid,kty,n,use");

    // Carried-along members are dropped on request.
    let mut extra = json(&data("full.json"));
    extra["keys"][0]["x5t"] = json!("abc");
    extra["keys"][3]["alg"] = json!("ES256");
    extra["keys"]
        .as_array_mut()
        .unwrap()
        .push(json!({"use": "wit-svid", "kty": "EC"}));
    extra["foo"] = json!(1);
    let mut bundle = SpiffeBundle::parse(t.clone(), extra.to_string().as_bytes()).unwrap();
    let written = json(&bundle.to_json());
    assert_eq!(written["keys"][0]["x5t"], json!("abc"));
    assert_eq!(written["keys"].as_array().unwrap().len(), 7);
    bundle.clear_unknown();
    let written = json(&bundle.to_json());
    assert_eq!(written["keys"].as_array().unwrap().len(), 6);
    assert!(written.get("foo").is_none());
    assert!(written["keys"][0].get("x5t").is_none());
}

#[test]
fn bundle_12_kty_must_be_set() {
    let mut no_kty = x509_entry("p256");
    no_kty.as_object_mut().unwrap().remove("kty");
    let mut jwt_no_kty = jwt_entry("rsa");
    jwt_no_kty.as_object_mut().unwrap().remove("kty");
    let (bundle, diagnostics) = SpiffeBundle::parse_with_diagnostics(
        td("example.com"),
        doc(vec![no_kty, jwt_no_kty, jwt_entry("ec-p256")]).as_bytes(),
    )
    .unwrap();
    assert_eq!(bundle.x509_authorities().len(), 0);
    assert_eq!(bundle.jwt_authorities().len(), 1);
    assert!(diagnostics.iter().all(|d| d.issue == KeyIssue::MissingKty));
    assert_eq!(diagnostics.len(), 2);
}

#[test]
fn bundle_13_use_must_be_set_and_is_case_sensitive() {
    for bad_use in [
        json!("X509-SVID"),
        json!("x509-SVID"),
        json!(" x509-svid"),
        json!(1),
    ] {
        let mut entry = x509_entry("p256");
        entry["use"] = bad_use.clone();
        let bundle = parse(&doc(vec![entry])).unwrap();
        assert!(bundle.x509_authorities().is_empty(), "{bad_use}");
    }
    let mut entry = x509_entry("p256");
    entry.as_object_mut().unwrap().remove("use");
    let (bundle, diagnostics) =
        SpiffeBundle::parse_with_diagnostics(td("example.com"), doc(vec![entry]).as_bytes())
            .unwrap();
    assert!(bundle.x509_authorities().is_empty());
    assert_eq!(diagnostics[0].issue, KeyIssue::MissingUse);
    assert_eq!(diagnostics[0].issue.requirement(), "BUNDLE-13");
}

#[test]
fn bundle_14_map_needs_trust_domains_keyed_by_bare_names() {
    assert_eq!(
        BundleMap::parse(b"{}"),
        Err(BundleError::MissingTrustDomains)
    );
    assert_eq!(
        BundleMap::parse(br#"{"trust_domains": []}"#),
        Err(BundleError::TrustDomainsNotAnObject)
    );
    assert!(BundleMap::parse(br#"{"trust_domains": {}}"#)
        .unwrap()
        .is_empty());
    for key in [
        "Example.com",
        "spiffe://example.com",
        "example.com:443",
        "",
        "a b",
    ] {
        let text = json!({"trust_domains": {key: {"keys": []}}}).to_string();
        assert!(BundleMap::parse(text.as_bytes()).is_err(), "{key:?}");
    }
}

#[test]
fn bundle_15_map_duplicate_trust_domains_rejected() {
    let text = br#"{"trust_domains": {"a.example": {"keys": []}, "b.example": {"keys": []}, "a.example": {"keys": []}}}"#;
    assert_eq!(
        BundleMap::parse(text),
        Err(BundleError::DuplicateTrustDomain {
            trust_domain: td("a.example")
        })
    );
    // Duplicates deeper in are ambiguous too.
    let text = br#"{"trust_domains": {"a.example": {"keys": [], "keys": []}}}"#;
    assert!(matches!(
        BundleMap::parse(text),
        Err(BundleError::MapEntry { source, .. }) if *source == BundleError::DuplicateMember { in_key: None }
    ));
    assert_eq!(
        parse(r#"{"keys": [{"use": "sig", "kty": "EC", "kty": "RSA"}]}"#),
        Err(BundleError::DuplicateMember { in_key: Some(0) })
    );
}

#[test]
fn bundle_16_map_inner_refresh_hints_do_not_matter() {
    let map = BundleMap::parse(&data("120-map-inner-refresh-hints.json")).unwrap();
    let com = map.get("example.com").unwrap();
    assert_eq!(com.refresh_hint_secs(), Some(1));
    // `refresh_hint`, as the spec text names it, is carried along, not interpreted.
    let org = map.get("example.org").unwrap();
    assert_eq!(org.refresh_hint(), None);
    assert_eq!(org.extra_members().get_u64("refresh_hint"), Some(1));
    assert_eq!(BundleMap::parse(&map.to_json()).unwrap(), map);
}

#[test]
fn bundle_17_map_loads_as_a_whole() {
    let map = BundleMap::parse(&data("120-map-inner-refresh-hints.json")).unwrap();
    let set = BundleSet::from(map.clone());
    let names: Vec<_> = set.trust_domains().map(|t| t.as_str()).collect();
    assert_eq!(names, ["example.com", "example.org"]);
    assert_eq!(set.x509_bundle("example.com").unwrap().len(), 2);
    assert_eq!(set.jwt_bundle("example.org").unwrap().len(), 1);
    // One bad bundle fails the whole map, naming the trust domain.
    let mut bad = json(&map.to_json());
    bad["trust_domains"]["example.org"]["spiffe_sequence"] = json!(-1);
    assert_eq!(
        BundleMap::parse(bad.to_string().as_bytes()),
        Err(BundleError::MapEntry {
            trust_domain: td("example.org"),
            source: Box::new(BundleError::InvalidSequence)
        })
    );
}

#[test]
fn bundle_18_default_refresh_hint_is_five_minutes() {
    let bundle = parse(r#"{"keys": []}"#).unwrap();
    assert_eq!(bundle.refresh_hint(), None);
    assert_eq!(bundle.refresh_hint_or_default(), Duration::from_secs(300));
    assert_eq!(DEFAULT_REFRESH_HINT, Duration::from_secs(300));
}

#[test]
fn bundle_19_shared_root_stays_bound_to_each_trust_domain() {
    let (a, b) = (td("a.example"), td("b.example"));
    let mut set = BundleSet::new();
    set.insert_x509(roots(&a, &["p256"]));
    set.insert_x509(roots(&b, &["p256"]));
    assert_eq!(set.x509_bundle_for(&a).unwrap().trust_domain(), &a);
    assert_eq!(set.x509_bundle_for(&b).unwrap().trust_domain(), &b);
    assert!(set.remove("a.example"));
    assert!(set.x509_bundle_for(&a).is_none());
    assert_eq!(set.x509_bundle_for(&b).unwrap().len(), 1);
}

#[test]
fn x509_27_kid_on_x509_entry_ignored_and_not_written() {
    let mut entry = x509_entry("p256");
    entry["kid"] = json!("some-kid");
    let (bundle, diagnostics) =
        SpiffeBundle::parse_with_diagnostics(td("example.com"), doc(vec![entry]).as_bytes())
            .unwrap();
    assert_eq!(bundle.x509_authorities().len(), 1);
    assert!(bundle.jwt_authorities().is_empty());
    assert_eq!(diagnostics[0].issue, KeyIssue::KidOnX509Ignored);
    assert!(!diagnostics[0].issue.skips_key());
    assert!(keys_of(&bundle)[0].get("kid").is_none());
}

#[test]
fn x509_28_x5c_is_one_standard_base64_certificate() {
    let bundle = full();
    for key in keys_of(&bundle).iter().filter(|k| k["use"] == "x509-svid") {
        let x5c = key["x5c"].as_array().unwrap();
        assert_eq!(x5c.len(), 1);
        let der = STANDARD.decode(x5c[0].as_str().unwrap()).unwrap();
        assert!(bundle
            .x509_authorities()
            .authorities()
            .iter()
            .any(|a| a.der().as_ref() == der));
    }
    let (bundle, diagnostics) = SpiffeBundle::parse_with_diagnostics(
        td("example.com"),
        &data("069-x509-x5c-base64url.json"),
    )
    .unwrap();
    assert_eq!(
        *bundle.x509_authorities(),
        roots(&td("example.com"), &["p384"])
    );
    assert_eq!(diagnostics[0].issue, KeyIssue::X5cNotStandardBase64);
    for bad in [json!("not base64!"), json!(7), json!("AAAA")] {
        let mut entry = x509_entry("p256");
        entry["x5c"] = json!([bad]);
        // "AAAA" is base64 of three zero bytes: not a certificate (once the parser is real).
        let bundle = parse(&doc(vec![entry])).unwrap();
        if bad != json!("AAAA") {
            assert!(bundle.x509_authorities().is_empty(), "{bad}");
        }
    }
}

#[test]
fn x509_29_missing_or_empty_x5c_entry_ignored() {
    let (bundle, diagnostics) = SpiffeBundle::parse_with_diagnostics(
        td("example.com"),
        &data("067-x509-x5c-missing-or-empty.json"),
    )
    .unwrap();
    assert!(bundle.x509_authorities().is_empty());
    let issues: Vec<_> = diagnostics.iter().map(|d| d.issue).collect();
    assert_eq!(issues, [KeyIssue::MissingX5c, KeyIssue::EmptyX5c]);
}

#[test]
fn x509_30_only_first_x5c_certificate_used() {
    let t = td("example.com");
    let bundle =
        SpiffeBundle::parse(t.clone(), &data("068-x509-x5c-two-certificates.json")).unwrap();
    assert_eq!(*bundle.x509_authorities(), roots(&t, &["p256"]));
    assert_eq!(keys_of(&bundle)[0]["x5c"].as_array().unwrap().len(), 1);
}

#[test]
fn x509_31_authorities_are_the_union_of_entries() {
    let t = td("example.com");
    let bundle = full();
    assert_eq!(
        *bundle.x509_authorities(),
        roots(&t, &["p256", "p384", "rsa"])
    );
    // The same certificate twice counts once.
    let (bundle, diagnostics) = SpiffeBundle::parse_with_diagnostics(
        t.clone(),
        doc(vec![x509_entry("p256"), x509_entry("p256")]).as_bytes(),
    )
    .unwrap();
    assert_eq!(bundle.x509_authorities().len(), 1);
    assert_eq!(diagnostics[0].issue, KeyIssue::DuplicateAuthority);
    // A bundle with only JWT keys does not support X.509-SVIDs.
    assert!(parse(&doc(vec![jwt_entry("rsa")]))
        .unwrap()
        .x509_authorities()
        .is_empty());
}

#[test]
fn jwt_16_jwt_keys_need_a_unique_kid() {
    let mut no_kid = jwt_entry("ec-p256");
    no_kid.as_object_mut().unwrap().remove("kid");
    let mut empty_kid = jwt_entry("ec-p384");
    empty_kid["kid"] = json!("");
    let (bundle, diagnostics) = SpiffeBundle::parse_with_diagnostics(
        td("example.com"),
        doc(vec![no_kid, empty_kid, jwt_entry("rsa")]).as_bytes(),
    )
    .unwrap();
    assert_eq!(bundle.jwt_authorities().len(), 1);
    assert_eq!(diagnostics.len(), 2);
    assert!(diagnostics.iter().all(|d| d.issue == KeyIssue::MissingKid));

    let mut dup = jwt_entry("ec-p384");
    dup["kid"] = json!("ec256");
    assert_eq!(
        parse(&doc(vec![jwt_entry("ec-p256"), jwt_entry("rsa"), dup])),
        Err(BundleError::DuplicateKid {
            index: 2,
            first_index: 0
        })
    );
    // Written keys carry `use` and `kid`.
    for key in keys_of(&full()).iter().filter(|k| k["use"] == "jwt-svid") {
        assert!(key["kid"].is_string());
    }
}

#[test]
fn jwt_17_only_jwt_svid_keys_are_jwt_authorities() {
    let mut sig = jwt_entry("rsa");
    sig["use"] = json!("sig");
    let bundle = parse(&doc(vec![sig, x509_entry("p256"), jwt_entry("ec-p256")])).unwrap();
    assert_eq!(bundle.jwt_authorities().len(), 1);
    assert!(bundle.jwt_authorities().get("rsa").is_none());
    assert!(bundle.jwt_authorities().get("ec256").is_some());
    let none = parse(&doc(vec![x509_entry("p256")])).unwrap();
    assert!(none.jwt_authorities().is_empty());
}
