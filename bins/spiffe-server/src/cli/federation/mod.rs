//! `federation create|update|delete|list|show|refresh`: dynamic federation relationships over
//! the TrustDomain API, with SPIRE's flags, `-data` file, texts and `-output json`.

use std::io::Write;

use serde_json::json;
use spire_api_proto::server::trustdomain::v1 as tdv1;
use spire_api_proto::types;
use spire_config::flags::{Flag, FlagSet};

use super::client::{run_admin, Env, SocketFlags};
use super::common::{code_name, go_quote, output_flag, plural, print_json, status_json, Output};
use super::Command;

mod relationship;

#[cfg(test)]
use relationship::parse_relationships_json;
use relationship::{config_flags, relationship_json, relationship_text};

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
