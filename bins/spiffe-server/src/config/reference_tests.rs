//! The configuration reference in `docs/server.md` against the decoder: every key the decoder
//! reads is documented, and every documented key is read (no key missing, none stale).

use std::collections::BTreeSet;

use super::{RunFlags, ServerConfig};

/// Configs that together declare every block and plugin this server reads, each plugin with an
/// inline `plugin_data { }` so its keys are recorded under its own path.
const CONFIGS: &[&str] = &[
    r#"
server {
    trust_domain = "example.org"
    data_dir = "/tmp/x"
    ca_subject {}
    ratelimit {}
    experimental {}
}
plugins {
    DataStore "sql" { plugin_data { database_type = "sqlite3" connection_string = "/tmp/x/db" } }
    KeyManager "memory" { plugin_data {} }
    NodeAttestor "join_token" { plugin_data {} }
}
health_checks { listener_enabled = true }
telemetry { Prometheus { port = 9988 } }
"#,
    r#"
server {
    trust_domain = "example.org"
    data_dir = "/tmp/x"
}
plugins {
    DataStore "sql" { plugin_data { database_type = "sqlite3" connection_string = "/tmp/x/db" } }
    KeyManager "disk" { plugin_data { keys_path = "/tmp/x/keys" } }
    NodeAttestor "x509pop" { plugin_data { ca_bundle_path = "/tmp/x/ca.pem" } }
    NodeAttestor "tpm" { plugin_data { ca_path = "/tmp/x/tpm" } }
    UpstreamAuthority "disk" { plugin_data { cert_file_path = "/tmp/x/c.pem" key_file_path = "/tmp/x/k.pem" } }
}
"#,
    r#"
server {
    trust_domain = "example.org"
    data_dir = "/tmp/x"
}
plugins {
    DataStore "sql" { plugin_data { database_type = "sqlite3" connection_string = "/tmp/x/db" } }
    KeyManager "pkcs11" { plugin_data { module_path = "/x.so" token_label = "t" user_pin_env = "PIN" } }
    NodeAttestor "join_token" { plugin_data {} }
}
"#,
];

fn recorded() -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for text in CONFIGS {
        let (result, asked) =
            spire_config::record_keys(|| ServerConfig::from_text(text, &RunFlags::default()));
        if let Err(e) = result {
            let source = std::error::Error::source(&e).map(ToString::to_string);
            panic!("{e}: {source:?}\n{text}");
        }
        all.extend(asked);
    }
    all
}

/// A recorded key as the reference names it: `plugins.<type>.<name>.plugin_data.<key>` is
/// `<type>.<name>.<key>`; a plugin declared without settings is `<type>.<name>`. Keys of the
/// declarations themselves (`plugin_cmd`, `enabled`, …), documented once in prose, are left out.
fn reference_name(key: &str, recorded: &BTreeSet<String>) -> Option<String> {
    let Some(plugin) = key.strip_prefix("plugins.") else {
        return (key != "server"
            && key != "telemetry"
            && key != "health_checks"
            && key != "plugins")
            .then(|| key.to_owned());
    };
    match plugin.split_once(".plugin_data.") {
        Some((declaration, setting)) => Some(format!("{declaration}.{setting}")),
        None => {
            let declaration = plugin.rsplit_once('.').map(|(d, _)| d)?;
            // A plugin with no settings of its own is documented by its declaration.
            let has_settings = recorded
                .iter()
                .any(|k| k.starts_with(&format!("plugins.{declaration}.plugin_data.")));
            (!has_settings && declaration.contains('.')).then(|| declaration.to_owned())
        }
    }
}

/// The keys in the first column of `docs/server.md`'s configuration reference.
fn documented() -> BTreeSet<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/server.md");
    let text = std::fs::read_to_string(path).expect("docs/server.md");
    let start = text
        .find("### Configuration reference")
        .expect("a configuration reference in docs/server.md");
    let section = &text[start..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`').map(|(key, _)| key.to_owned()))
        .collect()
}

#[test]
fn the_configuration_reference_matches_the_decoder() {
    let recorded = recorded();
    let names: BTreeSet<String> = recorded
        .iter()
        .filter_map(|k| reference_name(k, &recorded))
        .collect();
    // A block whose own keys are listed may have a row of its own, but needs none.
    let is_block = |k: &String| names.iter().any(|n| n.starts_with(&format!("{k}.")));
    let documented = documented();
    let missing: Vec<_> = names
        .iter()
        .filter(|k| !is_block(k) && !documented.contains(*k))
        .collect();
    let stale: Vec<_> = documented.difference(&names).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "docs/server.md's configuration reference is out of date:\n  read but not documented: {missing:?}\n  documented but not read: {stale:?}"
    );
}
