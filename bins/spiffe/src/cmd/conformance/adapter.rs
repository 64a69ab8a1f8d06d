//! `spiffe conformance vectors adapter`: the reference adapter. Reads vectors (one JSON object
//! per line, as `vectors export` writes them) on stdin and answers each with this
//! implementation's verdict on stdout, one JSON object per line, in order:
//!
//! ```text
//! {"id": "<vector id>", "verdict": "accept" | "reject" | "unsupported",
//!  "detail": "<why, optional>", "values": {<optional: fields of the vector's `expected`>}}
//! ```
//!
//! It is what `vectors run` is tested with, and a model for adapters of other implementations.

use std::io::{self, BufRead, Read, Write};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use serde_json::{json, Map, Value};
use spiffe_core::bundle::{BundleMap, SpiffeBundle};
use spiffe_core::jwt::{JwtSvid, JwtValidationOptions};
use spiffe_core::pki_types::pem::PemObject;
use spiffe_core::pki_types::{CertificateDer, UnixTime};
use spiffe_core::x509::{self, parse_certificates, X509VerifyOptions};
use spiffe_core::{BundleSet, JwtBundle, SpiffeId, TrustDomain, X509Bundle, X509Svid};

use crate::output::{error_code, Failure};

/// The longest vector line read (a JWT vector with its RSA bundles is about 10 KiB).
const MAX_LINE: usize = 1 << 20;

/// Arguments of `vectors adapter`.
#[derive(Debug, Args)]
pub(crate) struct AdapterArgs {
    /// Verify peer chains as go-spiffe's `x509svid.Verify` does, accepting leaves without
    /// digitalSignature (X509-17, vector #48); a deliberate deviation that `vectors run`
    /// reports as exactly that vector failing.
    #[arg(long)]
    allow_leaf_without_digital_signature: bool,
}

/// Answers every vector on stdin until it closes.
pub(crate) fn serve(args: &AdapterArgs) -> Result<(), Failure> {
    let mut stdin = io::stdin().lock();
    let mut stdout = io::stdout().lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        // At most MAX_LINE + 1 bytes of a line are held; the rest of a longer one is skipped.
        let read = (&mut stdin)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(Failure::io("reading stdin"))?;
        if read == 0 {
            return Ok(());
        }
        let answer = if line.len() > MAX_LINE {
            if !line.ends_with(b"\n") {
                skip_line(&mut stdin)?;
            }
            json!({"id": null, "verdict": "unsupported", "detail": "line too long"})
        } else if line.trim_ascii().is_empty() {
            continue;
        } else {
            match serde_json::from_slice::<Value>(&line) {
                Ok(vector) => answer(args, &vector),
                Err(e) => {
                    json!({"id": null, "verdict": "unsupported", "detail": format!("not JSON: {e}")})
                }
            }
        };
        writeln!(stdout, "{answer}").map_err(Failure::io("writing stdout"))?;
        // Each answer goes out before the next vector is read (the runner waits for it).
        stdout.flush().map_err(Failure::io("writing stdout"))?;
    }
}

/// Discards input up to and including the next newline.
fn skip_line(input: &mut impl BufRead) -> Result<(), Failure> {
    loop {
        let buf = input.fill_buf().map_err(Failure::io("reading stdin"))?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(end) => {
                input.consume(end + 1);
                return Ok(());
            }
            None => {
                let n = buf.len();
                input.consume(n);
            }
        }
    }
}

/// This implementation's verdict on one vector.
fn answer(args: &AdapterArgs, vector: &Value) -> Value {
    let input = &vector["input"];
    let s = |key: &str| input[key].as_str().unwrap_or_default();
    let verdict: Result<Map<String, Value>, String> = match vector["kind"]
        .as_str()
        .unwrap_or_default()
    {
        "spiffe-id" => SpiffeId::new(s("id"))
            .map(|id| id_values(&id))
            .map_err(|e| e.to_string()),
        "trust-domain" => TrustDomain::new(s("trust_domain"))
            .map(|td| values([("trust_domain", json!(td.as_str()))]))
            .map_err(|e| e.to_string()),
        "x509-verify" => x509_verify(args, input),
        "x509-svid" => X509Svid::parse_pem(s("chain_pem").as_bytes(), s("key_pem").as_bytes())
            .map(|_| Map::new())
            .map_err(|e| code(&e)),
        "jwt-svid" => jwt(input),
        "bundle" => TrustDomain::new(s("trust_domain"))
            .map_err(|e| e.to_string())
            .and_then(|td| SpiffeBundle::parse(td, s("document").as_bytes()).map_err(|e| code(&e)))
            .map(|b| {
                values([
                    ("x509_authorities", json!(b.x509_authorities().len())),
                    ("jwt_authorities", json!(b.jwt_authorities().len())),
                ])
            }),
        "bundle-map" => BundleMap::parse(s("document").as_bytes())
            .map(|m| values([("trust_domains", json!(m.len()))]))
            .map_err(|e| code(&e)),
        other => {
            return json!({"id": vector["id"], "verdict": "unsupported", "detail": format!("unknown kind `{other}`")});
        }
    };
    match verdict {
        Ok(values) => json!({"id": vector["id"], "verdict": "accept", "values": values}),
        Err(detail) => json!({"id": vector["id"], "verdict": "reject", "detail": detail}),
    }
}

fn code(e: &(impl std::fmt::Debug + std::fmt::Display)) -> String {
    format!("{} ({e})", error_code(e))
}

fn values<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn id_values(id: &SpiffeId) -> Map<String, Value> {
    values([
        ("trust_domain", json!(id.trust_domain().as_str())),
        ("path", json!(id.path())),
    ])
}

fn x509_verify(args: &AdapterArgs, input: &Value) -> Result<Map<String, Value>, String> {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(input["chain_pem"].as_str().unwrap_or_default().as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|_| "MalformedPem".to_owned())?;
    let mut set = BundleSet::new();
    for (td, pem) in input["bundles"].as_object().into_iter().flatten() {
        let td = TrustDomain::new(td).map_err(|e| e.to_string())?;
        let certs = parse_certificates(pem.as_str().unwrap_or_default().as_bytes())
            .map_err(|e| code(&e))?;
        set.insert_x509(Arc::new(X509Bundle::from_authorities(td, certs)));
    }
    let time = UnixTime::since_unix_epoch(Duration::from_secs(
        input["time"].as_u64().unwrap_or_default(),
    ));
    let mut options = X509VerifyOptions::new();
    if args.allow_leaf_without_digital_signature {
        options = options.accept_leaves_without_digital_signature();
    }
    x509::verify_with(&chain, &set, time, &options)
        .map(|v| values([("spiffe_id", json!(v.spiffe_id().as_str()))]))
        .map_err(|e| code(&e))
}

fn jwt(input: &Value) -> Result<Map<String, Value>, String> {
    let mut set = BundleSet::new();
    for (td, jwks) in input["bundles"].as_object().into_iter().flatten() {
        let td = TrustDomain::new(td).map_err(|e| e.to_string())?;
        let bundle =
            JwtBundle::parse_jwks(td, jwks.to_string().as_bytes()).map_err(|e| code(&e))?;
        set.insert_jwt(bundle);
    }
    let audience: Vec<&str> = input["audience"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let now = UnixTime::since_unix_epoch(Duration::from_secs(
        input["now"].as_u64().unwrap_or_default(),
    ));
    let options = JwtValidationOptions::new(now).with_leeway(Duration::from_secs(
        input["leeway"].as_u64().unwrap_or_default(),
    ));
    JwtSvid::validate(
        input["token"].as_str().unwrap_or_default(),
        &set,
        &audience,
        &options,
    )
    .map(|svid| {
        values([
            ("sub", json!(svid.spiffe_id().as_str())),
            ("aud", json!(svid.audience())),
        ])
    })
    .map_err(|e| code(&e))
}
