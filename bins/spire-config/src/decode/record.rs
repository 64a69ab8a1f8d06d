//! Which keys the decoders ask for: how a test checks a configuration reference against the
//! code that reads the configuration (no key missing from the reference, none stale in it).

use std::cell::RefCell;
use std::collections::BTreeSet;

thread_local! {
    static ASKED: RefCell<Option<BTreeSet<String>>> = const { RefCell::new(None) };
}

/// Runs `f` and returns, with its result, every key that a [`Decoder`](super::Decoder) on this
/// thread asked for meanwhile, present or not, as dotted paths from the top of the file:
/// `server.bind_port`, `server.experimental.sync_interval`,
/// `plugins.KeyManager.disk.plugin_data.keys_path`. Plugin data read from a
/// `plugin_data_file` or absent has no path of its own (its keys appear bare), so give the
/// plugins inline `plugin_data { }` blocks when recording.
///
/// ```
/// let text = "server {\n  bind_port = \"8081\"\n}\n";
/// let config = spire_config::Config::parse(text).unwrap();
/// let (_, asked) = spire_config::record_keys(|| {
///     config.decode(|d| {
///         d.required_block_with("server", |s| {
///             s.optional_str("bind_port")?;
///             s.optional_str("bind_address")
///         })
///     })
/// });
/// assert!(asked.contains("server.bind_port") && asked.contains("server.bind_address"));
/// ```
pub fn record_keys<T>(f: impl FnOnce() -> T) -> (T, BTreeSet<String>) {
    let outer = ASKED.with(|a| a.borrow_mut().replace(BTreeSet::new()));
    let value = f();
    let asked = ASKED.with(|a| std::mem::replace(&mut *a.borrow_mut(), outer));
    (value, asked.unwrap_or_default())
}

/// Notes that the section at `path` was asked for `key` (when recording).
pub(super) fn note(path: &str, key: &str) {
    ASKED.with(|a| {
        if let Some(asked) = a.borrow_mut().as_mut() {
            asked.insert(if path.is_empty() {
                key.to_owned()
            } else {
                format!("{path}.{key}")
            });
        }
    });
}

/// Compares recorded keys (from [`record_keys`]) with a configuration reference in Markdown:
/// the rows of the tables under the line `heading` (up to the next `##` or `###` heading) whose
/// first cell is a backticked key. Recorded keys are named as a reference names them: `server.bind_port`;
/// a plugin's `plugins.<type>.<name>.plugin_data.<key>` is `<type>.<name>.<key>`, and a plugin
/// that has no settings is `<type>.<name>`; keys of the declarations themselves (`plugin_cmd`,
/// `enabled`, …) and top-level block names are left out. A block whose keys are listed needs
/// no row of its own (it may have one).
///
/// Returns `None` when they agree, else a message listing the keys read but not documented
/// and those documented but not read.
pub fn reference_mismatch(
    recorded: &BTreeSet<String>,
    markdown: &str,
    heading: &str,
) -> Option<String> {
    let names: BTreeSet<String> = recorded
        .iter()
        .filter_map(|k| reference_name(k, recorded))
        .collect();
    let is_block = |k: &String| names.iter().any(|n| n.starts_with(&format!("{k}.")));
    let documented = documented(markdown, heading);
    let missing: Vec<&String> = names
        .iter()
        .filter(|k| !is_block(k) && !documented.contains(*k))
        .collect();
    let stale: Vec<&String> = documented.difference(&names).collect();
    (!missing.is_empty() || !stale.is_empty()).then(|| {
        format!(
            "the configuration reference under {heading:?} is out of date:\n  read but not documented: {missing:?}\n  documented but not read: {stale:?}"
        )
    })
}

fn reference_name(key: &str, recorded: &BTreeSet<String>) -> Option<String> {
    let Some(plugin) = key.strip_prefix("plugins.") else {
        // Top-level blocks are headings, not rows.
        return key.contains('.').then(|| key.to_owned());
    };
    match plugin.split_once(".plugin_data.") {
        Some((declaration, setting)) => Some(format!("{declaration}.{setting}")),
        None => {
            let (declaration, _) = plugin.rsplit_once('.')?;
            let prefix = format!("plugins.{declaration}.plugin_data.");
            let has_settings = recorded.iter().any(|k| k.starts_with(&prefix));
            (!has_settings && declaration.contains('.')).then(|| declaration.to_owned())
        }
    }
}

fn documented(markdown: &str, heading: &str) -> BTreeSet<String> {
    markdown
        .lines()
        .skip_while(|line| line.trim_end() != heading)
        .skip(1)
        // The section ends at the next heading of level 2 or 3.
        .take_while(|line| !line.starts_with("## ") && !line.starts_with("### "))
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`').map(|(key, _)| key.to_owned()))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn set(keys: &[&str]) -> BTreeSet<String> {
        keys.iter().map(|k| (*k).to_owned()).collect()
    }

    const DOC: &str = "# x\n### Reference\n| key | d |\n|---|---|\n| `server.port` | 1 |\n| `KeyManager.disk.keys_path` | — |\n| `NodeAttestor.join_token` | — |\n## Next\n| `server.elsewhere` | — |\n";

    #[test]
    fn agreeing_keys_pass_and_each_direction_is_reported() {
        let recorded = set(&[
            "server",
            "server.port",
            "plugins",
            "plugins.KeyManager.disk.enabled",
            "plugins.KeyManager.disk.plugin_data",
            "plugins.KeyManager.disk.plugin_data.keys_path",
            "plugins.NodeAttestor.join_token.plugin_cmd",
        ]);
        assert_eq!(reference_mismatch(&recorded, DOC, "### Reference"), None);

        let mut more = recorded.clone();
        more.insert("server.new_key".into());
        let msg = reference_mismatch(&more, DOC, "### Reference").unwrap();
        assert!(
            msg.contains("read but not documented: [\"server.new_key\"]"),
            "{msg}"
        );

        let mut fewer = recorded;
        fewer.remove("server.port");
        let msg = reference_mismatch(&fewer, DOC, "### Reference").unwrap();
        assert!(
            msg.contains("documented but not read: [\"server.port\"]"),
            "{msg}"
        );
    }
}
