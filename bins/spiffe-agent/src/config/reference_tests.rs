//! The configuration reference in `docs/agent.md` against the decoder: every key the decoder
//! reads is documented, and every documented key is read (no key missing, none stale).

use std::collections::BTreeSet;

use super::{AgentConfig, RunFlags};

/// Configs that together declare every block and plugin this agent reads, each plugin with an
/// inline `plugin_data { }` so its keys are recorded under its own path.
const CONFIGS: &[&str] = &[
    r#"
agent {
    trust_domain = "example.org"
    server_address = "127.0.0.1"
    trust_bundle_path = "/tmp/x/bundle.pem"
    data_dir = "/tmp/x"
    experimental {}
    sds {}
}
plugins {
    NodeAttestor "join_token" { plugin_data {} }
    KeyManager "disk" { plugin_data {} }
    WorkloadAttestor "unix" { plugin_data {} }
}
health_checks { listener_enabled = true }
telemetry { Prometheus { port = 9988 } }
"#,
    r#"
agent {
    trust_domain = "example.org"
    server_address = "127.0.0.1"
    insecure_bootstrap = true
    data_dir = "/tmp/x"
}
plugins {
    NodeAttestor "x509pop" { plugin_data { certificate_path = "/tmp/x/c.pem" private_key_path = "/tmp/x/k.pem" } }
    KeyManager "memory" { plugin_data {} }
    WorkloadAttestor "unix" { plugin_data {} }
}
"#,
    r#"
agent {
    trust_domain = "example.org"
    server_address = "127.0.0.1"
    insecure_bootstrap = true
    data_dir = "/tmp/x"
}
plugins {
    NodeAttestor "tpm" { plugin_data {} }
    KeyManager "memory" { plugin_data {} }
    WorkloadAttestor "unix" { plugin_data {} }
}
"#,
    r#"
agent {
    trust_domain = "example.org"
    server_address = "127.0.0.1"
    insecure_bootstrap = true
    data_dir = "/tmp/x"
}
plugins {
    NodeAttestor "k8s_psat" { plugin_data { cluster = "c" } }
    KeyManager "memory" { plugin_data {} }
    WorkloadAttestor "docker" { plugin_data {} }
    WorkloadAttestor "k8s" { plugin_data {} }
    WorkloadAttestor "systemd" { plugin_data {} }
}
"#,
];

fn recorded() -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for text in CONFIGS {
        let (result, asked) =
            spire_config::record_keys(|| AgentConfig::from_text(text, &RunFlags::default()));
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
    let doc = include_str!("../../../../docs/agent.md");
    if let Some(mismatch) =
        spire_config::reference_mismatch(&recorded(), doc, "### Configuration reference")
    {
        panic!("docs/agent.md: {mismatch}");
    }
}
