//! `entry create|update|delete|show|count`: registration entries over the Entry API, with
//! SPIRE's flags, validation texts, entry layout and `-output json`.

use std::cmp::Ordering;

use serde_json::json;
use spire_api_proto::server::entry::v1 as entryv1;
use spire_api_proto::types;
use spire_config::flags::{Flag, FlagSet, Parsed};

use super::client::{run_admin, Env, ServerClient, SocketFlags};
use super::common::{
    code_name, entry_json, go_quote, go_time_utc, id_string, match_behavior, output_flag, parse_id,
    parse_selector, plural, print_json, read_input, status_json, Output,
};
use super::Command;
use spire_api_proto::cli_text::parse_entries_json;

mod delete;
mod show;

pub(super) use delete::DeleteCommand;
pub(super) use show::{CountCommand, ShowCommand};

/// The agent-side path of the server's own ID, the parent of `-node` entries.
const SERVER_ID_PATH: &str = "/spire/server";
const PAGE_SIZE: i32 = 500;

/// SPIRE's `printEntry`: the entry's lines and a blank line.
pub(crate) fn entry_text(e: &types::Entry) -> String {
    let mut s = String::new();
    let mut line = |k: &str, v: &str| s.push_str(&format!("{k:<24}: {v}\n"));
    line("Entry ID", if e.id.is_empty() { "(none)" } else { &e.id });
    line("SPIFFE ID", &id_string(e.spiffe_id.as_ref()));
    line("Parent ID", &id_string(e.parent_id.as_ref()));
    line("Revision", &e.revision_number.to_string());
    if e.downstream {
        line("Downstream", "true");
    }
    let ttl = |t: i32| {
        if t == 0 {
            "default".to_owned()
        } else {
            t.to_string()
        }
    };
    line("X509-SVID TTL", &ttl(e.x509_svid_ttl));
    line("JWT-SVID TTL", &ttl(e.jwt_svid_ttl));
    if e.expires_at != 0 {
        line("Expiration time", &go_time_utc(e.expires_at));
    }
    for sel in &e.selectors {
        line("Selector", &format!("{}:{}", sel.r#type, sel.value));
    }
    for td in &e.federates_with {
        line("FederatesWith", td);
    }
    for dns in &e.dns_names {
        line("DNS name", dns);
    }
    if e.admin {
        line("Admin", "true");
    }
    if e.store_svid {
        line("StoreSvid", "true");
    }
    if !e.hint.is_empty() {
        line("Hint", &e.hint);
    }
    if let Some(a) = &e.additional_attributes {
        if a.disable_x509_svid_prefetch {
            line("DisableX509SvidPrefetch", "true");
        }
        if a.jwt_svid_include_jti {
            line("JwtSvidIncludeJti", "true");
        }
    }
    s.push('\n');
    s
}

fn id_key(id: Option<&types::Spiffeid>) -> (&str, &str) {
    id.map_or(("", ""), |i| (i.trust_domain.as_str(), i.path.as_str()))
}

/// SPIRE's `SortTypesEntries`: selectors sorted, then entries by ID, parent, TTLs, selectors.
fn sort_entries(entries: &mut [types::Entry]) {
    for e in entries.iter_mut() {
        e.selectors
            .sort_by(|a, b| (&a.r#type, &a.value).cmp(&(&b.r#type, &b.value)));
    }
    entries.sort_by(|a, b| {
        id_key(a.spiffe_id.as_ref())
            .cmp(&id_key(b.spiffe_id.as_ref()))
            .then_with(|| id_key(a.parent_id.as_ref()).cmp(&id_key(b.parent_id.as_ref())))
            .then(a.x509_svid_ttl.cmp(&b.x509_svid_ttl))
            .then(a.jwt_svid_ttl.cmp(&b.jwt_svid_ttl))
            .then_with(|| match a.selectors.len().cmp(&b.selectors.len()) {
                Ordering::Equal => a
                    .selectors
                    .iter()
                    .map(|s| (&s.r#type, &s.value))
                    .cmp(b.selectors.iter().map(|s| (&s.r#type, &s.value))),
                other => other,
            })
    });
}

fn rpc(client: &ServerClient, status: tonic::Status) -> String {
    client.error_text(&status)
}

/// The flags `entry create` and `entry update` share.
struct EntryFlags {
    fs: FlagSet,
    socket: SocketFlags,
    entry_id: Flag<String>,
    parent_id: Flag<String>,
    spiffe_id: Flag<String>,
    x509_ttl: Flag<i64>,
    jwt_ttl: Flag<i64>,
    data: Flag<String>,
    selectors: Flag<Vec<String>>,
    federates_with: Flag<Vec<String>>,
    node: Option<Flag<bool>>,
    admin: Flag<bool>,
    store_svid: Flag<bool>,
    downstream: Flag<bool>,
    entry_expiry: Flag<i64>,
    dns: Flag<Vec<String>>,
    hint: Flag<String>,
    disable_prefetch: Flag<bool>,
    include_jti: Flag<bool>,
    output: Flag<Output>,
}

fn entry_flags(name: &str, create: bool) -> EntryFlags {
    let mut fs = FlagSet::new(name);
    let socket = SocketFlags::define(&mut fs);
    let entry_id = fs.string(
        "entryID",
        "",
        if create {
            "A custom ID for this registration entry (optional). If not set, a new entry ID will be generated"
        } else {
            "The Registration Entry ID of the record to update"
        },
    );
    let parent_id = fs.string("parentID", "", "The SPIFFE ID of this record's parent");
    let spiffe_id = fs.string("spiffeID", "", "The SPIFFE ID that this record represents");
    let x509_ttl = fs.int(
        "x509SVIDTTL",
        0,
        "The lifetime, in seconds, for x509-SVIDs issued based on this registration entry.",
    );
    let jwt_ttl = fs.int(
        "jwtSVIDTTL",
        0,
        "The lifetime, in seconds, for JWT-SVIDs issued based on this registration entry.",
    );
    let data = fs.string("data", "", "Path to a file containing registration JSON (optional). If set to '-', read the JSON from stdin.");
    let selectors = fs.strings(
        "selector",
        "A colon-delimited type:value selector. Can be used more than once",
    );
    let federates_with = fs.strings(
        "federatesWith",
        "SPIFFE ID of a trust domain to federate with. Can be used more than once",
    );
    let node = create.then(|| {
        fs.bool(
            "node",
            false,
            "If set, this entry will be applied to matching nodes rather than workloads",
        )
    });
    let admin = fs.bool("admin", false, "If set, the SPIFFE ID in this entry will be granted access to the SPIRE Server's management APIs");
    let store_svid = fs.bool("storeSVID", false, "A boolean value that, when set, indicates that the resulting issued SVID from this entry must be stored through an SVIDStore plugin");
    let downstream = fs.bool("downstream", false, "A boolean value that, when set, indicates that the entry describes a downstream SPIRE server");
    let entry_expiry = fs.int(
        "entryExpiry",
        0,
        "An expiry, from epoch in seconds, for the resulting registration entry to be pruned",
    );
    let dns = fs.strings("dns", "A DNS name that will be included in SVIDs issued based on this entry, where appropriate. Can be used more than once");
    let hint = fs.string(
        "hint",
        "",
        "The entry hint, used to disambiguate entries with the same SPIFFE ID",
    );
    let disable_prefetch = fs.bool(
        "disableX509SVIDPrefetch",
        false,
        "A boolean value that, when set, disables prefetching X509 SVID for this entry",
    );
    let include_jti = fs.bool("jwtSVIDIncludeJTI", false, "A boolean value that, when set, includes a unique 'jti' claim in JWT-SVIDs issued for this entry and bypasses the agent JWT-SVID cache");
    let output = output_flag(&mut fs);
    EntryFlags {
        fs,
        socket,
        entry_id,
        parent_id,
        spiffe_id,
        x509_ttl,
        jwt_ttl,
        data,
        selectors,
        federates_with,
        node,
        admin,
        store_svid,
        downstream,
        entry_expiry,
        dns,
        hint,
        disable_prefetch,
        include_jti,
        output,
    }
}

impl EntryFlags {
    /// SPIRE's `validate()` of create (`create`) or update.
    fn validate(&self, p: &Parsed, create: bool) -> Result<(), String> {
        if !p.get(&self.data).is_empty() {
            return Ok(());
        }
        let node = self.node.is_some_and(|n| *p.get(&n));
        if !create && p.get(&self.entry_id).is_empty() {
            return Err("entry ID is required".into());
        }
        if p.get(&self.selectors).is_empty() {
            return Err("at least one selector is required".into());
        }
        if create && node && !p.get(&self.federates_with).is_empty() {
            return Err("node entries can not federate".into());
        }
        if p.get(&self.parent_id).is_empty() && !node {
            return Err(if create {
                "a parent ID is required if the node flag is not set".into()
            } else {
                "a parent ID is required".into()
            });
        }
        if p.get(&self.spiffe_id).is_empty() {
            return Err("a SPIFFE ID is required".into());
        }
        if *p.get(&self.x509_ttl) < 0 {
            return Err("a positive x509-SVID TTL is required".into());
        }
        if *p.get(&self.jwt_ttl) < 0 {
            return Err("a positive JWT-SVID TTL is required".into());
        }
        Ok(())
    }

    /// The entry the flags describe (SPIRE's `parseConfig`).
    fn entry(&self, p: &Parsed, create: bool) -> Result<types::Entry, String> {
        let node = self.node.is_some_and(|n| *p.get(&n));
        let (spiffe_id, parent_id) = if create {
            let spiffe_id = parse_id(p.get(&self.spiffe_id).as_str())?;
            let parent_id = if node {
                types::Spiffeid {
                    trust_domain: spiffe_id.trust_domain.clone(),
                    path: SERVER_ID_PATH.into(),
                }
            } else {
                parse_id(p.get(&self.parent_id).as_str())?
            };
            (spiffe_id, parent_id)
        } else {
            let parent_id = parse_id(p.get(&self.parent_id).as_str())?;
            (parse_id(p.get(&self.spiffe_id).as_str())?, parent_id)
        };
        let x509_svid_ttl = i32::try_from(*p.get(&self.x509_ttl)).map_err(|_| {
            format!(
                "invalid value for X509 SVID TTL: value {} overflows int32",
                p.get(&self.x509_ttl)
            )
        })?;
        let jwt_svid_ttl = i32::try_from(*p.get(&self.jwt_ttl)).map_err(|_| {
            format!(
                "invalid value for JWT SVID TTL: value {} overflows int32",
                p.get(&self.jwt_ttl)
            )
        })?;
        let selectors = p
            .get(&self.selectors)
            .iter()
            .map(|s| parse_selector(s))
            .collect::<Result<Vec<_>, _>>()?;
        let disable =
            p.is_set(&self.disable_prefetch) && (!create || *p.get(&self.disable_prefetch));
        let jti = p.is_set(&self.include_jti) && (!create || *p.get(&self.include_jti));
        Ok(types::Entry {
            id: p.get(&self.entry_id).clone(),
            spiffe_id: Some(spiffe_id),
            parent_id: Some(parent_id),
            selectors,
            x509_svid_ttl,
            jwt_svid_ttl,
            federates_with: p.get(&self.federates_with).clone(),
            admin: *p.get(&self.admin),
            downstream: *p.get(&self.downstream),
            expires_at: *p.get(&self.entry_expiry),
            dns_names: p.get(&self.dns).clone(),
            store_svid: *p.get(&self.store_svid),
            hint: p.get(&self.hint).clone(),
            additional_attributes: (disable || jti).then_some(types::entry::AdditionalAttributes {
                disable_x509_svid_prefetch: disable,
                jwt_svid_include_jti: jti,
            }),
            ..Default::default()
        })
    }

    fn entries(&self, p: &Parsed, create: bool) -> Result<Vec<types::Entry>, String> {
        let data = p.get(&self.data);
        if data.is_empty() {
            Ok(vec![self.entry(p, create)?])
        } else {
            parse_entries_json(&read_input(data)?)
        }
    }
}

/// Prints batch create/update results as SPIRE does: successes to stdout, failures (with the
/// entry that was sent) to stderr.
fn print_batch(
    env: &mut Env,
    results: &[(Option<&types::Status>, Option<&types::Entry>)],
    verb: &str,
) -> Result<(), String> {
    let ok = |s: Option<&types::Status>| s.is_none_or(|s| s.code == 0);
    for (status, entry) in results {
        if ok(*status) {
            if let Some(e) = entry {
                let _ = env.stdout.write_all(entry_text(e).as_bytes());
            }
        }
    }
    let mut failed = false;
    for (status, entry) in results {
        if let Some(s) = status.filter(|s| s.code != 0) {
            failed = true;
            env.eprintln(&format!(
                "Failed to {verb} the following entry (code: {}, msg: {}):",
                code_name(s.code),
                go_quote(&s.message)
            ));
            let _ = env
                .stderr
                .write_all(entry_text(entry.unwrap_or(&types::Entry::default())).as_bytes());
        }
    }
    if failed {
        return Err(format!("failed to {verb} one or more entries"));
    }
    Ok(())
}

use std::io::Write;

/// `entry create`.
#[derive(Debug)]
pub(super) struct CreateCommand;

impl Command for CreateCommand {
    fn name(&self) -> &'static str {
        "entry create"
    }
    fn synopsis(&self) -> &'static str {
        "Creates registration entries"
    }
    fn help(&self) -> String {
        entry_flags(self.name(), true).fs.help()
    }
    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let f = entry_flags(self.name(), true);
        run_admin(&f.fs, &f.socket, args, env, |p, client, env| {
            f.validate(p, true)?;
            let entries = f.entries(p, true)?;
            let mut resp = client
                .call(
                    client
                        .entry()
                        .batch_create_entry(entryv1::BatchCreateEntryRequest {
                            entries: entries.clone(),
                            output_mask: None,
                        }),
                )
                .map_err(|s| rpc(client, s))?
                .into_inner();
            for (r, sent) in resp.results.iter_mut().zip(&entries) {
                if r.status.as_ref().is_some_and(|s| s.code != 0) {
                    r.entry = Some(sent.clone());
                }
            }
            if *p.get(&f.output) == Output::Json {
                print_json(
                    env,
                    json!({"results": resp.results.iter().map(|r| json!({
                        "status": status_json(r.status.as_ref()),
                        "entry": entry_json(r.entry.as_ref()),
                    })).collect::<Vec<_>>()}),
                );
                return Ok(());
            }
            let results: Vec<_> = resp
                .results
                .iter()
                .map(|r| (r.status.as_ref(), r.entry.as_ref()))
                .collect();
            print_batch(env, &results, "create")
        })
    }
}

/// `entry update`.
#[derive(Debug)]
pub(super) struct UpdateCommand;

impl Command for UpdateCommand {
    fn name(&self) -> &'static str {
        "entry update"
    }
    fn synopsis(&self) -> &'static str {
        "Updates registration entries"
    }
    fn help(&self) -> String {
        entry_flags(self.name(), false).fs.help()
    }
    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let f = entry_flags(self.name(), false);
        run_admin(&f.fs, &f.socket, args, env, |p, client, env| {
            f.validate(p, false)?;
            let mut entries = f.entries(p, false)?;
            let prefetch_set = p.is_set(&f.disable_prefetch);
            let jti_set = p.is_set(&f.include_jti);
            if p.get(&f.data).is_empty() && (prefetch_set || jti_set) {
                // SPIRE merges the attributes not given from the stored entry.
                let existing = client
                    .call(client.entry().get_entry(entryv1::GetEntryRequest {
                        id: p.get(&f.entry_id).clone(),
                        output_mask: None,
                    }))
                    .map_err(|s| {
                        format!(
                            "failed to fetch existing entry to merge additional attributes: {}",
                            rpc(client, s)
                        )
                    })?
                    .into_inner();
                let e = &mut entries[0];
                let requested = e.additional_attributes.unwrap_or_default();
                let mut merged = existing.additional_attributes.unwrap_or_default();
                if prefetch_set {
                    merged.disable_x509_svid_prefetch = requested.disable_x509_svid_prefetch;
                }
                if jti_set {
                    merged.jwt_svid_include_jti = requested.jwt_svid_include_jti;
                }
                e.additional_attributes = Some(merged);
            }
            let mut resp = client
                .call(
                    client
                        .entry()
                        .batch_update_entry(entryv1::BatchUpdateEntryRequest {
                            entries: entries.clone(),
                            input_mask: None,
                            output_mask: None,
                        }),
                )
                .map_err(|s| rpc(client, s))?
                .into_inner();
            for (r, sent) in resp.results.iter_mut().zip(&entries) {
                if r.status.as_ref().is_some_and(|s| s.code != 0) {
                    r.entry = Some(sent.clone());
                }
            }
            if *p.get(&f.output) == Output::Json {
                print_json(
                    env,
                    json!({"results": resp.results.iter().map(|r| json!({
                        "status": status_json(r.status.as_ref()),
                        "entry": entry_json(r.entry.as_ref()),
                    })).collect::<Vec<_>>()}),
                );
                return Ok(());
            }
            let results: Vec<_> = resp
                .results
                .iter()
                .map(|r| (r.status.as_ref(), r.entry.as_ref()))
                .collect();
            print_batch(env, &results, "update")
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn entry_layout_is_spires() {
        let e = types::Entry {
            id: "e1".into(),
            spiffe_id: Some(parse_id("spiffe://example.org/Blog").unwrap()),
            parent_id: Some(
                parse_id("spiffe://example.org/spire/agent/join_token/TokenBlog").unwrap(),
            ),
            selectors: vec![parse_selector("unix:uid:1111").unwrap()],
            x509_svid_ttl: 200,
            expires_at: 1_552_410_266,
            admin: true,
            dns_names: vec!["unu1000".into()],
            ..Default::default()
        };
        assert_eq!(
            entry_text(&e),
            "Entry ID                : e1\n\
             SPIFFE ID               : spiffe://example.org/Blog\n\
             Parent ID               : spiffe://example.org/spire/agent/join_token/TokenBlog\n\
             Revision                : 0\n\
             X509-SVID TTL           : 200\n\
             JWT-SVID TTL            : default\n\
             Expiration time         : 2019-03-12 17:04:26 +0000 UTC\n\
             Selector                : unix:uid:1111\n\
             DNS name                : unu1000\n\
             Admin                   : true\n\n"
        );
    }
}
