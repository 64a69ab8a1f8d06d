//! `entry delete`: by `-entryID` or a `-file` of ids.

use super::*;

/// `entry delete`.
#[derive(Debug)]
pub(in crate::cli) struct DeleteCommand;

struct DeleteFlags {
    fs: FlagSet,
    socket: SocketFlags,
    entry_id: Flag<String>,
    file: Flag<String>,
    output: Flag<Output>,
}

fn delete_flags() -> DeleteFlags {
    let mut fs = FlagSet::new("entry delete");
    let socket = SocketFlags::define(&mut fs);
    let entry_id = fs.string(
        "entryID",
        "",
        "The Registration Entry ID of the record to delete.",
    );
    let file = fs.string("file", "", "Path to a file containing a JSON structure for batch deletion (optional). If set to '-', read from stdin.");
    let output = output_flag(&mut fs);
    DeleteFlags {
        fs,
        socket,
        entry_id,
        file,
        output,
    }
}

/// The `-file` of `entry delete`: a `BatchDeleteEntryRequest` as Go's `encoding/json` reads
/// it (`{"ids": [...]}`).
pub(super) fn parse_delete_json(data: &[u8]) -> Result<Vec<String>, String> {
    let doc: serde_json::Value = serde_json::from_slice(data).map_err(|e| e.to_string())?;
    let mut ids = Vec::new();
    if let serde_json::Value::Object(obj) = &doc {
        for (k, v) in obj {
            if !k.eq_ignore_ascii_case("ids") {
                continue;
            }
            match v {
                serde_json::Value::Null => {}
                serde_json::Value::Array(items) => {
                    ids = items
                        .iter()
                        .map(|i| match i {
                            serde_json::Value::String(s) => Ok(s.clone()),
                            serde_json::Value::Null => Ok(String::new()),
                            _ => Err("json: cannot unmarshal into Go struct field BatchDeleteEntryRequest.ids of type string".to_owned()),
                        })
                        .collect::<Result<_, _>>()?;
                }
                _ => {
                    return Err("json: cannot unmarshal into Go struct field BatchDeleteEntryRequest.ids of type []string".into())
                }
            }
        }
    } else if !doc.is_null() {
        return Err(
            "json: cannot unmarshal into Go value of type entryv1.BatchDeleteEntryRequest".into(),
        );
    }
    Ok(ids)
}

impl Command for DeleteCommand {
    fn name(&self) -> &'static str {
        "entry delete"
    }
    fn synopsis(&self) -> &'static str {
        "Deletes registration entries"
    }
    fn help(&self) -> String {
        delete_flags().fs.help()
    }
    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let f = delete_flags();
        run_admin(&f.fs, &f.socket, args, env, |p, client, env| {
            let file = p.get(&f.file);
            let ids = if file.is_empty() {
                if p.get(&f.entry_id).is_empty() {
                    return Err("an entry ID is required".into());
                }
                vec![p.get(&f.entry_id).clone()]
            } else {
                parse_delete_json(&read_input(file)?)?
            };
            let resp = client
                .call(
                    client
                        .entry()
                        .batch_delete_entry(entryv1::BatchDeleteEntryRequest { ids }),
                )
                .map_err(|s| rpc(client, s))?
                .into_inner();
            if *p.get(&f.output) == Output::Json {
                print_json(
                    env,
                    json!({"results": resp.results.iter().map(|r| json!({
                        "status": status_json(r.status.as_ref()),
                        "id": r.id,
                    })).collect::<Vec<_>>()}),
                );
                return Ok(());
            }
            let is_ok = |r: &&entryv1::batch_delete_entry_response::Result| {
                r.status.as_ref().is_none_or(|s| s.code == 0)
            };
            let succeeded: Vec<_> = resp.results.iter().filter(is_ok).collect();
            let failed: Vec<_> = resp.results.iter().filter(|r| !is_ok(r)).collect();
            let mut out = String::new();
            for r in &succeeded {
                out.push_str(&format!("Deleted entry with ID: {}\n", r.id));
            }
            if !succeeded.is_empty() {
                out.push_str("\n\n");
            }
            let _ = env.stdout.write_all(out.as_bytes());
            for r in &failed {
                let s = r.status.clone().unwrap_or_default();
                env.eprintln(&format!(
                    "Failed to delete entry with ID {} (code: {}, msg: {})",
                    r.id,
                    code_name(s.code),
                    go_quote(&s.message)
                ));
            }
            if !failed.is_empty() {
                let summary = if succeeded.is_empty() {
                    format!("Failed to delete {} entries", failed.len())
                } else {
                    format!(
                        "Deleted {} entries successfully, but failed to delete {} entries",
                        succeeded.len(),
                        failed.len()
                    )
                };
                let _ = write!(env.stdout, "\n\n{summary}");
                return Err("failed to delete one or more entries".into());
            }
            let _ = write!(
                env.stdout,
                "Deleted {} entries successfully",
                succeeded.len()
            );
            Ok(())
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn delete_file_reads_ids() {
        assert_eq!(
            parse_delete_json(br#"{"ids":["a","b"]}"#).unwrap(),
            ["a", "b"]
        );
        assert!(parse_delete_json(br#"{"ids":"a"}"#).is_err());
    }
}
