//! Every library crate stays ready to publish: crates.io metadata, a README that is also the
//! crate documentation and shows the `Cargo.toml` line a user writes, and versioned paths
//! between the workspace's crates. (`cargo publish --dry-run` itself needs the registry and a
//! full build; see docs/index.md.)
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

const LIBRARIES: [&str; 5] = [
    "spiffe-core",
    "spiffe-ca",
    "spiffe-attest",
    "spiffe-workload",
    "spiffe-tls",
];

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_library_crate_has_its_metadata_and_readme() {
    for name in LIBRARIES {
        let dir = workspace().join(name);
        let manifest = read(dir.join("Cargo.toml"));
        let package = manifest.split("\n[").next().unwrap();
        for key in [
            "description = ",
            "readme = \"README.md\"",
            "keywords = [",
            "categories = [",
            "license.workspace = true",
            "repository.workspace = true",
        ] {
            assert!(package.contains(key), "{name}: no `{key}` in [package]");
        }
        assert!(!package.contains("publish = false"), "{name} is a library");

        let readme = read(dir.join("README.md"));
        assert!(
            readme.starts_with(&format!("# {name}\n")),
            "{name}: README title"
        );
        assert!(
            readme.contains("```toml\n[dependencies]\n")
                && readme.contains(&format!("\n{name} = ")),
            "{name}: the README shows the Cargo.toml line"
        );
        let lib = read(dir.join("src/lib.rs"));
        assert!(
            lib.starts_with("#![doc = include_str!(\"../README.md\")]\n"),
            "{name}: the README is the crate documentation"
        );
    }
}

#[test]
fn workspace_paths_between_crates_carry_versions() {
    let manifest = read(workspace().join("Cargo.toml"));
    for name in LIBRARIES {
        let line = manifest
            .lines()
            .find(|l| l.starts_with(&format!("{name} = {{")))
            .unwrap_or_else(|| panic!("{name} is not in [workspace.dependencies]"));
        assert!(
            line.contains("path = ") && line.contains("version = "),
            "{line}"
        );
    }
}
