//! `bundle show|list|set|count|delete`: the server's bundle and federated bundles over the
//! Bundle API, in PEM or SPIFFE bundle format, with SPIRE's texts and `-output json`.

use std::io::Write;

use serde_json::{json, Value};
use spiffe_core::{SpiffeBundle, TrustDomain};
use spire_api_proto::convert::{bundle_from_proto, bundle_to_proto, ApiBundle};
use spire_api_proto::server::bundle::v1 as bundlev1;
use spire_api_proto::types;
use spire_config::flags::{Flag, FlagSet};

use super::client::{run_admin, Env, SocketFlags};
use super::common::{bundle_json, output_flag, plural, print_json, status_json, Output};
use super::Command;

const FORMAT_PEM: &str = "pem";
const FORMAT_SPIFFE: &str = "spiffe";

/// PEM blocks of `label` for each DER.
pub(crate) fn pem<'a>(label: &str, ders: impl IntoIterator<Item = &'a [u8]>) -> String {
    use base64::Engine;
    let mut out = String::new();
    for der in ders {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        out.push_str(&format!("-----BEGIN {label}-----\n"));
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            out.push('\n');
        }
        out.push_str(&format!("-----END {label}-----\n"));
    }
    out
}

/// SPIRE's `validateFormat`: empty means PEM, case-insensitive.
pub(crate) fn validate_format(format: &str) -> Result<&'static str, String> {
    match format.to_lowercase().as_str() {
        "" | FORMAT_PEM => Ok(FORMAT_PEM),
        FORMAT_SPIFFE => Ok(FORMAT_SPIFFE),
        _ => Err(format!("invalid format: \"{}\"", format.to_lowercase())),
    }
}

/// Where go-spiffe and go-jose place a key when marshaling a bundle; others go after, sorted.
const KEY_ORDER: &[&str] = &[
    "keys",
    "spiffe_sequence",
    "spiffe_refresh_hint",
    "use",
    "kty",
    "kid",
    "crv",
    "alg",
    "k",
    "x",
    "y",
    "n",
    "e",
    "x5c",
];

/// JSON indented as Go's `json.Indent(.., "", "    ")` of go-spiffe's document.
fn write_go_indented(v: &Value, depth: usize, out: &mut String) {
    let pad = |d: usize| "    ".repeat(d);
    match v {
        Value::Object(map) if !map.is_empty() => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by_key(|k| {
                (
                    KEY_ORDER
                        .iter()
                        .position(|o| o == k)
                        .unwrap_or(KEY_ORDER.len()),
                    (*k).clone(),
                )
            });
            out.push_str("{\n");
            for (i, k) in keys.iter().enumerate() {
                out.push_str(&pad(depth + 1));
                out.push_str(&serde_json::to_string(k).unwrap_or_default());
                out.push_str(": ");
                write_go_indented(&map[*k], depth + 1, out);
                if i + 1 < keys.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&pad(depth));
            out.push('}');
        }
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                out.push_str(&pad(depth + 1));
                write_go_indented(item, depth + 1, out);
                if i + 1 < items.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&pad(depth));
            out.push(']');
        }
        other => out.push_str(&serde_json::to_string(other).unwrap_or_default()),
    }
}

/// SPIRE's `printBundle`: the SPIFFE bundle document, indented, and a newline.
fn spiffe_text(bundle: &types::Bundle) -> Result<String, String> {
    let api = bundle_from_proto(bundle).map_err(|e| e.to_string())?;
    let doc: Value =
        serde_json::from_slice(&api.bundle.to_json_compact()).map_err(|e| e.to_string())?;
    let mut out = String::new();
    write_go_indented(&doc, 0, &mut out);
    out.push('\n');
    Ok(out)
}

/// SPIRE's `printBundleWithFormat`.
fn bundle_text(bundle: &types::Bundle, format: &str, header: bool) -> Result<String, String> {
    let format = validate_format(format)?;
    let mut out = String::new();
    if header {
        out.push_str(&format!(
            "****************************************\n* {}\n****************************************\n",
            bundle.trust_domain
        ));
    }
    if format == FORMAT_PEM {
        for a in &bundle.x509_authorities {
            spiffe_core::Certificate::from_der(a.asn1.clone().into())
                .map_err(|e| format!("unable to parse certificates ASN.1 DER data: {e}"))?;
        }
        out.push_str(&pem(
            "CERTIFICATE",
            bundle.x509_authorities.iter().map(|a| a.asn1.as_slice()),
        ));
    } else {
        out.push_str(&spiffe_text(bundle)?);
    }
    Ok(out)
}

/// SPIRE's `util.ParseBundle`: PEM certificates under `id` as given, or a SPIFFE bundle
/// document of trust domain `id`.
pub(crate) fn parse_bundle(data: &[u8], format: &str, id: &str) -> Result<types::Bundle, String> {
    if format == FORMAT_PEM {
        // SPIRE's `pemutil.ParseCertificates` reads PEM only.
        if !data.windows(11).any(|w| w == b"-----BEGIN ") {
            return Err("unable to parse bundle data: no PEM blocks".into());
        }
        let certs = spiffe_core::x509::parse_certificates(data)
            .map_err(|e| format!("unable to parse bundle data: {e}"))?;
        return Ok(types::Bundle {
            trust_domain: id.to_owned(),
            x509_authorities: certs
                .iter()
                .map(|c| types::X509Certificate {
                    asn1: c.der().to_vec(),
                    tainted: false,
                })
                .collect(),
            ..Default::default()
        });
    }
    let td = super::common::parse_trust_domain(id)?;
    let td = TrustDomain::new(&td).map_err(|e| super::common::go_id_error(e).to_owned())?;
    let bundle = SpiffeBundle::parse(td, data)
        .map_err(|e| format!("unable to parse to spiffe bundle: {e}"))?;
    bundle_to_proto(&ApiBundle::new(bundle))
        .map_err(|e| format!("unable to parse to type bundle: {e}"))
}

fn write_out(env: &mut Env, text: &str) {
    let _ = env.stdout.write_all(text.as_bytes());
}

/// `bundle show`.
#[derive(Debug)]
pub(super) struct ShowCommand;

struct FormatFlags {
    fs: FlagSet,
    socket: SocketFlags,
    id: Option<Flag<String>>,
    format: Flag<String>,
    output: Flag<Output>,
}

fn show_flags(list: bool) -> FormatFlags {
    let mut fs = FlagSet::new(if list { "bundle list" } else { "bundle show" });
    let socket = SocketFlags::define(&mut fs);
    let id = list.then(|| fs.string("id", "", "SPIFFE ID of the trust domain"));
    let what = if list {
        "The format to list federated bundles"
    } else {
        "The format to show the bundle"
    };
    let format = fs.string(
        "format",
        FORMAT_PEM,
        &format!(
            "{what} (only pretty output format supports this flag). Either \"pem\" or \"spiffe\"."
        ),
    );
    let output = output_flag(&mut fs);
    FormatFlags {
        fs,
        socket,
        id,
        format,
        output,
    }
}

impl Command for ShowCommand {
    fn name(&self) -> &'static str {
        "bundle show"
    }
    fn synopsis(&self) -> &'static str {
        "Prints server CA bundle to stdout"
    }
    fn help(&self) -> String {
        show_flags(false).fs.help()
    }
    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let f = show_flags(false);
        run_admin(&f.fs, &f.socket, args, env, |p, client, env| {
            let bundle = client
                .call(
                    client
                        .bundle()
                        .get_bundle(bundlev1::GetBundleRequest { output_mask: None }),
                )
                .map_err(|s| client.error_text(&s))?
                .into_inner();
            if *p.get(&f.output) == Output::Json {
                print_json(env, bundle_json(Some(&bundle)));
                return Ok(());
            }
            let text = bundle_text(&bundle, p.get(&f.format).as_str(), false)?;
            write_out(env, &text);
            Ok(())
        })
    }
}

/// `bundle list`.
#[derive(Debug)]
pub(super) struct ListCommand;

impl Command for ListCommand {
    fn name(&self) -> &'static str {
        "bundle list"
    }
    fn synopsis(&self) -> &'static str {
        "Lists federated bundle data"
    }
    fn help(&self) -> String {
        show_flags(true).fs.help()
    }
    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let f = show_flags(true);
        run_admin(&f.fs, &f.socket, args, env, |p, client, env| {
            let id = f.id.map(|i| p.get(&i).clone()).unwrap_or_default();
            let json_out = *p.get(&f.output) == Output::Json;
            if !id.is_empty() {
                let bundle = client
                    .call(client.bundle().get_federated_bundle(
                        bundlev1::GetFederatedBundleRequest {
                            trust_domain: id,
                            output_mask: None,
                        },
                    ))
                    .map_err(|s| client.error_text(&s))?
                    .into_inner();
                if json_out {
                    print_json(env, bundle_json(Some(&bundle)));
                    return Ok(());
                }
                let text = bundle_text(&bundle, p.get(&f.format).as_str(), false)?;
                write_out(env, &text);
                return Ok(());
            }
            let resp = client
                .call(
                    client
                        .bundle()
                        .list_federated_bundles(bundlev1::ListFederatedBundlesRequest::default()),
                )
                .map_err(|s| client.error_text(&s))?
                .into_inner();
            if json_out {
                print_json(
                    env,
                    json!({
                        "bundles": resp.bundles.iter().map(|b| bundle_json(Some(b))).collect::<Vec<_>>(),
                        "next_page_token": resp.next_page_token,
                    }),
                );
                return Ok(());
            }
            for (i, b) in resp.bundles.iter().enumerate() {
                if i != 0 {
                    env.println("");
                }
                let text = bundle_text(b, p.get(&f.format).as_str(), true)?;
                write_out(env, &text);
            }
            Ok(())
        })
    }
}

/// `bundle set`.
#[derive(Debug)]
pub(super) struct SetCommand;

struct SetFlags {
    fs: FlagSet,
    socket: SocketFlags,
    id: Flag<String>,
    path: Flag<String>,
    format: Flag<String>,
    output: Flag<Output>,
}

fn set_flags() -> SetFlags {
    let mut fs = FlagSet::new("bundle set");
    let socket = SocketFlags::define(&mut fs);
    let id = fs.string("id", "", "SPIFFE ID of the trust domain");
    let path = fs.string("path", "", "Path to the bundle data");
    let format = fs.string(
        "format",
        FORMAT_PEM,
        "The format of the bundle data. Either \"pem\" or \"spiffe\".",
    );
    let output = output_flag(&mut fs);
    SetFlags {
        fs,
        socket,
        id,
        path,
        format,
        output,
    }
}

impl Command for SetCommand {
    fn name(&self) -> &'static str {
        "bundle set"
    }
    fn synopsis(&self) -> &'static str {
        "Creates or updates federated bundle data"
    }
    fn help(&self) -> String {
        set_flags().fs.help()
    }
    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let f = set_flags();
        run_admin(&f.fs, &f.socket, args, env, |p, client, env| {
            let id = p.get(&f.id);
            if id.is_empty() {
                return Err("id flag is required".into());
            }
            let format = validate_format(p.get(&f.format).as_str())?;
            let path = p.get(&f.path);
            // SPIRE reads stdin when -path is not given.
            let data = if path.is_empty() {
                super::common::read_input("-")
            } else {
                super::common::read_input(path)
            }
            .map_err(|e| format!("unable to load bundle data: {e}"))?;
            let bundle = parse_bundle(&data, format, id)?;
            let resp = client
                .call(client.bundle().batch_set_federated_bundle(
                    bundlev1::BatchSetFederatedBundleRequest {
                        bundle: vec![bundle],
                        output_mask: None,
                    },
                ))
                .map_err(|s| format!("failed to set federated bundle: {}", client.error_text(&s)))?
                .into_inner();
            if *p.get(&f.output) == Output::Json {
                print_json(
                    env,
                    json!({"results": resp.results.iter().map(|r| json!({
                        "status": status_json(r.status.as_ref()),
                        "bundle": bundle_json(r.bundle.as_ref()),
                    })).collect::<Vec<_>>()}),
                );
                return Ok(());
            }
            let status = resp
                .results
                .first()
                .and_then(|r| r.status.clone())
                .unwrap_or_default();
            if status.code != 0 {
                return Err(format!(
                    "failed to set federated bundle: {}",
                    status.message
                ));
            }
            env.println("bundle set.");
            Ok(())
        })
    }
}

/// `bundle count`.
#[derive(Debug)]
pub(super) struct CountCommand;

fn count_flags() -> (FlagSet, SocketFlags, Flag<Output>) {
    let mut fs = FlagSet::new("bundle count");
    let socket = SocketFlags::define(&mut fs);
    let output = output_flag(&mut fs);
    (fs, socket, output)
}

impl Command for CountCommand {
    fn name(&self) -> &'static str {
        "bundle count"
    }
    fn synopsis(&self) -> &'static str {
        "Count bundles"
    }
    fn help(&self) -> String {
        count_flags().0.help()
    }
    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let (fs, socket, output) = count_flags();
        run_admin(&fs, &socket, args, env, |p, client, env| {
            let count = client
                .call(
                    client
                        .bundle()
                        .count_bundles(bundlev1::CountBundlesRequest {}),
                )
                .map_err(|s| client.error_text(&s))?
                .into_inner()
                .count;
            if *p.get(&output) == Output::Json {
                print_json(env, json!({ "count": count }));
                return Ok(());
            }
            let n = i64::from(count);
            env.println(&plural(&format!("{n} "), "bundle", "bundles", n));
            Ok(())
        })
    }
}

/// `bundle delete`.
#[derive(Debug)]
pub(super) struct DeleteCommand;

struct DeleteFlags {
    fs: FlagSet,
    socket: SocketFlags,
    id: Flag<String>,
    mode: Flag<String>,
    output: Flag<Output>,
}

fn delete_flags() -> DeleteFlags {
    let mut fs = FlagSet::new("bundle delete");
    let socket = SocketFlags::define(&mut fs);
    let id = fs.string("id", "", "SPIFFE ID of the trust domain");
    let mode = fs.string(
        "mode",
        "restrict",
        "Deletion mode: one of restrict, delete, or dissociate",
    );
    let output = output_flag(&mut fs);
    DeleteFlags {
        fs,
        socket,
        id,
        mode,
        output,
    }
}

impl Command for DeleteCommand {
    fn name(&self) -> &'static str {
        "bundle delete"
    }
    fn synopsis(&self) -> &'static str {
        "Deletes federated bundle data"
    }
    fn help(&self) -> String {
        delete_flags().fs.help()
    }
    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let f = delete_flags();
        run_admin(&f.fs, &f.socket, args, env, |p, client, env| {
            let id = p.get(&f.id);
            if id.is_empty() {
                return Err("id is required".into());
            }
            let mode = match p.get(&f.mode).as_str() {
                "" | "restrict" => bundlev1::batch_delete_federated_bundle_request::Mode::Restrict,
                "dissociate" => bundlev1::batch_delete_federated_bundle_request::Mode::Dissociate,
                "delete" => bundlev1::batch_delete_federated_bundle_request::Mode::Delete,
                other => return Err(format!("unsupported mode \"{other}\"")),
            };
            let resp = client
                .call(client.bundle().batch_delete_federated_bundle(
                    bundlev1::BatchDeleteFederatedBundleRequest {
                        trust_domains: vec![id.clone()],
                        mode: mode as i32,
                    },
                ))
                .map_err(|s| {
                    format!(
                        "failed to delete federated bundle: {}",
                        client.error_text(&s)
                    )
                })?
                .into_inner();
            if *p.get(&f.output) == Output::Json {
                print_json(
                    env,
                    json!({"results": resp.results.iter().map(|r| json!({
                        "status": status_json(r.status.as_ref()),
                        "trust_domain": r.trust_domain,
                    })).collect::<Vec<_>>()}),
                );
                return Ok(());
            }
            let r = resp.results.first().cloned().unwrap_or_default();
            let status = r.status.unwrap_or_default();
            if status.code != 0 {
                return Err(format!(
                    "failed to delete federated bundle \"{}\": {}",
                    r.trust_domain, status.message
                ));
            }
            env.println("bundle deleted.");
            Ok(())
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(validate_format("").unwrap(), "pem");
        assert_eq!(validate_format("SPIFFE").unwrap(), "spiffe");
        assert_eq!(validate_format("x").unwrap_err(), "invalid format: \"x\"");
    }

    #[test]
    fn go_indent_orders_like_go_spiffe() {
        let v = json!({"spiffe_sequence": 1, "keys": [{"x5c": ["a"], "use": "x509-svid", "kty": "EC"}]});
        let mut out = String::new();
        write_go_indented(&v, 0, &mut out);
        assert_eq!(
            out,
            "{\n    \"keys\": [\n        {\n            \"use\": \"x509-svid\",\n            \"kty\": \"EC\",\n            \"x5c\": [\n                \"a\"\n            ]\n        }\n    ],\n    \"spiffe_sequence\": 1\n}"
        );
    }
}
