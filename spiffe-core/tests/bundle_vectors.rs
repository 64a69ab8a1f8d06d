//! The bundle vectors of SPIFFE-CONFORMANCE §4.2 (#66-69) and §4.4 (#101-120), from
//! `tests/data/bundle/` (generator: `tests/bundle_generate.rs`), against the verdicts and
//! counts of `tests/data/bundle/expectations.json`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::path::PathBuf;

use serde_json::Value;
use spiffe_core::bundle::{BundleMap, SpiffeBundle};
use spiffe_core::TrustDomain;

fn data(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/bundle")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn bundle_vectors() {
    let table: Vec<Value> = serde_json::from_slice(&data("expectations.json")).unwrap();
    assert_eq!(table.len(), 27, "every vector is in the table");
    let td = TrustDomain::new("example.com").unwrap();
    let mut failures = Vec::new();
    for row in &table {
        let case = row["case"].as_u64().unwrap();
        let file = row["file"].as_str().unwrap();
        let req = row["req"].as_str().unwrap();
        let name = format!("#{case} {file} ({req})");
        let input = data(file);
        let count = |field: &str| row.get(field).and_then(Value::as_u64).map(|n| n as usize);

        let outcome: Result<Vec<String>, String> = match row["kind"].as_str().unwrap() {
            "bundle" => match SpiffeBundle::parse_with_diagnostics(td.clone(), &input) {
                Err(error) => Err(format!("{error:?}")),
                Ok((bundle, diagnostics)) => {
                    let mut wrong = Vec::new();
                    let skipped = diagnostics.iter().filter(|d| d.issue.skips_key()).count();
                    let checks = [
                        ("x509", bundle.x509_authorities().len()),
                        ("jwt", bundle.jwt_authorities().len()),
                        ("skipped", skipped),
                    ];
                    for (field, got) in checks {
                        if count(field) != Some(got) {
                            wrong.push(format!("{field}: got {got}, want {:?}", count(field)));
                        }
                    }
                    if let Some(want) = row.get("sequence") {
                        if bundle.sequence() != want.as_u64() {
                            wrong.push(format!("sequence: got {:?}", bundle.sequence()));
                        }
                    }
                    if let Some(want) = row.get("refresh_hint") {
                        if bundle.refresh_hint_secs() != want.as_u64() {
                            wrong.push(format!("refresh_hint: got {:?}", bundle.refresh_hint()));
                        }
                    }
                    Ok(wrong)
                }
            },
            "map" => match BundleMap::parse(&input) {
                Err(error) => Err(format!("{error:?}")),
                Ok(map) => {
                    let mut wrong = Vec::new();
                    let checks = [
                        ("trust_domains", map.len()),
                        ("x509", map.iter().map(|b| b.x509_authorities().len()).sum()),
                        ("jwt", map.iter().map(|b| b.jwt_authorities().len()).sum()),
                    ];
                    for (field, got) in checks {
                        if count(field) != Some(got) {
                            wrong.push(format!("{field}: got {got}, want {:?}", count(field)));
                        }
                    }
                    Ok(wrong)
                }
            },
            other => panic!("{name}: unknown kind {other}"),
        };

        match (row["verdict"].as_str().unwrap(), outcome) {
            ("accept", Ok(wrong)) if wrong.is_empty() => {}
            ("accept", Ok(wrong)) => failures.push(format!("{name}: {}", wrong.join("; "))),
            ("accept", Err(error)) => failures.push(format!("{name}: rejected: {error}")),
            ("reject", Ok(_)) => failures.push(format!("{name}: accepted, want reject")),
            ("reject", Err(error)) => {
                let want = row["error"].as_str().unwrap();
                if !error.starts_with(want) {
                    failures.push(format!("{name}: rejected with {error}, want {want}"));
                }
            }
            (verdict, _) => panic!("{name}: unknown verdict {verdict}"),
        }
    }
    assert!(
        failures.is_empty(),
        "vector failures:\n{}",
        failures.join("\n")
    );
}
