//! Every SPIFFE ID vector of the conformance checklist §4.1 (#1–#35), from
//! `tests/data/id/vectors.json`, run through this crate's constructors.

mod id_support;

use std::collections::BTreeSet;

use id_support::{Api, Vector, Verdict, SEGMENTS_TRUST_DOMAIN};
use spiffe_core::{IdError, SpiffeId, TrustDomain};

/// What a constructor produced, reduced to what the vectors assert.
enum Outcome {
    Id(SpiffeId),
    TrustDomain(TrustDomain),
    Err(IdError),
}

fn run(vector: &Vector) -> Outcome {
    match vector.api {
        Api::Id => match SpiffeId::new(&vector.text().expect("id rows have an input")) {
            Ok(id) => Outcome::Id(id),
            Err(e) => Outcome::Err(e),
        },
        Api::TrustDomain => {
            match TrustDomain::new(&vector.text().expect("trust_domain rows have an input")) {
                Ok(td) => Outcome::TrustDomain(td),
                Err(e) => Outcome::Err(e),
            }
        }
        Api::Segments => {
            let td = TrustDomain::new(SEGMENTS_TRUST_DOMAIN).expect("valid trust domain");
            let segments = vector
                .segments
                .as_ref()
                .expect("segments rows have segments");
            match SpiffeId::from_segments(&td, segments) {
                Ok(id) => Outcome::Id(id),
                Err(e) => Outcome::Err(e),
            }
        }
    }
}

/// Checks one vector; returns a description of the failure, if any.
fn check(vector: &Vector) -> Result<(), String> {
    let label = vector.label();
    match (vector.verdict, run(vector)) {
        (Verdict::Reject, Outcome::Err(e)) => {
            let want = vector
                .error
                .as_deref()
                .ok_or("reject row without `error`")?;
            if e.requirement() != want {
                return Err(format!(
                    "{label}: rejected with {} ({e}), expected {want}",
                    e.requirement()
                ));
            }
            // The message names the rule too, so a user sees which requirement broke.
            if !e.to_string().contains(want) {
                return Err(format!("{label}: message {e:?} does not name {want}"));
            }
            Ok(())
        }
        (Verdict::Reject, _) => Err(format!("{label}: accepted, expected a reject")),
        (Verdict::Accept, Outcome::Err(e)) => Err(format!("{label}: rejected with {e}")),
        (Verdict::Accept, Outcome::Id(id)) => {
            if let Some(text) = vector.text() {
                if id.as_str() != text || id.to_string() != text {
                    return Err(format!("{label}: displays as {id}"));
                }
            }
            if let Some(td) = &vector.trust_domain {
                if id.trust_domain().as_str() != td || id.trust_domain_name() != td {
                    return Err(format!("{label}: trust domain {}", id.trust_domain()));
                }
            }
            if let Some(path) = &vector.path {
                if id.path() != path {
                    return Err(format!("{label}: path {:?}", id.path()));
                }
                if id.has_path() == path.is_empty() {
                    return Err(format!("{label}: has_path() disagrees with the path"));
                }
            }
            if let Some(other) = &vector.not_equal {
                let other = SpiffeId::new(other).map_err(|e| format!("{label}: {other}: {e}"))?;
                if other == id {
                    return Err(format!("{label}: equal to {other}"));
                }
            }
            if let Some(id_support::Generate::IdLen(len)) = vector.generate {
                if id.as_str().len() != len {
                    return Err(format!("{label}: length {}", id.as_str().len()));
                }
            }
            Ok(())
        }
        (Verdict::Accept, Outcome::TrustDomain(td)) => {
            if let Some(want) = &vector.trust_domain {
                if td.as_str() != want {
                    return Err(format!("{label}: trust domain {td}"));
                }
            }
            if td.id().as_str() != format!("spiffe://{}", td.as_str()) {
                return Err(format!("{label}: id() is {}", td.id()));
            }
            Ok(())
        }
    }
}

#[test]
fn conformance_vectors_4_1() {
    let vectors = id_support::vectors();

    // Every row #1..#35 of §4.1 is present.
    let cases: BTreeSet<u32> = vectors.iter().map(|v| v.case).collect();
    assert_eq!(
        cases,
        (1..=35).collect::<BTreeSet<u32>>(),
        "missing §4.1 rows"
    );

    let failures: Vec<String> = vectors.iter().filter_map(|v| check(v).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed:\n{}",
        failures.len(),
        vectors.len(),
        failures.join("\n")
    );
}

#[test]
fn generated_inputs_have_their_lengths() {
    // The generators themselves, so #30/#32/#33 test what they claim.
    assert_eq!(id_support::id_of_len(2048).len(), 2048);
    assert_eq!(id_support::id_of_len(2049).len(), 2049);
    for len in [22, 23, 84, 85, 86, 2048] {
        let id = id_support::id_of_len(len);
        assert_eq!(id.len(), len);
        assert!(
            SpiffeId::new(&id).is_ok(),
            "{len}-byte generated ID must be valid"
        );
    }
    assert_eq!(id_support::trust_domain_of_len(255).len(), 255);
    assert_eq!(id_support::trust_domain_of_len(256).len(), 256);
}
