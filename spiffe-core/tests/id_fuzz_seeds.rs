//! The seed corpus of the `id_parse` fuzz target (`fuzz/seeds/id_parse/`) is generated from
//! `tests/data/id/vectors.json`; this test fails when the two drift apart.
//!
//! Regenerate with `SPIFFE_REGENERATE_SEEDS=1 cargo test -p spiffe-core --test id_fuzz_seeds`.

mod id_support;

use std::collections::BTreeMap;
use std::path::PathBuf;

/// `file name → contents` of the seeds the vectors define.
fn expected_seeds() -> BTreeMap<String, Vec<u8>> {
    id_support::vectors()
        .iter()
        .enumerate()
        .filter_map(|(i, v)| Some((format!("v{i:02}-case{:02}", v.case), v.text()?.into_bytes())))
        .collect()
}

fn seeds_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/id_parse")
}

#[test]
fn id_parse_seeds_match_vectors() {
    let expected = expected_seeds();
    let dir = seeds_dir();
    if std::env::var_os("SPIFFE_REGENERATE_SEEDS").is_some() {
        if dir.exists() {
            std::fs::remove_dir_all(&dir).expect("remove old seeds");
        }
        std::fs::create_dir_all(&dir).expect("create seeds dir");
        for (name, contents) in &expected {
            std::fs::write(dir.join(name), contents).expect("write seed");
        }
    }
    let mut actual = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("fuzz/seeds/id_parse exists") {
        let entry = entry.expect("read dir entry");
        let name = entry.file_name().into_string().expect("UTF-8 file name");
        actual.insert(name, std::fs::read(entry.path()).expect("read seed"));
    }
    assert!(
        expected.len() > 60,
        "every literal and generated vector is a seed"
    );
    assert!(
        actual == expected,
        "fuzz/seeds/id_parse drifted from vectors.json; regenerate with SPIFFE_REGENERATE_SEEDS=1"
    );
}
