//! `check-external-types`: fails when a library crate's public API names a type of a crate
//! that is not std, rustls-pki-types, one of ours or one of the crate's declared exceptions.
//!
//! ```text
//! cargo run -p check-external-types [-- CRATE...]
//! ```
//!
//! Without arguments it checks the five library crates. Each crate's exceptions are listed in
//! its `Cargo.toml`, in the key `cargo-check-external-types` reads:
//!
//! ```toml
//! [package.metadata.cargo_check_external_types]
//! allowed_external_types = ["rustls::*"]
//! ```
//!
//! rustdoc's JSON output is unstable; `RUSTC_BOOTSTRAP=1` lets the stable toolchain write it
//! (into the workspace's target directory, `doc/<crate>.json`).

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use check_external_types::{check, Allowed};
use serde_json::Value;

/// The library crates whose public APIs are checked.
const LIBRARIES: [&str; 5] = [
    "spiffe-core",
    "spiffe-ca",
    "spiffe-attest",
    "spiffe-workload",
    "spiffe-tls",
];

/// Allowed in every library's public API: the project's vocabulary (ARCHITECTURE.md).
const ALLOWED_EVERYWHERE: [&str; 1] = ["rustls_pki_types::*"];

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("check-external-types: {error}");
            ExitCode::from(2)
        }
    }
}

type Error = Box<dyn std::error::Error>;

/// Checks the crates; `Ok(false)` when any public API names a type it may not.
fn run() -> Result<bool, Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let crates: Vec<String> = if args.is_empty() {
        LIBRARIES.iter().map(|c| (*c).to_owned()).collect()
    } else {
        args
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| String::from("cargo"));
    let metadata = cargo_metadata(&cargo)?;
    let target_dir = PathBuf::from(
        metadata["target_directory"]
            .as_str()
            .ok_or("cargo metadata: no target_directory")?,
    );
    let packages = metadata["packages"]
        .as_array()
        .ok_or("cargo metadata: no packages")?;
    let own: Vec<String> = packages
        .iter()
        .filter_map(|p| p["name"].as_str())
        .map(|name| name.replace('-', "_"))
        .collect();

    let mut clean = true;
    for name in &crates {
        let package = packages
            .iter()
            .find(|p| p["name"].as_str() == Some(name))
            .ok_or_else(|| format!("no package `{name}` in the workspace"))?;
        let mut patterns: Vec<String> =
            ALLOWED_EVERYWHERE.iter().map(|p| (*p).to_owned()).collect();
        if let Some(list) =
            package["metadata"]["cargo_check_external_types"]["allowed_external_types"].as_array()
        {
            patterns.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        let allowed = Allowed::new(own.iter().cloned(), patterns);

        let status = Command::new(&cargo)
            .args(["rustdoc", "--quiet", "--lib", "--all-features", "-p", name])
            .args(["--", "-Z", "unstable-options", "--output-format", "json"])
            .env("RUSTC_BOOTSTRAP", "1")
            .status()?;
        if !status.success() {
            return Err(format!("cargo rustdoc -p {name} failed ({status})").into());
        }
        let json_path = target_dir
            .join("doc")
            .join(format!("{}.json", name.replace('-', "_")));
        let doc: Value = serde_json::from_slice(&std::fs::read(&json_path)?)?;
        let violations = check(&doc, &allowed)?;
        if violations.is_empty() {
            println!("{name}: public API names only allowed external types");
        } else {
            clean = false;
            println!(
                "{name}: {} external types in the public API:",
                violations.len()
            );
            for v in &violations {
                println!("  {v}");
            }
        }
    }
    Ok(clean)
}

fn cargo_metadata(cargo: &str) -> Result<Value, Error> {
    let output = Command::new(cargo)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()?;
    if !output.status.success() {
        return Err(format!("cargo metadata failed ({})", output.status).into());
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}
