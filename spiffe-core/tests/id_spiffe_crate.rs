//! Cross-check against an independent implementation: the `spiffe` crate (0.19) must agree
//! with this crate on every §4.1 vector, except for the divergences listed, with reasons, in
//! `tests/data/id/spiffe_crate_divergences.json`.

mod id_support;

use std::collections::BTreeMap;

use id_support::{Api, Vector, SEGMENTS_TRUST_DOMAIN};
use serde::Deserialize;

const DIVERGENCES_JSON: &str = include_str!("data/id/spiffe_crate_divergences.json");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Divergence {
    /// `Vector::label()` of the vector.
    label: String,
    /// Whether this crate accepts it.
    ours: bool,
    /// Whether the `spiffe` crate accepts it.
    theirs: bool,
    /// Why the two differ, and which one the spec sides with.
    reason: String,
}

#[derive(Deserialize)]
struct DivergenceFile {
    divergences: Vec<Divergence>,
}

/// Accepted or not, plus the trust domain (and full ID for IDs) when accepted.
fn ours(vector: &Vector) -> Result<String, ()> {
    use spiffe_core::{SpiffeId, TrustDomain};
    match vector.api {
        Api::Id => SpiffeId::new(&vector.text().ok_or(())?)
            .map(|id| id.to_string())
            .map_err(drop),
        Api::TrustDomain => TrustDomain::new(&vector.text().ok_or(())?)
            .map(|td| td.to_string())
            .map_err(drop),
        Api::Segments => {
            let td = TrustDomain::new(SEGMENTS_TRUST_DOMAIN).map_err(drop)?;
            SpiffeId::from_segments(&td, vector.segments.as_ref().ok_or(())?)
                .map(|id| id.to_string())
                .map_err(drop)
        }
    }
}

fn theirs(vector: &Vector) -> Result<String, ()> {
    use spiffe::{SpiffeId, TrustDomain};
    match vector.api {
        Api::Id => SpiffeId::new(vector.text().ok_or(())?)
            .map(|id| id.to_string())
            .map_err(drop),
        Api::TrustDomain => TrustDomain::new(vector.text().ok_or(())?)
            .map(|td| td.to_string())
            .map_err(drop),
        Api::Segments => {
            let td = TrustDomain::new(SEGMENTS_TRUST_DOMAIN).map_err(drop)?;
            let segments: Vec<&str> = vector
                .segments
                .as_ref()
                .ok_or(())?
                .iter()
                .map(String::as_str)
                .collect();
            SpiffeId::from_segments(td, &segments)
                .map(|id| id.to_string())
                .map_err(drop)
        }
    }
}

#[test]
fn spiffe_crate_agrees_except_documented_divergences() {
    let file: DivergenceFile =
        serde_json::from_str(DIVERGENCES_JSON).expect("divergences file is valid JSON");
    let expected: BTreeMap<String, (bool, bool)> = file
        .divergences
        .iter()
        .map(|d| {
            assert!(
                !d.reason.trim().is_empty(),
                "{}: divergence without a reason",
                d.label
            );
            (d.label.clone(), (d.ours, d.theirs))
        })
        .collect();
    assert_eq!(expected.len(), file.divergences.len(), "duplicate labels");

    let mut found = BTreeMap::new();
    for vector in id_support::vectors() {
        let (a, b) = (ours(&vector), theirs(&vector));
        match (&a, &b) {
            // Both accept: they must also agree on what was parsed.
            (Ok(x), Ok(y)) => assert_eq!(x, y, "{}: parsed differently", vector.label()),
            (Err(()), Err(())) => {}
            _ => {
                println!(
                    "divergence: {} ours={} theirs={}",
                    vector.label(),
                    a.is_ok(),
                    b.is_ok()
                );
                found.insert(vector.label(), (a.is_ok(), b.is_ok()));
            }
        }
    }
    assert_eq!(
        found, expected,
        "divergences from the spiffe crate changed; update spiffe_crate_divergences.json"
    );
}
