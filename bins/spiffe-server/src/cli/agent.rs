//! `agent list|show|count|ban|evict|purge`: attested agents over the Agent API, with SPIRE's
//! flags, texts and `-output json`.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use spire_api_proto::server::agent::v1 as agentv1;
use spire_api_proto::types;
use spire_config::flags::{Flag, FlagSet, Parsed};

use super::client::{run_admin, Env, SocketFlags};
use super::common::{
    agent_json, go_time_utc, id_string, match_behavior, output_flag, parse_id, parse_selector,
    plural, print_json, Output,
};
use super::Command;

/// SPIRE's `printAgents` for one agent (the expiry in UTC, as SPIRE prints it on a host in UTC).
fn agent_text(a: &types::Agent) -> String {
    let mut s = String::new();
    let mut line = |k: &str, v: &str| s.push_str(&format!("{k:<18}: {v}\n"));
    line("SPIFFE ID", &id_string(a.id.as_ref()));
    line("Attestation type", &a.attestation_type);
    line("Expiration time", &go_time_utc(a.x509svid_expires_at));
    if a.banned {
        line("Banned", "true");
    } else {
        line("Serial number", &a.x509svid_serial_number);
    }
    line("Can re-attest", &a.can_reattest.to_string());
    if !a.agent_version.is_empty() {
        line("Agent version", &a.agent_version);
    }
    s.push('\n');
    s
}

/// SPIRE's `commoncli.BoolFlag`: `true`, `false`, or anything else for "all".
fn tristate(fs: &mut FlagSet, name: &str, usage: &str) -> Flag<Option<bool>> {
    fs.value(name, None, "", usage, |s| {
        Ok(match s {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        })
    })
}

/// Go's `time.Parse("2006-01-02 15:04:05 -0700 -07", s)` acceptance, shape only.
fn valid_expires_before(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    b.len() == 29
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b' '
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b' '
        && matches!(b[20], b'+' | b'-')
        && digits(21..25)
        && b[25] == b' '
        && matches!(b[26], b'+' | b'-')
        && digits(27..29)
}

struct ListFlags {
    fs: FlagSet,
    socket: SocketFlags,
    selectors: Flag<Vec<String>>,
    attestation_type: Flag<String>,
    can_reattest: Flag<Option<bool>>,
    banned: Flag<Option<bool>>,
    expires_before: Flag<String>,
    match_sel: Flag<String>,
    output: Flag<Output>,
}

fn list_flags(name: &str) -> ListFlags {
    let mut fs = FlagSet::new(name);
    let socket = SocketFlags::define(&mut fs);
    let selectors = fs.strings(
        "selector",
        "A colon-delimited type:value selector. Can be used more than once",
    );
    let attestation_type = fs.string(
        "attestationType",
        "",
        "Filter by attestation type, like join_token or x509pop.",
    );
    let can_reattest = tristate(&mut fs, "canReattest", "Filter based on string received, 'true': agents that can reattest, 'false': agents that can't reattest, other value will return all.");
    let banned = tristate(&mut fs, "banned", "Filter based on string received, 'true': banned agents, 'false': not banned agents, other value will return all.");
    let expires_before = fs.string(
        "expiresBefore",
        "",
        "Filter by expiration time (format: \"2006-01-02 15:04:05 -0700 -07\")",
    );
    let match_sel = fs.string(
        "matchSelectorsOn",
        "superset",
        "The match mode used when filtering by selectors. Options: exact, any, superset and subset",
    );
    let output = output_flag(&mut fs);
    ListFlags {
        fs,
        socket,
        selectors,
        attestation_type,
        can_reattest,
        banned,
        expires_before,
        match_sel,
        output,
    }
}

impl ListFlags {
    fn filter(&self, p: &Parsed) -> Result<agentv1::list_agents_request::Filter, String> {
        let mut f = agentv1::list_agents_request::Filter::default();
        let sels = p.get(&self.selectors);
        if !sels.is_empty() {
            let m = match_behavior(p.get(&self.match_sel).as_str())
                .ok_or_else(|| "unsupported match behavior".to_owned())?;
            let selectors = sels
                .iter()
                .map(|s| {
                    parse_selector(s).map_err(|e| format!("error parsing selector \"{s}\": {e}"))
                })
                .collect::<Result<_, _>>()?;
            f.by_selector_match = Some(types::SelectorMatch {
                selectors,
                r#match: m,
            });
        }
        let eb = p.get(&self.expires_before);
        if !eb.is_empty() {
            if !valid_expires_before(eb) {
                return Err(format!(
                    "date is not valid: parsing time \"{eb}\" as \"2006-01-02 15:04:05 -0700 -07\": cannot parse \"{eb}\" as \"2006\""
                ));
            }
            f.by_expires_before = eb.clone();
        }
        f.by_attestation_type = p.get(&self.attestation_type).clone();
        f.by_can_reattest = *p.get(&self.can_reattest);
        f.by_banned = *p.get(&self.banned);
        Ok(f)
    }
}

/// `agent list`.
#[derive(Debug)]
pub(super) struct ListCommand;

impl Command for ListCommand {
    fn name(&self) -> &'static str {
        "agent list"
    }
    fn synopsis(&self) -> &'static str {
        "Lists attested agents and their SPIFFE IDs"
    }
    fn help(&self) -> String {
        list_flags(self.name()).fs.help()
    }
    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let f = list_flags(self.name());
        run_admin(&f.fs, &f.socket, args, env, |p, client, env| {
            let filter = f.filter(p)?;
            let mut agents = Vec::new();
            let mut page_token = String::new();
            loop {
                let resp = client
                    .call(client.agent().list_agents(agentv1::ListAgentsRequest {
                        filter: Some(filter.clone()),
                        output_mask: None,
                        page_size: 1000,
                        page_token: page_token.clone(),
                    }))
                    .map_err(|s| client.error_text(&s))?
                    .into_inner();
                agents.extend(resp.agents);
                page_token = resp.next_page_token;
                if page_token.is_empty() {
                    break;
                }
            }
            if *p.get(&f.output) == Output::Json {
                print_json(
                    env,
                    json!({"agents": agents.iter().map(agent_json).collect::<Vec<_>>(), "next_page_token": ""}),
                );
                return Ok(());
            }
            if agents.is_empty() {
                env.println("No attested agents found");
                return Ok(());
            }
            let n = i64::try_from(agents.len()).unwrap_or(i64::MAX);
            let mut out = format!(
                "{}:\n\n",
                plural(&format!("Found {n} attested "), "agent", "agents", n)
            );
            for a in &agents {
                out.push_str(&agent_text(a));
            }
            let _ = env.stdout.write_all(out.as_bytes());
            Ok(())
        })
    }
}

/// `agent count`.
#[derive(Debug)]
pub(super) struct CountCommand;

impl Command for CountCommand {
    fn name(&self) -> &'static str {
        "agent count"
    }
    fn synopsis(&self) -> &'static str {
        "Count attested agents"
    }
    fn help(&self) -> String {
        list_flags(self.name()).fs.help()
    }
    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let f = list_flags(self.name());
        run_admin(&f.fs, &f.socket, args, env, |p, client, env| {
            let l = f.filter(p)?;
            let filter = agentv1::count_agents_request::Filter {
                by_attestation_type: l.by_attestation_type,
                by_selector_match: l.by_selector_match,
                by_banned: l.by_banned,
                by_can_reattest: l.by_can_reattest,
                by_expires_before: l.by_expires_before,
            };
            let count = client
                .call(client.agent().count_agents(agentv1::CountAgentsRequest {
                    filter: Some(filter),
                }))
                .map_err(|s| client.error_text(&s))?
                .into_inner()
                .count;
            if *p.get(&f.output) == Output::Json {
                print_json(env, json!({ "count": count }));
                return Ok(());
            }
            let n = i64::from(count);
            env.println(&plural(&format!("{n} attested "), "agent", "agents", n));
            Ok(())
        })
    }
}

/// `agent show`, `agent ban`, `agent evict`: one agent by `-spiffeID`.
#[derive(Debug)]
pub(super) enum OneAgentCommand {
    Show,
    Ban,
    Evict,
}

struct OneFlags {
    fs: FlagSet,
    socket: SocketFlags,
    spiffe_id: Flag<String>,
    output: Flag<Output>,
}

impl OneAgentCommand {
    fn flags(&self) -> OneFlags {
        let mut fs = FlagSet::new(self.name());
        let socket = SocketFlags::define(&mut fs);
        let what = match self {
            Self::Show => "show",
            Self::Ban => "ban",
            Self::Evict => "evict",
        };
        let spiffe_id = fs.string(
            "spiffeID",
            "",
            &format!("The SPIFFE ID of the agent to {what} (agent identity)"),
        );
        let output = output_flag(&mut fs);
        OneFlags {
            fs,
            socket,
            spiffe_id,
            output,
        }
    }
}

impl Command for OneAgentCommand {
    fn name(&self) -> &'static str {
        match self {
            Self::Show => "agent show",
            Self::Ban => "agent ban",
            Self::Evict => "agent evict",
        }
    }
    fn synopsis(&self) -> &'static str {
        match self {
            Self::Show => "Shows the details of an attested agent given its SPIFFE ID",
            Self::Ban => "Ban an attested agent given its SPIFFE ID",
            Self::Evict => "Evicts an attested agent given its SPIFFE ID",
        }
    }
    fn help(&self) -> String {
        self.flags().fs.help()
    }
    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let f = self.flags();
        run_admin(&f.fs, &f.socket, args, env, |p, client, env| {
            let text = p.get(&f.spiffe_id);
            if text.is_empty() {
                return Err("a SPIFFE ID is required".into());
            }
            let id = Some(parse_id(text)?);
            let json_out = *p.get(&f.output) == Output::Json;
            match self {
                Self::Show => {
                    let a = client
                        .call(client.agent().get_agent(agentv1::GetAgentRequest {
                            id,
                            output_mask: None,
                        }))
                        .map_err(|s| client.error_text(&s))?
                        .into_inner();
                    if json_out {
                        print_json(env, agent_json(&a));
                        return Ok(());
                    }
                    let mut out = String::from("Found an attested agent given its SPIFFE ID\n\n");
                    out.push_str(&agent_text(&a));
                    for s in &a.selectors {
                        out.push_str(&format!("Selectors         : {}:{}\n", s.r#type, s.value));
                    }
                    let _ = env.stdout.write_all(out.as_bytes());
                }
                Self::Ban => {
                    client
                        .call(client.agent().ban_agent(agentv1::BanAgentRequest { id }))
                        .map_err(|s| client.error_text(&s))?;
                    if json_out {
                        print_json(env, json!({}));
                    } else {
                        env.println("Agent banned successfully");
                    }
                }
                Self::Evict => {
                    client
                        .call(
                            client
                                .agent()
                                .delete_agent(agentv1::DeleteAgentRequest { id }),
                        )
                        .map_err(|s| client.error_text(&s))?;
                    if json_out {
                        print_json(env, json!({}));
                    } else {
                        env.println("Agent evicted successfully");
                    }
                }
            }
            Ok(())
        })
    }
}

/// `agent purge`.
#[derive(Debug)]
pub(super) struct PurgeCommand;

struct PurgeFlags {
    fs: FlagSet,
    socket: SocketFlags,
    expired_for: Flag<Duration>,
    dry_run: Flag<bool>,
    output: Flag<Output>,
}

fn purge_flags() -> PurgeFlags {
    let mut fs = FlagSet::new("agent purge");
    let socket = SocketFlags::define(&mut fs);
    let expired_for = fs.duration("expiredFor", Duration::from_secs(30 * 24 * 3600), "Amount of time that has passed since the agent's SVID has expired. It is used to determine which agents to purge.");
    let dry_run = fs.bool("dryRun", false, "Indicates that the command will not perform any action, but will print the agents that would be purged.");
    let output = output_flag(&mut fs);
    PurgeFlags {
        fs,
        socket,
        expired_for,
        dry_run,
        output,
    }
}

impl Command for PurgeCommand {
    fn name(&self) -> &'static str {
        "agent purge"
    }
    fn synopsis(&self) -> &'static str {
        "Purge expired agents that were attested using a non-TOFU security model based on a given time"
    }
    fn help(&self) -> String {
        purge_flags().fs.help()
    }
    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let f = purge_flags();
        run_admin(&f.fs, &f.socket, args, env, |p, client, env| {
            let resp = client
                .call(client.agent().list_agents(agentv1::ListAgentsRequest {
                    filter: Some(agentv1::list_agents_request::Filter {
                        by_can_reattest: Some(true),
                        ..Default::default()
                    }),
                    output_mask: Some(types::AgentMask {
                        x509svid_expires_at: true,
                        ..Default::default()
                    }),
                    page_size: 0,
                    page_token: String::new(),
                }))
                .map_err(|s| format!("failed to list agents: {}", client.error_text(&s)))?
                .into_inner();
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX));
            let expired_for = i128::try_from(p.get(&f.expired_for).as_nanos()).unwrap_or(i128::MAX);
            let dry_run = *p.get(&f.dry_run);
            // (agent ID, deleted, error)
            let mut results: Vec<(String, bool, String)> = Vec::new();
            for a in &resp.agents {
                let since = now - i128::from(a.x509svid_expires_at) * 1_000_000_000;
                if since <= expired_for {
                    continue;
                }
                let id = id_string(a.id.as_ref());
                let mut result = (id, false, String::new());
                if !dry_run {
                    match client.call(
                        client
                            .agent()
                            .delete_agent(agentv1::DeleteAgentRequest { id: a.id.clone() }),
                    ) {
                        Ok(_) => result.1 = true,
                        Err(s) => result.2 = client.error_text(&s),
                    }
                }
                results.push(result);
            }
            if *p.get(&f.output) == Output::Json {
                let agents: Vec<_> = results
                    .iter()
                    .map(|(id, deleted, error)| {
                        let mut v = json!({"agent_id": id, "deleted": deleted});
                        if !error.is_empty() {
                            v["error"] = json!(error);
                        }
                        v
                    })
                    .collect();
                print_json(env, json!({ "expired_agents": agents }));
                return Ok(());
            }
            if results.is_empty() {
                env.println("No agents to purge.");
                return Ok(());
            }
            let n = i64::try_from(results.len()).unwrap_or(i64::MAX);
            let mut out = format!(
                "{}\n\n",
                plural(&format!("Found {n} expired "), "agent", "agents", n)
            );
            if dry_run {
                out.push_str("\nAgents that can be purged:\n");
                for (id, _, _) in &results {
                    out.push_str(&format!("SPIFFE ID         : {id}\n"));
                }
            } else {
                let purged: Vec<_> = results.iter().filter(|r| r.1).collect();
                let not_purged: Vec<_> = results.iter().filter(|r| !r.1).collect();
                if !purged.is_empty() {
                    out.push_str("Agents purged:\n");
                    for (id, _, _) in purged {
                        out.push_str(&format!("SPIFFE ID         : {id}\n"));
                    }
                }
                if !not_purged.is_empty() {
                    out.push_str("Agents not purged:\n");
                    for (id, _, error) in not_purged {
                        out.push_str(&format!(
                            "SPIFFE ID         : {id}\nError             : {error}\n"
                        ));
                    }
                }
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
    fn agent_layout_is_spires() {
        let a = types::Agent {
            id: Some(parse_id("spiffe://example.org/spire/agent/join_token/t").unwrap()),
            attestation_type: "join_token".into(),
            x509svid_serial_number: "12345".into(),
            x509svid_expires_at: 0,
            can_reattest: false,
            ..Default::default()
        };
        assert_eq!(
            agent_text(&a),
            "SPIFFE ID         : spiffe://example.org/spire/agent/join_token/t\n\
             Attestation type  : join_token\n\
             Expiration time   : 1970-01-01 00:00:00 +0000 UTC\n\
             Serial number     : 12345\n\
             Can re-attest     : false\n\n"
        );
    }

    #[test]
    fn expires_before_shape() {
        assert!(valid_expires_before("2006-01-02 15:04:05 -0700 -07"));
        assert!(!valid_expires_before("2006-01-02"));
    }
}
