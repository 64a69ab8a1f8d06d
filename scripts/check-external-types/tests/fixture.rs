//! The checker on a crate written to break the rule: rustdoc JSON of a fixture that names
//! another crate's types in every position, built with the installed rustc and rustdoc.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::process::Command;

use check_external_types::{check, Allowed};
use serde_json::Value;

const FOREIGN: &str = r#"
pub struct Foreign;
pub struct Permitted;
pub trait ForeignTrait {}
pub mod deep { pub struct Nested; }
"#;

const FIXTURE: &str = r#"
//! A crate that leaks `foreign` through each kind of public item.
pub use foreign::deep::Nested;
pub struct Ours;
pub struct Field { pub f: foreign::Foreign, private: foreign::Foreign }
pub fn returns() -> Option<foreign::Foreign> { None }
pub fn takes(_: &dyn foreign::ForeignTrait) {}
pub fn bound<T: foreign::ForeignTrait>(_: T) {}
pub fn permitted() -> foreign::Permitted { foreign::Permitted }
pub fn clean(_: String, _: Vec<Ours>) -> Box<dyn std::error::Error + Send + Sync> { todo!() }
pub type Alias = foreign::Foreign;
impl foreign::ForeignTrait for Ours {}
pub enum E { V(foreign::Foreign) }
fn private_fn() -> foreign::Foreign { foreign::Foreign }
mod private { pub(crate) fn hidden() -> foreign::Foreign { foreign::Foreign } }
"#;

fn run(cmd: &mut Command) {
    let status = cmd.status().expect("rustc/rustdoc run");
    assert!(status.success(), "{cmd:?} failed");
}

fn rustdoc_json(dir: &Path) -> Value {
    std::fs::write(dir.join("foreign.rs"), FOREIGN).unwrap();
    std::fs::write(dir.join("fixture.rs"), FIXTURE).unwrap();
    run(Command::new("rustc")
        .args([
            "--edition",
            "2021",
            "--crate-type",
            "lib",
            "--crate-name",
            "foreign",
        ])
        .arg("--out-dir")
        .arg(dir)
        .arg(dir.join("foreign.rs")));
    run(
        Command::new(std::env::var("RUSTDOC").unwrap_or_else(|_| "rustdoc".into()))
            .env("RUSTC_BOOTSTRAP", "1")
            .args([
                "--edition",
                "2021",
                "--crate-type",
                "lib",
                "--crate-name",
                "fixture",
            ])
            .args(["-Z", "unstable-options", "--output-format", "json"])
            .arg("--extern")
            .arg(format!("foreign={}", dir.join("libforeign.rlib").display()))
            .arg("-o")
            .arg(dir)
            .arg(dir.join("fixture.rs")),
    );
    serde_json::from_slice(&std::fs::read(dir.join("fixture.json")).unwrap()).unwrap()
}

#[test]
fn finds_every_leak_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let doc = rustdoc_json(dir.path());
    let allowed = Allowed::new(["fixture"], ["foreign::Permitted"]);
    let found: Vec<(String, String)> = check(&doc, &allowed)
        .unwrap()
        .into_iter()
        .map(|v| (v.item, v.external))
        .collect();
    // Not reported: `clean` (std only), `permitted` (allowed by an exact pattern), the private
    // field, the private fn and the pub(crate) fn.
    let expected = [
        ("function `bound`", "foreign::ForeignTrait"),
        ("function `returns`", "foreign::Foreign"),
        ("function `takes`", "foreign::ForeignTrait"),
        ("impl `ForeignTrait` for `Ours`", "foreign::ForeignTrait"),
        ("struct_field `0`", "foreign::Foreign"),
        ("struct_field `f`", "foreign::Foreign"),
        ("type_alias `Alias`", "foreign::Foreign"),
        ("use `Nested`", "foreign::deep::Nested"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(i, e)| ((*i).to_owned(), (*e).to_owned()))
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn allowing_the_crate_clears_it() {
    let dir = tempfile::tempdir().unwrap();
    let doc = rustdoc_json(dir.path());
    let allowed = Allowed::new(["fixture"], ["foreign::*"]);
    assert_eq!(check(&doc, &allowed).unwrap(), vec![]);
}
