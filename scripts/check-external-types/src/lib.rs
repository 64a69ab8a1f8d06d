//! Finds the types of other crates in a crate's public API, from rustdoc's JSON output.
//!
//! rustls runs `cargo-check-external-types` for this, which needs a pinned nightly toolchain;
//! this reads the JSON that the stable toolchain's rustdoc writes with `RUSTC_BOOTSTRAP=1`
//! (`-Z unstable-options --output-format json`). The JSON is walked as plain
//! `serde_json::Value`s, so no `rustdoc-types` version has to match the compiler; the format
//! versions this was written against are [`FORMAT_VERSIONS`], and the fixture test in
//! `tests/` fails if a new format stops it from seeing a violation.
//!
//! What counts as the public API: every item rustdoc documents (it strips private items),
//! including trait impls on our types (`impl From<serde_json::Error> for OurError` exposes
//! `serde_json`), but not the impls rustdoc synthesizes (auto traits) or blanket impls of
//! other crates (`impl<T> Instrument for T`). Every path a signature, field, bound, alias or
//! re-export names is resolved to its crate; std, core, alloc, our own crates and the allowed
//! patterns pass, anything else is a [`Violation`].

use std::collections::BTreeSet;
use std::fmt;

use serde_json::{Map, Value};

/// The rustdoc JSON format versions this reader has been checked against.
pub const FORMAT_VERSIONS: std::ops::RangeInclusive<u64> = 50..=60;

/// Crates every public API may name.
const ALWAYS_ALLOWED: [&str; 3] = ["std", "core", "alloc"];

/// One external type (or trait, or re-exported item) named by a public item.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Violation {
    /// Where: the public item's name and kind, e.g. `fn jwk`.
    pub item: String,
    /// The source location `file:line` of the item.
    pub location: String,
    /// The external path, e.g. `serde_json::map::Map`.
    pub external: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} names `{}`",
            self.location, self.item, self.external
        )
    }
}

/// Why a JSON document could not be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckError {
    /// The document is not rustdoc JSON (a member is missing or has the wrong type).
    NotRustdocJson(&'static str),
    /// The format version is one this reader was not checked against.
    UnknownFormat(u64),
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotRustdocJson(what) => write!(f, "not rustdoc JSON: {what}"),
            Self::UnknownFormat(v) => write!(
                f,
                "rustdoc JSON format {v} is outside the checked range {}..={}; check the \
                 fixture test still finds its violation, then widen FORMAT_VERSIONS",
                FORMAT_VERSIONS.start(),
                FORMAT_VERSIONS.end()
            ),
        }
    }
}

impl std::error::Error for CheckError {}

/// Which external crates and paths a crate's public API may name.
#[derive(Debug, Clone, Default)]
pub struct Allowed {
    crates: BTreeSet<String>,
    patterns: Vec<String>,
}

impl Allowed {
    /// Our own crates (by crate name, `spiffe_core`) plus `patterns`: an exact path
    /// (`rustls::ServerConfig`) or a prefix ending in `::*` (`rustls_pki_types::*`).
    pub fn new<I, P>(own_crates: I, patterns: P) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
        P: IntoIterator,
        P::Item: Into<String>,
    {
        Self {
            crates: own_crates.into_iter().map(Into::into).collect(),
            patterns: patterns.into_iter().map(Into::into).collect(),
        }
    }

    fn allows(&self, krate: &str, path: &str) -> bool {
        ALWAYS_ALLOWED.contains(&krate)
            || self.crates.contains(krate)
            || self.patterns.iter().any(|p| match p.strip_suffix("::*") {
                // `krate::*` covers the crate itself (a `pub use krate as name`) and all below.
                Some(prefix) => {
                    path == prefix
                        || path
                            .strip_prefix(prefix)
                            .is_some_and(|r| r.starts_with("::"))
                }
                None => path == p,
            })
    }
}

/// Every violation in one crate's rustdoc JSON, sorted and without duplicates.
pub fn check(doc: &Value, allowed: &Allowed) -> Result<Vec<Violation>, CheckError> {
    let version = doc
        .get("format_version")
        .and_then(Value::as_u64)
        .ok_or(CheckError::NotRustdocJson("format_version"))?;
    if !FORMAT_VERSIONS.contains(&version) {
        return Err(CheckError::UnknownFormat(version));
    }
    let index = object(doc, "index")?;
    let paths = object(doc, "paths")?;
    let crates = object(doc, "external_crates")?;
    let resolve = |id: &Value| -> Option<(String, String)> {
        let entry = paths.get(&id_key(id)?)?;
        let crate_id = entry.get("crate_id")?.as_u64()?;
        let path: Vec<&str> = entry
            .get("path")?
            .as_array()?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let krate = if crate_id == 0 {
            return None; // our own crate
        } else {
            crates.get(&crate_id.to_string())?.get("name")?.as_str()?
        };
        Some((krate.to_owned(), path.join("::")))
    };

    let mut found = BTreeSet::new();
    for item in index.values() {
        if item.get("crate_id").and_then(Value::as_u64) != Some(0) || !is_exposed(item) {
            continue;
        }
        let Some(inner) = item.get("inner").and_then(Value::as_object) else {
            continue;
        };
        if let Some(imp) = inner.get("impl") {
            let synthetic = imp.get("is_synthetic").and_then(Value::as_bool) == Some(true);
            let blanket = imp.get("blanket_impl").is_some_and(|b| !b.is_null());
            if synthetic || blanket {
                continue;
            }
        }
        let mut named = Vec::new();
        if let Some(use_) = inner.get("use") {
            // A re-export: `pub use other_crate::Thing`.
            if let Some(id) = use_.get("id") {
                named.push(id.clone());
            }
        } else {
            collect_path_ids(&Value::Object(inner.clone()), &mut named);
        }
        for id in named {
            let Some((krate, path)) = resolve(&id) else {
                continue;
            };
            if !allowed.allows(&krate, &path) {
                found.insert(Violation {
                    item: describe(item, inner),
                    location: location(item),
                    external: path,
                });
            }
        }
    }
    Ok(found.into_iter().collect())
}

fn object<'a>(doc: &'a Value, member: &'static str) -> Result<&'a Map<String, Value>, CheckError> {
    doc.get(member)
        .and_then(Value::as_object)
        .ok_or(CheckError::NotRustdocJson(member))
}

fn id_key(id: &Value) -> Option<String> {
    match id {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// Public items, and the members of impls and traits (whose visibility is `default`).
fn is_exposed(item: &Value) -> bool {
    matches!(
        item.get("visibility").and_then(Value::as_str),
        Some("public") | Some("default")
    )
}

/// The ids of every path (`{"path": …, "id": …, "args": …}`) under `value`: types, traits in
/// bounds and impls, and `dyn` traits.
fn collect_path_ids(value: &Value, out: &mut Vec<Value>) {
    match value {
        Value::Object(map) => {
            if map.contains_key("path") && map.contains_key("args") {
                if let Some(id) = map.get("id") {
                    out.push(id.clone());
                }
            }
            for (key, child) in map {
                // Item ids of members (fields, variants, impl items) are visited as items of
                // their own; only paths are resolved here.
                if matches!(
                    key.as_str(),
                    "impls" | "implementations" | "items" | "fields" | "variants"
                ) {
                    continue;
                }
                collect_path_ids(child, out);
            }
        }
        Value::Array(values) => values.iter().for_each(|v| collect_path_ids(v, out)),
        _ => {}
    }
}

fn describe(item: &Value, inner: &Map<String, Value>) -> String {
    let kind = inner.keys().next().map(String::as_str).unwrap_or("item");
    if let Some(imp) = inner.get("impl") {
        let name = |v: Option<&Value>| {
            v.and_then(|t| t.get("path"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let for_ = name(imp.get("for").and_then(|t| t.get("resolved_path")));
        return match (name(imp.get("trait")), for_) {
            (Some(t), Some(f)) => format!("impl `{t}` for `{f}`"),
            (None, Some(f)) => format!("impl `{f}`"),
            _ => String::from("impl"),
        };
    }
    let name = item
        .get("name")
        .and_then(Value::as_str)
        .or_else(|| inner.get("use")?.get("name")?.as_str());
    match name {
        Some(name) => format!("{kind} `{name}`"),
        None => kind.to_owned(),
    }
}

fn location(item: &Value) -> String {
    let Some(span) = item.get("span").filter(|s| !s.is_null()) else {
        return String::from("<no span>");
    };
    let file = span.get("filename").and_then(Value::as_str).unwrap_or("?");
    let line = span
        .get("begin")
        .and_then(|b| b.get(0))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    format!("{file}:{line}")
}
