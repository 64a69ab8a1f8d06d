//! `federation create|update|delete|list|show|refresh`: dynamic federation relationships over
//! the TrustDomain API, with SPIRE's flags, `-data` file, texts and `-output json`.

use std::io::Write;

use serde_json::{json, Value};
use spire_api_proto::server::trustdomain::v1 as tdv1;
use spire_api_proto::types;
use spire_api_proto::types::federation_relationship::BundleEndpointProfile;
use spire_config::flags::{Flag, FlagSet, Parsed};

use super::bundle::parse_bundle;
use super::client::{run_admin, Env, SocketFlags};
use super::common::{
    bundle_json, code_name, go_quote, output_flag, parse_id, plural, print_json, read_input,
    status_json, Output,
};
use super::Command;

const HTTPS_WEB: &str = "https_web";
const HTTPS_SPIFFE: &str = "https_spiffe";

/// `types.FederationRelationship`, or null.
fn relationship_json(fr: Option<&types::FederationRelationship>) -> Value {
    let Some(fr) = fr else { return Value::Null };
    let mut v = json!({
        "trust_domain": fr.trust_domain,
        "bundle_endpoint_url": fr.bundle_endpoint_url,
        "trust_domain_bundle": bundle_json(fr.trust_domain_bundle.as_ref()),
    });
    match &fr.bundle_endpoint_profile {
        Some(BundleEndpointProfile::HttpsWeb(_)) => v["https_web"] = json!({}),
        Some(BundleEndpointProfile::HttpsSpiffe(p)) => {
            v["https_spiffe"] = json!({"endpoint_spiffe_id": p.endpoint_spiffe_id});
        }
        None => {}
    }
    v
}

/// SPIRE's `printFederationRelationship`.
fn relationship_text(fr: &types::FederationRelationship) -> String {
    let mut out = format!(
        "Trust domain              : {}\nBundle endpoint URL       : {}\n",
        fr.trust_domain, fr.bundle_endpoint_url
    );
    match &fr.bundle_endpoint_profile {
        Some(BundleEndpointProfile::HttpsWeb(_)) => {
            out.push_str("Bundle endpoint profile   : https_web\n");
        }
        Some(BundleEndpointProfile::HttpsSpiffe(p)) => {
            out.push_str("Bundle endpoint profile   : https_spiffe\n");
            out.push_str(&format!(
                "Endpoint SPIFFE ID        : {}\n",
                p.endpoint_spiffe_id
            ));
        }
        None => {}
    }
    out
}

/// One relationship as the flags or a `-data` item give it.
#[derive(Default)]
struct Config {
    trust_domain: String,
    bundle_endpoint_url: String,
    bundle_endpoint_profile: String,
    endpoint_spiffe_id: String,
    bundle: Option<Value>,
    bundle_format: String,
    bundle_path: String,
}

/// SPIRE's `jsonToProto`.
fn to_proto(c: &Config) -> Result<types::FederationRelationship, String> {
    if c.trust_domain.is_empty() {
        return Err("trust domain is required".into());
    }
    if c.bundle_endpoint_url.is_empty() {
        return Err("bundle endpoint URL is required".into());
    }
    let mut bundle_td = c.trust_domain.clone();
    let profile = match c.bundle_endpoint_profile.as_str() {
        HTTPS_WEB => BundleEndpointProfile::HttpsWeb(types::HttpsWebProfile {}),
        HTTPS_SPIFFE => {
            if c.endpoint_spiffe_id.is_empty() {
                return Err(
                    "endpoint SPIFFE ID is required if 'https_spiffe' endpoint profile is set"
                        .into(),
                );
            }
            let id = parse_id(&c.endpoint_spiffe_id)
                .map_err(|e| format!("cannot parse bundle endpoint SPIFFE ID: {e}"))?;
            bundle_td = id.trust_domain;
            BundleEndpointProfile::HttpsSpiffe(types::HttpsspiffeProfile {
                endpoint_spiffe_id: c.endpoint_spiffe_id.clone(),
            })
        }
        other => {
            return Err(format!("unknown bundle endpoint profile type: \"{other}\""));
        }
    };
    let bundle = if !c.bundle_path.is_empty() {
        let data = std::fs::read(&c.bundle_path).map_err(|e| {
            format!(
                "cannot read bundle file: {}",
                super::common::go_open_error(&c.bundle_path, &e)
            )
        })?;
        Some(
            parse_bundle(&data, &c.bundle_format, &bundle_td)
                .map_err(|e| format!("cannot parse bundle file: {e}"))?,
        )
    } else if let Some(raw) = &c.bundle {
        let data = match c.bundle_format.as_str() {
            "pem" => match raw {
                Value::String(s) => s.clone().into_bytes(),
                _ => {
                    return Err("cannot parse bundle raw message: failed to unmarshal json: json: cannot unmarshal into Go value of type string".into())
                }
            },
            "spiffe" => serde_json::to_vec(raw).unwrap_or_default(),
            other => {
                return Err(format!(
                    "cannot parse bundle raw message: bundle format \"{other}\" is unsupported"
                ))
            }
        };
        Some(
            parse_bundle(&data, &c.bundle_format, &bundle_td)
                .map_err(|e| format!("cannot parse bundle raw message: {e}"))?,
        )
    } else {
        None
    };
    Ok(types::FederationRelationship {
        trust_domain: c.trust_domain.clone(),
        bundle_endpoint_url: c.bundle_endpoint_url.clone(),
        trust_domain_bundle: bundle,
        bundle_endpoint_profile: Some(profile),
    })
}

/// The `-data` file: `{"federationRelationships": [...]}` as Go's `encoding/json` reads it.
pub(super) fn parse_relationships_json(
    data: &[u8],
) -> Result<Vec<types::FederationRelationship>, String> {
    let doc: Value =
        serde_json::from_slice(data).map_err(|e| format!("failed to parse JSON: {e}"))?;
    let mut items: &[Value] = &[];
    if let Value::Object(obj) = &doc {
        for (k, v) in obj {
            if k.eq_ignore_ascii_case("federationRelationships") {
                match v {
                    Value::Array(a) => items = a,
                    Value::Null => items = &[],
                    _ => return Err("failed to parse JSON: json: cannot unmarshal into Go struct field federationRelationships.federationRelationships of type []*federation.federationRelationshipConfig".into()),
                }
            }
        }
    } else if !doc.is_null() {
        return Err("failed to parse JSON: json: cannot unmarshal into Go value of type federation.federationRelationships".into());
    }
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let mut c = Config::default();
        if let Value::Object(obj) = item {
            for (k, v) in obj {
                let text = || {
                    match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Null => Ok(String::new()),
                    _ => Err(format!("failed to parse JSON: json: cannot unmarshal into Go struct field federationRelationshipConfig.federationRelationships.{k} of type string")),
                }
                };
                match k.to_ascii_lowercase().as_str() {
                    "trustdomain" => c.trust_domain = text()?,
                    "bundleendpointurl" => c.bundle_endpoint_url = text()?,
                    "bundleendpointprofile" => c.bundle_endpoint_profile = text()?,
                    "endpointspiffeid" => c.endpoint_spiffe_id = text()?,
                    "trustdomainbundleformat" => c.bundle_format = text()?,
                    "trustdomainbundle" if !v.is_null() => c.bundle = Some(v.clone()),
                    _ => {}
                }
            }
        } else if !item.is_null() {
            return Err("failed to parse JSON: json: cannot unmarshal into Go struct field federationRelationships.federationRelationships of type federation.federationRelationshipConfig".into());
        }
        out.push(to_proto(&c).map_err(|e| format!("could not parse item {i}: {e}"))?);
    }
    Ok(out)
}

struct ConfigFlags {
    fs: FlagSet,
    socket: SocketFlags,
    data: Flag<String>,
    trust_domain: Flag<String>,
    url: Flag<String>,
    profile: Flag<String>,
    endpoint_id: Flag<String>,
    bundle_path: Flag<String>,
    bundle_format: Flag<String>,
    output: Flag<Output>,
}

fn config_flags(name: &str) -> ConfigFlags {
    let mut fs = FlagSet::new(name);
    let socket = SocketFlags::define(&mut fs);
    let data = fs.string("data", "", "Path to a file containing federation relationships in JSON format (optional). If set to '-', read the JSON from stdin.");
    let trust_domain = fs.string(
        "trustDomain",
        "",
        "Name of the trust domain to federate with (e.g., example.org)",
    );
    let url = fs.string("bundleEndpointURL", "", "URL of the SPIFFE bundle endpoint that provides the trust bundle (must use the HTTPS protocol)");
    let profile = fs.string(
        "bundleEndpointProfile",
        "",
        "Endpoint profile type (either \"https_web\" or \"https_spiffe\")",
    );
    let endpoint_id = fs.string(
        "endpointSpiffeID",
        "",
        "SPIFFE ID of the SPIFFE bundle endpoint server. Only used for 'spiffe' profile.",
    );
    let bundle_path = fs.string(
        "trustDomainBundlePath",
        "",
        "Path to the trust domain bundle data (optional).",
    );
    let bundle_format = fs.string(
        "trustDomainBundleFormat",
        "pem",
        "The format of the bundle data (optional). Either \"pem\" or \"spiffe\".",
    );
    let output = output_flag(&mut fs);
    ConfigFlags {
        fs,
        socket,
        data,
        trust_domain,
        url,
        profile,
        endpoint_id,
        bundle_path,
        bundle_format,
        output,
    }
}

impl ConfigFlags {
    /// SPIRE's `getRelationships`.
    fn relationships(&self, p: &Parsed) -> Result<Vec<types::FederationRelationship>, String> {
        let c = Config {
            trust_domain: p.get(&self.trust_domain).clone(),
            bundle_endpoint_url: p.get(&self.url).clone(),
            bundle_endpoint_profile: p.get(&self.profile).clone(),
            endpoint_spiffe_id: p.get(&self.endpoint_id).clone(),
            bundle: None,
            bundle_format: p.get(&self.bundle_format).clone(),
            bundle_path: p.get(&self.bundle_path).clone(),
        };
        let data = p.get(&self.data);
        if data.is_empty() {
            return Ok(vec![to_proto(&c)?]);
        }
        let empty = c.trust_domain.is_empty()
            && c.bundle_endpoint_url.is_empty()
            && c.bundle_endpoint_profile.is_empty()
            && c.endpoint_spiffe_id.is_empty()
            && c.bundle_path.is_empty()
            && c.bundle_format == "pem";
        if !empty {
            return Err(
                "cannot use other flags to specify relationship fields when 'data' flag is set"
                    .into(),
            );
        }
        parse_relationships_json(&read_input(data)?)
    }
}

/// Prints batch results as SPIRE does (each after a blank line; failures to stderr).
fn print_batch(
    env: &mut Env,
    results: &[(Option<types::Status>, Option<types::FederationRelationship>)],
    sent: &[types::FederationRelationship],
    verb: &str,
) -> Result<(), String> {
    let mut failed = false;
    for (status, fr) in results {
        if status.as_ref().is_none_or(|s| s.code == 0) {
            let text = fr.as_ref().map(relationship_text).unwrap_or_default();
            let _ = env.stdout.write_all(format!("\n{text}").as_bytes());
        }
    }
    for (i, (status, _)) in results.iter().enumerate() {
        if let Some(s) = status.as_ref().filter(|s| s.code != 0) {
            failed = true;
            env.println("");
            env.eprintln(&format!(
                "Failed to {verb} the following federation relationship (code: {}, msg: {}):",
                code_name(s.code),
                go_quote(&s.message)
            ));
            let text = sent.get(i).map(relationship_text).unwrap_or_default();
            let _ = env.stderr.write_all(text.as_bytes());
        }
    }
    if failed {
        return Err(format!(
            "failed to {verb} one or more federation relationships"
        ));
    }
    Ok(())
}

/// `federation create` and `federation update`.
#[derive(Debug)]
pub(super) struct WriteCommand {
    pub update: bool,
}

impl Command for WriteCommand {
    fn name(&self) -> &'static str {
        if self.update {
            "federation update"
        } else {
            "federation create"
        }
    }
    fn synopsis(&self) -> &'static str {
        if self.update {
            "Updates a dynamic federation relationship with a foreign trust domain"
        } else {
            "Creates a dynamic federation relationship with a foreign trust domain"
        }
    }
    fn help(&self) -> String {
        config_flags(self.name()).fs.help()
    }
    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let f = config_flags(self.name());
        let update = self.update;
        run_admin(&f.fs, &f.socket, args, env, |p, client, env| {
            let relationships = f.relationships(p)?;
            let c = client.trust_domain();
            let results: Vec<(Option<types::Status>, Option<types::FederationRelationship>)> =
                if update {
                    client
                        .call(c.clone().batch_update_federation_relationship(
                            tdv1::BatchUpdateFederationRelationshipRequest {
                                federation_relationships: relationships.clone(),
                                input_mask: None,
                                output_mask: None,
                            },
                        ))
                        .map_err(|s| format!("request failed: {}", client.error_text(&s)))?
                        .into_inner()
                        .results
                        .into_iter()
                        .map(|r| (r.status, r.federation_relationship))
                        .collect()
                } else {
                    client
                        .call(c.clone().batch_create_federation_relationship(
                            tdv1::BatchCreateFederationRelationshipRequest {
                                federation_relationships: relationships.clone(),
                                output_mask: None,
                            },
                        ))
                        .map_err(|s| format!("request failed: {}", client.error_text(&s)))?
                        .into_inner()
                        .results
                        .into_iter()
                        .map(|r| (r.status, r.federation_relationship))
                        .collect()
                };
            if *p.get(&f.output) == Output::Json {
                print_json(
                    env,
                    json!({"results": results.iter().map(|(s, fr)| json!({
                        "status": status_json(s.as_ref()),
                        "federation_relationship": relationship_json(fr.as_ref()),
                    })).collect::<Vec<_>>()}),
                );
                return Ok(());
            }
            print_batch(
                env,
                &results,
                &relationships,
                if update { "update" } else { "create" },
            )
        })
    }
}

/// `federation delete`, `federation refresh` (`-id`) and `federation show` (`-trustDomain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OneCommand {
    Delete,
    Refresh,
    Show,
}

impl OneCommand {
    fn flags(&self) -> (FlagSet, SocketFlags, Flag<String>, Flag<Output>) {
        let mut fs = FlagSet::new(self.name());
        let socket = SocketFlags::define(&mut fs);
        let id = if *self == Self::Show {
            fs.string(
                "trustDomain",
                "",
                "The trust domain name of the federation relationship to show",
            )
        } else {
            fs.string("id", "", "SPIFFE ID of the trust domain")
        };
        let output = output_flag(&mut fs);
        (fs, socket, id, output)
    }
}

impl Command for OneCommand {
    fn name(&self) -> &'static str {
        match self {
            Self::Delete => "federation delete",
            Self::Refresh => "federation refresh",
            Self::Show => "federation show",
        }
    }
    fn synopsis(&self) -> &'static str {
        match self {
            Self::Delete => "Deletes a dynamic federation relationship",
            Self::Refresh => "Refreshes the bundle from the specified federated trust domain",
            Self::Show => "Shows a dynamic federation relationship",
        }
    }
    fn help(&self) -> String {
        self.flags().0.help()
    }
    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let (fs, socket, id_flag, output) = self.flags();
        let which = *self;
        run_admin(&fs, &socket, args, env, |p, client, env| {
            let id = p.get(&id_flag).clone();
            if id.is_empty() {
                return Err(if which == Self::Show {
                    "a trust domain name is required".into()
                } else {
                    "id is required".into()
                });
            }
            let json_out = *p.get(&output) == Output::Json;
            let c = client.trust_domain();
            match which {
                Self::Delete => {
                    let resp = client
                        .call(c.clone().batch_delete_federation_relationship(
                            tdv1::BatchDeleteFederationRelationshipRequest {
                                trust_domains: vec![id],
                            },
                        ))
                        .map_err(|s| {
                            format!(
                                "failed to delete federation relationship: {}",
                                client.error_text(&s)
                            )
                        })?
                        .into_inner();
                    if json_out {
                        print_json(
                            env,
                            json!({"results": resp.results.iter().map(|r| json!({
                                "status": status_json(r.status.as_ref()),
                                "trust_domain": r.trust_domain,
                            })).collect::<Vec<_>>()}),
                        );
                        return Ok(());
                    }
                    let Some(r) = resp.results.first() else {
                        return Err("internal error: cli printer; please report this bug".into());
                    };
                    let s = r.status.clone().unwrap_or_default();
                    if s.code != 0 {
                        return Err(format!(
                            "failed to delete federation relationship \"{}\": {}",
                            r.trust_domain, s.message
                        ));
                    }
                    env.println("federation relationship deleted.");
                }
                Self::Refresh => {
                    let result =
                        client.call(c.clone().refresh_bundle(tdv1::RefreshBundleRequest {
                            trust_domain: id.clone(),
                        }));
                    match result {
                        Ok(_) => {}
                        Err(s) if s.code() == tonic::Code::NotFound => {
                            return Err(format!(
                                "there is no federation relationship with trust domain \"{id}\""
                            ))
                        }
                        Err(s) => {
                            return Err(format!(
                                "failed to refresh bundle: {}",
                                client.error_text(&s)
                            ))
                        }
                    }
                    if json_out {
                        print_json(env, json!({"code": 0, "message": "OK"}));
                    } else {
                        env.println("Bundle refreshed");
                    }
                }
                Self::Show => {
                    let fr = client
                        .call(c.clone().get_federation_relationship(
                            tdv1::GetFederationRelationshipRequest {
                                trust_domain: id.clone(),
                                output_mask: None,
                            },
                        ))
                        .map_err(|s| {
                            format!(
                                "error showing federation relationship: {}",
                                client.error_text(&s)
                            )
                        })?
                        .into_inner();
                    if json_out {
                        print_json(env, relationship_json(Some(&fr)));
                        return Ok(());
                    }
                    let text = format!(
                        "Found a federation relationship with trust domain {id}:\n\n{}",
                        relationship_text(&fr)
                    );
                    let _ = env.stdout.write_all(text.as_bytes());
                }
            }
            Ok(())
        })
    }
}

/// `federation list`.
#[derive(Debug)]
pub(super) struct ListCommand;

fn list_flags() -> (FlagSet, SocketFlags, Flag<Output>) {
    let mut fs = FlagSet::new("federation list");
    let socket = SocketFlags::define(&mut fs);
    let output = output_flag(&mut fs);
    (fs, socket, output)
}

impl Command for ListCommand {
    fn name(&self) -> &'static str {
        "federation list"
    }
    fn synopsis(&self) -> &'static str {
        "Lists all dynamic federation relationships"
    }
    fn help(&self) -> String {
        list_flags().0.help()
    }
    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let (fs, socket, output) = list_flags();
        run_admin(&fs, &socket, args, env, |p, client, env| {
            let resp = client
                .call(client.trust_domain().list_federation_relationships(
                    tdv1::ListFederationRelationshipsRequest::default(),
                ))
                .map_err(|s| {
                    format!(
                        "error listing federation relationship: {}",
                        client.error_text(&s)
                    )
                })?
                .into_inner();
            if *p.get(&output) == Output::Json {
                print_json(
                    env,
                    json!({
                        "federation_relationships": resp.federation_relationships.iter().map(|f| relationship_json(Some(f))).collect::<Vec<_>>(),
                        "next_page_token": resp.next_page_token,
                    }),
                );
                return Ok(());
            }
            let n = i64::try_from(resp.federation_relationships.len()).unwrap_or(i64::MAX);
            let mut out = format!(
                "{}\n",
                plural(
                    &format!("Found {n} "),
                    "federation relationship",
                    "federation relationships",
                    n
                )
            );
            for fr in &resp.federation_relationships {
                out.push('\n');
                out.push_str(&relationship_text(fr));
            }
            let _ = env.stdout.write_all(out.as_bytes());
            Ok(())
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn data_file_items() {
        let frs = parse_relationships_json(br#"{"federationRelationships":[
            {"trustDomain":"td-1.org","bundleEndpointURL":"https://td-1.org/bundle","bundleEndpointProfile":"https_web"},
            {"trustDomain":"td-2.org","bundleEndpointURL":"https://td-2.org/bundle","bundleEndpointProfile":"https_spiffe","endpointSPIFFEID":"spiffe://td-2.org/bundle"}]}"#).unwrap();
        assert_eq!(frs.len(), 2);
        assert_eq!(
            relationship_text(&frs[1]),
            "Trust domain              : td-2.org\nBundle endpoint URL       : https://td-2.org/bundle\nBundle endpoint profile   : https_spiffe\nEndpoint SPIFFE ID        : spiffe://td-2.org/bundle\n"
        );
        let err = parse_relationships_json(br#"{"federationRelationships":[{"trustDomain":"a"}]}"#)
            .unwrap_err();
        assert_eq!(
            err,
            "could not parse item 0: bundle endpoint URL is required"
        );
    }
}
