//! `entry show` and `entry count`: the Entry API's filters as SPIRE's flags.

use super::*;

/// The flags `entry show` and `entry count` share.
struct FilterFlags {
    fs: FlagSet,
    socket: SocketFlags,
    entry_id: Option<Flag<String>>,
    parent_id: Flag<String>,
    spiffe_id: Flag<String>,
    downstream: Flag<bool>,
    selectors: Flag<Vec<String>>,
    federates_with: Flag<Vec<String>>,
    match_fw: Flag<String>,
    match_sel: Flag<String>,
    hint: Flag<String>,
    output: Flag<Output>,
}

fn filter_flags(show: bool) -> FilterFlags {
    let (name, what) = if show {
        ("entry show", "show")
    } else {
        ("entry count", "count")
    };
    let mut fs = FlagSet::new(name);
    let socket = SocketFlags::define(&mut fs);
    let entry_id = show.then(|| fs.string("entryID", "", "The Entry ID of the records to show"));
    let parent_id = fs.string(
        "parentID",
        "",
        &format!("The Parent ID of the records to {what}"),
    );
    let spiffe_id = fs.string(
        "spiffeID",
        "",
        &format!("The SPIFFE ID of the records to {what}"),
    );
    let downstream = fs.bool("downstream", false, "A boolean value that, when set, indicates that the entry describes a downstream SPIRE server");
    let selectors = fs.strings(
        "selector",
        "A colon-delimited type:value selector. Can be used more than once",
    );
    let federates_with = fs.strings(
        "federatesWith",
        "SPIFFE ID of a trust domain an entry is federate with. Can be used more than once",
    );
    let match_fw = fs.string("matchFederatesWithOn", "superset", "The match mode used when filtering by federates with. Options: exact, any, superset and subset");
    let match_sel = fs.string(
        "matchSelectorsOn",
        "superset",
        "The match mode used when filtering by selectors. Options: exact, any, superset and subset",
    );
    let hint = fs.string(
        "hint",
        "",
        &format!("The Hint of the records to {what} (optional)"),
    );
    let output = output_flag(&mut fs);
    FilterFlags {
        fs,
        socket,
        entry_id,
        parent_id,
        spiffe_id,
        downstream,
        selectors,
        federates_with,
        match_fw,
        match_sel,
        hint,
        output,
    }
}

/// The filter parts both requests have.
struct Filter {
    by_spiffe_id: Option<types::Spiffeid>,
    by_parent_id: Option<types::Spiffeid>,
    by_selectors: Option<types::SelectorMatch>,
    by_federates_with: Option<types::FederatesWithMatch>,
    by_hint: Option<String>,
    by_downstream: Option<bool>,
}

impl FilterFlags {
    fn filter(&self, p: &Parsed) -> Result<Filter, String> {
        let mut f = Filter {
            by_spiffe_id: None,
            by_parent_id: None,
            by_selectors: None,
            by_federates_with: None,
            by_hint: None,
            by_downstream: Some(*p.get(&self.downstream)),
        };
        let parent = p.get(&self.parent_id);
        if !parent.is_empty() {
            f.by_parent_id = Some(
                parse_id(parent)
                    .map_err(|e| format!("error parsing parent ID \"{parent}\": {e}"))?,
            );
        }
        let id = p.get(&self.spiffe_id);
        if !id.is_empty() {
            f.by_spiffe_id =
                Some(parse_id(id).map_err(|e| format!("error parsing SPIFFE ID \"{id}\": {e}"))?);
        }
        let sels = p.get(&self.selectors);
        if !sels.is_empty() {
            let mode = p.get(&self.match_sel);
            let m =
                match_behavior(mode).ok_or_else(|| format!("match behavior \"{mode}\" unknown"))?;
            let selectors = sels
                .iter()
                .map(|s| parse_selector(s).map_err(|e| format!("error parsing selectors: {e}")))
                .collect::<Result<_, _>>()?;
            f.by_selectors = Some(types::SelectorMatch {
                selectors,
                r#match: m,
            });
        }
        let fw = p.get(&self.federates_with);
        if !fw.is_empty() {
            let mode = p.get(&self.match_fw);
            let m =
                match_behavior(mode).ok_or_else(|| format!("match behavior \"{mode}\" unknown"))?;
            f.by_federates_with = Some(types::FederatesWithMatch {
                trust_domains: fw.clone(),
                r#match: m,
            });
        }
        let hint = p.get(&self.hint);
        if !hint.is_empty() {
            f.by_hint = Some(hint.clone());
        }
        Ok(f)
    }
}

/// `entry show`.
#[derive(Debug)]
pub(in crate::cli) struct ShowCommand;

impl Command for ShowCommand {
    fn name(&self) -> &'static str {
        "entry show"
    }
    fn synopsis(&self) -> &'static str {
        "Displays configured registration entries"
    }
    fn help(&self) -> String {
        filter_flags(true).fs.help()
    }
    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let f = filter_flags(true);
        run_admin(&f.fs, &f.socket, args, env, |p, client, env| {
            let entry_id = f.entry_id.map(|e| p.get(&e).clone()).unwrap_or_default();
            if !entry_id.is_empty()
                && (!p.get(&f.parent_id).is_empty()
                    || !p.get(&f.spiffe_id).is_empty()
                    || !p.get(&f.selectors).is_empty())
            {
                return Err("the -entryID flag can't be combined with others".into());
            }
            let mut entries = Vec::new();
            if !entry_id.is_empty() {
                let e = client
                    .call(client.entry().get_entry(entryv1::GetEntryRequest {
                        id: entry_id.clone(),
                        output_mask: None,
                    }))
                    .map_err(|s| format!("error fetching entry ID {entry_id}: {}", rpc(client, s)))?
                    .into_inner();
                entries.push(e);
            } else {
                let filter = f.filter(p)?;
                let filter = entryv1::list_entries_request::Filter {
                    by_spiffe_id: filter.by_spiffe_id,
                    by_parent_id: filter.by_parent_id,
                    by_selectors: filter.by_selectors,
                    by_federates_with: filter.by_federates_with,
                    by_hint: filter.by_hint,
                    by_downstream: filter.by_downstream,
                };
                let mut page_token = String::new();
                loop {
                    let resp = client
                        .call(client.entry().list_entries(entryv1::ListEntriesRequest {
                            filter: Some(filter.clone()),
                            output_mask: None,
                            page_size: PAGE_SIZE,
                            page_token: page_token.clone(),
                        }))
                        .map_err(|s| format!("error fetching entries: {}", rpc(client, s)))?
                        .into_inner();
                    entries.extend(resp.entries);
                    page_token = resp.next_page_token;
                    if page_token.is_empty() {
                        break;
                    }
                }
            }
            sort_entries(&mut entries);
            if *p.get(&f.output) == Output::Json {
                print_json(
                    env,
                    json!({
                        "entries": entries.iter().map(|e| entry_json(Some(e))).collect::<Vec<_>>(),
                        "next_page_token": "",
                    }),
                );
                return Ok(());
            }
            let n = i64::try_from(entries.len()).unwrap_or(i64::MAX);
            env.println(&plural(&format!("Found {n} "), "entry", "entries", n));
            for e in &entries {
                let _ = env.stdout.write_all(entry_text(e).as_bytes());
            }
            Ok(())
        })
    }
}

/// `entry count`.
#[derive(Debug)]
pub(in crate::cli) struct CountCommand;

impl Command for CountCommand {
    fn name(&self) -> &'static str {
        "entry count"
    }
    fn synopsis(&self) -> &'static str {
        "Count registration entries"
    }
    fn help(&self) -> String {
        filter_flags(false).fs.help()
    }
    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let f = filter_flags(false);
        run_admin(&f.fs, &f.socket, args, env, |p, client, env| {
            let filter = f.filter(p)?;
            let filter = entryv1::count_entries_request::Filter {
                by_spiffe_id: filter.by_spiffe_id,
                by_parent_id: filter.by_parent_id,
                by_selectors: filter.by_selectors,
                by_federates_with: filter.by_federates_with,
                by_hint: filter.by_hint,
                by_downstream: filter.by_downstream,
            };
            let count = client
                .call(client.entry().count_entries(entryv1::CountEntriesRequest {
                    filter: Some(filter),
                }))
                .map_err(|s| rpc(client, s))?
                .into_inner()
                .count;
            if *p.get(&f.output) == Output::Json {
                print_json(env, json!({ "count": count }));
                return Ok(());
            }
            let n = i64::from(count);
            env.println(&plural(
                &format!("{n} registration "),
                "entry",
                "entries",
                n,
            ));
            Ok(())
        })
    }
}
