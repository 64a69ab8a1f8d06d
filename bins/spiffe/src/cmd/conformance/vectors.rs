//! The portable vector suite: spiffe-core's checked-in vectors (`spiffe-core/tests/data/`,
//! each directory with its generator) turned into self-contained JSON objects, one per line,
//! each with its expected verdict and requirement ids. `docs/conformance.md` documents the
//! format; [`FORMAT`] names its version.
//!
//! Kinds (`kind`) and their `input`:
//! - `spiffe-id`: `{"id"}` parsed as a SPIFFE ID (ID-*).
//! - `trust-domain`: `{"trust_domain"}` parsed as a trust-domain name, a `spiffe://` ID
//!   giving its trust domain (ID-*).
//! - `x509-verify`: `{"chain_pem", "bundles": {td: pem}, "time"}`: a peer's chain verified
//!   against per-trust-domain bundles at a Unix time (X509-*, WAPI-11).
//! - `x509-svid`: `{"chain_pem", "key_pem"}`: an SVID held by a workload, issuance rules and
//!   key match included (X509-*, WAPI-13/14).
//! - `jwt-svid`: `{"token", "audience", "now", "leeway", "bundles": {td: jwks}}` (JWT-*).
//! - `bundle`: `{"trust_domain", "document"}`: a SPIFFE bundle document (BUNDLE-*, X509-27..31).
//! - `bundle-map`: `{"document"}`: a SPIFFE Bundle Map (BUNDLE-14..16).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::output::{Answer, Failure, Output};

include!(concat!(env!("OUT_DIR"), "/vector_files.rs"));

/// The version of the vector format, in every exported line.
pub(super) const FORMAT: &str = "spiffe-conformance-vectors/1";

/// Arguments of `vectors export`.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// The directory to write `vectors.jsonl` and `README.md` into (created if missing).
    dir: PathBuf,
}

/// The answer of `vectors export`.
#[derive(Debug, Serialize)]
struct Exported {
    valid: bool,
    file: PathBuf,
    vectors: usize,
    kinds: BTreeMap<String, usize>,
}

impl Answer for Exported {
    fn is_valid(&self) -> bool {
        self.valid
    }

    fn write_human(&self, w: &mut dyn Write) -> io::Result<()> {
        let kinds: Vec<String> = self.kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
        write!(
            w,
            "wrote {} vectors to {} ({})",
            self.vectors,
            self.file.display(),
            kinds.join(", ")
        )
    }
}

/// Writes the suite into `args.dir`.
pub(crate) fn export<W: Write>(args: &ExportArgs, out: &mut Output<W>) -> Result<(), Failure> {
    let vectors = all()?;
    std::fs::create_dir_all(&args.dir)
        .map_err(crate::cmd::ca::file_error(&args.dir, "creating"))?;
    let mut text = String::new();
    let mut kinds = BTreeMap::new();
    for v in &vectors {
        *kinds
            .entry(v["kind"].as_str().unwrap_or_default().to_owned())
            .or_insert(0) += 1;
        text.push_str(&v.to_string());
        text.push('\n');
    }
    let file = args.dir.join("vectors.jsonl");
    crate::input::write_output(&file, text.as_bytes())?;
    crate::input::write_output(&args.dir.join("README.md"), README.as_bytes())?;
    out.answer(&Exported {
        valid: true,
        file,
        vectors: vectors.len(),
        kinds,
    })
}

/// What `README.md` in an exported directory says.
const README: &str = "# SPIFFE conformance vectors\n\n\
`vectors.jsonl` holds one JSON object per line: `format`, `id` (unique), `kind`, \
`requirements` (ids of SPIFFE-CONFORMANCE.md), `expect` (`accept` or `reject`), `reason` \
(the reference implementation's error name, informative), `description`, `input` (by kind) and, \
for some accepted vectors, `expected` (values an implementation may compare).\n\n\
Exported by `spiffe conformance vectors export`; run them with \
`spiffe conformance vectors run -- YOUR-ADAPTER`. The kinds, inputs and the adapter protocol \
are documented in docs/conformance.md (\"Testing another implementation\").\n";

/// One embedded file.
fn file(path: &str) -> Result<&'static [u8], Failure> {
    VECTOR_FILES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, bytes)| *bytes)
        .ok_or_else(|| Failure::Input {
            what: format!("embedded vector file `{path}`"),
            error: "missing from the build".into(),
        })
}

fn text(path: &str) -> Result<String, Failure> {
    String::from_utf8(file(path)?.to_vec()).map_err(|e| Failure::Input {
        what: format!("embedded vector file `{path}`"),
        error: Box::new(e),
    })
}

fn json_file(path: &str) -> Result<Value, Failure> {
    serde_json::from_slice(file(path)?).map_err(|e| Failure::Input {
        what: format!("embedded vector file `{path}`"),
        error: Box::new(e),
    })
}

/// `X509-2/25` → `["X509-2", "X509-25"]`; `WAPI-11/X509-20` → both; ranges (`X509-1..25`)
/// stay as written.
pub(super) fn requirement_ids(req: &str) -> Vec<String> {
    let mut prefix = String::new();
    req.split('/')
        .map(|part| match part.rfind('-') {
            Some(dash) if part[..dash].chars().all(|c| c.is_ascii_alphanumeric()) && dash > 0 => {
                prefix = part[..=dash].to_owned();
                part.to_owned()
            }
            _ => format!("{prefix}{part}"),
        })
        .collect()
}

fn vector(
    id: String,
    kind: &str,
    req: &str,
    expect: &str,
    description: String,
    input: Value,
) -> Map<String, Value> {
    let (verdict, reason) = if expect == "accept" {
        ("accept", Value::Null)
    } else {
        ("reject", Value::String(expect.to_owned()))
    };
    let mut v = Map::new();
    v.insert("format".into(), FORMAT.into());
    v.insert("id".into(), id.into());
    v.insert("kind".into(), kind.into());
    v.insert("requirements".into(), json!(requirement_ids(req)));
    v.insert("expect".into(), verdict.into());
    if !reason.is_null() {
        v.insert("reason".into(), reason);
    }
    v.insert("description".into(), description.into());
    v.insert("input".into(), input);
    v
}

/// Every vector, in a stable order: IDs, X.509, JWT, bundles.
pub(super) fn all() -> Result<Vec<Value>, Failure> {
    let mut out = Vec::new();
    id_vectors(&mut out)?;
    x509_vectors(&mut out)?;
    jwt_vectors(&mut out)?;
    bundle_vectors(&mut out)?;
    Ok(out)
}

fn id_vectors(out: &mut Vec<Value>) -> Result<(), Failure> {
    let table = json_file("id/vectors.json")?;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for row in table["vectors"].as_array().into_iter().flatten() {
        let api = row["api"].as_str().unwrap_or("id");
        let kind = match api {
            "id" => "spiffe-id",
            "trust_domain" => "trust-domain",
            _ => continue, // `segments` tests a builder API, not an input format
        };
        let input = match (row["input"].as_str(), &row["generate"]) {
            (Some(input), _) => input.to_owned(),
            (None, generate) => {
                if let Some(len) = generate["id_len"].as_u64() {
                    id_of_len(len as usize)
                } else if let Some(len) = generate["trust_domain_len"].as_u64() {
                    let name = trust_domain_of_len(len as usize);
                    if api == "id" {
                        format!("spiffe://{name}/a")
                    } else {
                        name
                    }
                } else {
                    continue;
                }
            }
        };
        let case = row["case"].as_u64().unwrap_or_default();
        let n = seen.entry(format!("{kind}/{case}")).or_insert(0);
        *n += 1;
        let id = format!(
            "{kind}/{case}{}",
            if *n > 1 {
                format!("-{n}")
            } else {
                String::new()
            }
        );
        let verdict = row["verdict"].as_str().unwrap_or("reject");
        let expect = if verdict == "accept" {
            "accept".to_owned()
        } else {
            row["error"].as_str().unwrap_or("reject").to_owned()
        };
        let field = if kind == "spiffe-id" {
            "id"
        } else {
            "trust_domain"
        };
        let shown: String = if input.len() > 80 {
            format!("<{}-byte input>", input.len())
        } else {
            format!("{input:?}")
        };
        let mut v = vector(
            id,
            kind,
            row["requirement"].as_str().unwrap_or(""),
            &expect,
            format!("SPIFFE-CONFORMANCE #{case}: {shown}"),
            json!({ field: input }),
        );
        if verdict == "accept" {
            let mut expected = Map::new();
            for key in ["trust_domain", "path"] {
                if let Some(value) = row.get(key) {
                    expected.insert(key.into(), value.clone());
                }
            }
            if !expected.is_empty() {
                v.insert("expected".into(), Value::Object(expected));
            }
        }
        out.push(Value::Object(v));
    }
    Ok(())
}

fn x509_vectors(out: &mut Vec<Value>) -> Result<(), Failure> {
    let table = json_file("x509/vectors.json")?;
    for row in table["vectors"].as_array().into_iter().flatten() {
        let id = row["id"].as_str().unwrap_or_default();
        let req = row["req"].as_str().unwrap_or_default();
        let description = format!(
            "SPIFFE-CONFORMANCE #{id}: {}",
            row["case"].as_str().unwrap_or_default()
        );
        let chain = text(&format!(
            "x509/{}",
            row["chain"].as_str().unwrap_or_default()
        ))?;
        let verify = row["verify"].as_str().unwrap_or("skip");
        if verify != "skip" {
            let mut bundles = Map::new();
            for (td, files) in row["bundles"].as_object().into_iter().flatten() {
                let names: Vec<&str> = match files {
                    Value::String(s) => vec![s.as_str()],
                    Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                    _ => Vec::new(),
                };
                let mut pem = String::new();
                for name in names {
                    pem.push_str(&text(&format!("x509/{name}"))?);
                }
                bundles.insert(td.clone(), pem.into());
            }
            let input = json!({ "chain_pem": chain, "bundles": bundles, "time": row["time"] });
            out.push(Value::Object(vector(
                format!("x509-verify/{id}"),
                "x509-verify",
                req,
                verify,
                description.clone(),
                input,
            )));
        }
        let svid = row["svid"].as_str().unwrap_or("skip");
        if svid != "skip" {
            let key = text(&format!("x509/{}", row["key"].as_str().unwrap_or_default()))?;
            let input = json!({ "chain_pem": chain, "key_pem": key });
            out.push(Value::Object(vector(
                format!("x509-svid/{id}"),
                "x509-svid",
                req,
                svid,
                description,
                input,
            )));
        }
    }
    Ok(())
}

fn jwt_vectors(out: &mut Vec<Value>) -> Result<(), Failure> {
    let table = json_file("jwt/vectors.json")?;
    let mut bundles = Map::new();
    for (td, name) in table["bundles"].as_object().into_iter().flatten() {
        bundles.insert(
            td.clone(),
            json_file(&format!("jwt/{}", name.as_str().unwrap_or_default()))?,
        );
    }
    for row in table["cases"].as_array().into_iter().flatten() {
        let id = row["id"].as_str().unwrap_or_default();
        let input = json!({
            "token": row["token"],
            "audience": row["audience"],
            "now": table["now"],
            "leeway": row["leeway"],
            "bundles": bundles,
        });
        let description = format!(
            "SPIFFE-CONFORMANCE #{id}: {}",
            row["desc"].as_str().unwrap_or_default()
        );
        let mut v = vector(
            format!("jwt-svid/{id}"),
            "jwt-svid",
            row["req"].as_str().unwrap_or_default(),
            row["expect"].as_str().unwrap_or("reject"),
            description,
            input,
        );
        if !row["expected"].is_null() {
            v.insert("expected".into(), row["expected"].clone());
        }
        out.push(Value::Object(v));
    }
    Ok(())
}

fn bundle_vectors(out: &mut Vec<Value>) -> Result<(), Failure> {
    let table = json_file("bundle/expectations.json")?;
    for row in table.as_array().into_iter().flatten() {
        let name = row["file"].as_str().unwrap_or_default();
        let document = text(&format!("bundle/{name}"))?;
        let stem = name.trim_end_matches(".json");
        let (kind, input, expected) = if row["kind"] == "map" {
            (
                "bundle-map",
                json!({ "document": document }),
                json!({ "trust_domains": row["trust_domains"] }),
            )
        } else {
            (
                "bundle",
                json!({ "trust_domain": "example.com", "document": document }),
                json!({ "x509_authorities": row["x509"], "jwt_authorities": row["jwt"] }),
            )
        };
        let verdict = row["verdict"].as_str().unwrap_or("reject");
        let expect = if verdict == "accept" {
            "accept"
        } else {
            row["error"].as_str().unwrap_or("reject")
        };
        let mut v = vector(
            format!("{kind}/{stem}"),
            kind,
            row["req"].as_str().unwrap_or_default(),
            expect,
            format!("SPIFFE-CONFORMANCE #{}: {name}", row["case"]),
            input,
        );
        if verdict == "accept" {
            v.insert("expected".into(), expected);
        }
        out.push(Value::Object(v));
    }
    Ok(())
}

/// A valid SPIFFE ID of exactly `len` bytes (as spiffe-core's `tests/id_support` builds it).
fn id_of_len(len: usize) -> String {
    let mut id = String::from("spiffe://example.org");
    while id.len() < len {
        id.push('/');
        let room = len - id.len();
        // Never leave exactly one byte, which could only be an empty segment after a `/`.
        let take = if room > 64 { 63.min(room - 2) } else { room };
        id.extend(std::iter::repeat_n('a', take));
    }
    id
}

/// A trust-domain name of exactly `len` bytes using every allowed character class.
fn trust_domain_of_len(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-_.";
    (0..len)
        .map(|i| ALPHABET[i % ALPHABET.len()] as char)
        .collect()
}
