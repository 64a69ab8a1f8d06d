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
    NodeAttestor "k8s_psat" { plugin_data { clusters = { "<name>" = { service_account_allow_list = ["ns:sa"] } } } }
    UpstreamAuthority "spire" { plugin_data { server_address = "127.0.0.1" server_port = "8081" workload_api_socket = "/tmp/x/api.sock" } }
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

#[test]
fn the_configuration_reference_matches_the_decoder() {
    let doc = include_str!("../../../../docs/server.md");
    if let Some(mismatch) =
        spire_config::reference_mismatch(&recorded(), doc, "### Configuration reference")
    {
        panic!("docs/server.md: {mismatch}");
    }
}
