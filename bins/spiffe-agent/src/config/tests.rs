//! Config decoding: SPIRE's layout, defaults, flags over the file, and errors that name the key
//! and its line.

use super::*;

const PLUGINS: &str = r#"
plugins {
    NodeAttestor "join_token" {
        plugin_data {}
    }
    KeyManager "disk" {
        plugin_data {
            directory = "./.data"
        }
    }
    WorkloadAttestor "unix" {
        plugin_data {}
    }
}
"#;

fn agent_block(extra: &str) -> String {
    format!(
        "agent {{\n    data_dir = \"./.data\"\n    log_level = \"DEBUG\"\n    server_address = \"127.0.0.1\"\n    server_port = \"8081\"\n    socket_path = \"/tmp/spire-agent/public/api.sock\"\n    trust_bundle_path = \"./conf/agent/dummy_root_ca.crt\"\n    trust_domain = \"example.org\"\n{extra}}}\n{PLUGINS}"
    )
}

fn error_text(text: &str) -> String {
    let err = config_error(text);
    spire_config::cli::error_chain(&err)
}

fn config_error(text: &str) -> AgentConfigError {
    match AgentConfig::from_text(text, &RunFlags::default()) {
        Ok(config) => panic!("expected an error, got {config:?}"),
        Err(e) => e,
    }
}

#[test]
fn quickstart_config_decodes_with_spire_defaults() {
    let config = AgentConfig::from_text(&agent_block(""), &RunFlags::default()).unwrap();
    assert_eq!(config.trust_domain.as_str(), "example.org");
    assert_eq!(config.server_authority(), "127.0.0.1:8081");
    assert_eq!(config.data_dir, PathBuf::from("./.data"));
    assert_eq!(config.node_attestor, NodeAttestorConfig::JoinToken);
    assert_eq!(
        config.key_manager,
        KeyManagerConfig::Disk {
            directory: Some(PathBuf::from("./.data"))
        }
    );
    assert_eq!(
        config.workload_attestors,
        vec![WorkloadAttestorConfig::Unix {
            discover_workload_path: false,
            workload_size_limit: Some(u64::MAX),
        }]
    );
    assert_eq!(config.sync_interval, DEFAULT_SYNC_INTERVAL);
    assert_eq!(
        config.trust_bundle,
        TrustBundleSource::Path {
            path: PathBuf::from("./conf/agent/dummy_root_ca.crt"),
            spiffe_format: false
        }
    );
    assert!(config.join_token.is_none());
}

#[test]
fn flags_override_the_file() {
    let flags = RunFlags {
        server_port: Some(9999),
        socket_path: Some("/run/agent.sock".into()),
        join_token: Some("secret-token".into()),
        trust_domain: Some("other.org".into()),
        ..RunFlags::default()
    };
    let config = AgentConfig::from_text(&agent_block(""), &flags).unwrap();
    assert_eq!(config.server_port, 9999);
    assert_eq!(config.socket_path, PathBuf::from("/run/agent.sock"));
    assert_eq!(config.join_token.as_deref(), Some("secret-token"));
    assert_eq!(config.trust_domain.as_str(), "other.org");
    // The token never shows in Debug.
    assert!(!format!("{config:?}").contains("secret-token"));
    assert!(!format!("{flags:?}").contains("secret-token"));
}

#[test]
fn unknown_key_is_named_with_its_line() {
    let text = agent_block("    no_such_key = \"x\"\n");
    let msg = error_text(&text);
    assert!(msg.contains("no_such_key"), "{msg}");
    assert!(msg.contains("line 9"), "{msg}");
}

#[test]
fn unknown_plugin_is_named_with_its_line() {
    let text = agent_block("").replace("WorkloadAttestor \"unix\"", "WorkloadAttestor \"nosuch\"");
    let msg = error_text(&text);
    assert!(msg.contains("nosuch"), "{msg}");
    assert!(msg.contains("line"), "{msg}");
}

#[test]
fn spire_plugin_not_provided_says_so() {
    let text = agent_block("").replace("WorkloadAttestor \"unix\"", "WorkloadAttestor \"slurm\"");
    let msg = error_text(&text);
    assert!(msg.contains("slurm"), "{msg}");
}

#[test]
fn docker_attestor_socket_and_version() {
    let with = |data: &str| {
        let text = agent_block("").replace(
            "WorkloadAttestor \"unix\" {\n        plugin_data {}",
            &format!("WorkloadAttestor \"docker\" {{\n        plugin_data {{\n{data}\n}}"),
        );
        assert_ne!(text, agent_block(""), "the test edits the plugin block");
        AgentConfig::from_text(&text, &RunFlags::default())
            .map(|c| c.workload_attestors)
            .map_err(|e| spire_config::cli::error_chain(&e))
    };
    let docker = |path: &str, version: Option<&str>| WorkloadAttestorConfig::Docker {
        socket_path: path.into(),
        api_version: version.map(str::to_owned),
    };
    assert_eq!(
        with("").unwrap(),
        vec![docker("/var/run/docker.sock", None)]
    );
    assert_eq!(
        with("docker_socket_path = \"unix:///run/d.sock\"\ndocker_version = \"1.41\"").unwrap(),
        vec![docker("/run/d.sock", Some("1.41"))]
    );
    let msg = with("docker_socket_path = \"tcp://10.0.0.1:2375\"").unwrap_err();
    assert!(msg.contains("docker_socket_path"), "{msg}");
    let msg = with("docker_version = \"latest\"").unwrap_err();
    assert!(msg.contains("docker_version"), "{msg}");
    let msg = with("container_id_cgroup_matchers = [\"/docker/<id>\"]").unwrap_err();
    assert!(msg.contains("container_id_cgroup_matchers"), "{msg}");
}

#[test]
fn missing_trust_domain_and_server_address() {
    let text = agent_block("").replace("    trust_domain = \"example.org\"\n", "");
    assert!(error_text(&text).contains("trust_domain must be configured"));
    let text = agent_block("").replace("    server_address = \"127.0.0.1\"\n", "");
    assert!(error_text(&text).contains("server_address must be configured"));
}

#[test]
fn insecure_bootstrap_excludes_a_bundle_path() {
    let text = agent_block("    insecure_bootstrap = true\n");
    assert!(error_text(&text).contains("only one of insecure_bootstrap or trust_bundle_path"));
    let text = agent_block("    insecure_bootstrap = true\n").replace(
        "    trust_bundle_path = \"./conf/agent/dummy_root_ca.crt\"\n",
        "",
    );
    let config = AgentConfig::from_text(&text, &RunFlags::default()).unwrap();
    assert_eq!(config.trust_bundle, TrustBundleSource::Insecure);
}

#[test]
fn bad_bundle_format_is_refused_with_line() {
    let msg = error_text(&agent_block("    trust_bundle_format = \"der\"\n"));
    assert!(
        msg.contains("trust_bundle_format") && msg.contains("line 9"),
        "{msg}"
    );
    let flags = RunFlags {
        trust_bundle_format: Some("der".into()),
        ..RunFlags::default()
    };
    let err = AgentConfig::from_text(&agent_block(""), &flags).unwrap_err();
    assert!(err.to_string().contains("trustBundleFormat"), "{err}");
}

/// `agent_block` without its `trust_bundle_path`.
fn without_path(extra: &str) -> String {
    agent_block(extra).replace(
        "    trust_bundle_path = \"./conf/agent/dummy_root_ca.crt\"\n",
        "",
    )
}

#[test]
fn a_bundle_url_is_read_and_checked_as_spire_does() {
    let config = AgentConfig::from_text(
        &without_path(
            "    trust_bundle_url = \"https://bundle.example/b.json\"\n    trust_bundle_format = \"spiffe\"\n",
        ),
        &RunFlags::default(),
    )
    .unwrap();
    assert_eq!(
        config.trust_bundle,
        TrustBundleSource::Url {
            source: crate::bootstrap::BundleUrl::new("https://bundle.example/b.json", None)
                .unwrap(),
            spiffe_format: true,
        }
    );
    // With a helper socket: http://.
    let config = AgentConfig::from_text(
        &without_path(
            "    trust_bundle_url = \"http://helper/b\"\n    trust_bundle_unix_socket = \"/run/h.sock\"\n",
        ),
        &RunFlags::default(),
    )
    .unwrap();
    match &config.trust_bundle {
        TrustBundleSource::Url {
            source,
            spiffe_format,
        } => {
            assert_eq!(
                source.unix_socket.as_deref(),
                Some(Path::new("/run/h.sock"))
            );
            assert!(!spiffe_format);
        }
        other => panic!("{other:?}"),
    }
    // -trustBundleUrl and -trustBundleFormat.
    let flags = RunFlags {
        trust_bundle_url: Some("https://flag.example/b".into()),
        trust_bundle_format: Some("spiffe".into()),
        ..RunFlags::default()
    };
    let config = AgentConfig::from_text(&without_path(""), &flags).unwrap();
    assert_eq!(
        config.trust_bundle,
        TrustBundleSource::Url {
            source: crate::bootstrap::BundleUrl::new("https://flag.example/b", None).unwrap(),
            spiffe_format: true,
        }
    );

    // Refused, with SPIRE's messages.
    let msg = error_text(&without_path(
        "    trust_bundle_url = \"http://b.example/x\"\n",
    ));
    assert!(
        msg.contains("trust bundle URL must start with https://") && msg.contains("line 8"),
        "{msg}"
    );
    let msg = error_text(&agent_block("    trust_bundle_url = \"https://x/b\"\n"));
    assert!(
        msg.contains("only one of trust_bundle_url or trust_bundle_path can be specified"),
        "{msg}"
    );
    let msg = error_text(&without_path(
        "    trust_bundle_url = \"https://x/b\"\n    insecure_bootstrap = true\n",
    ));
    assert!(
        msg.contains("only one of insecure_bootstrap or trust_bundle_url can be specified"),
        "{msg}"
    );
    let msg = error_text(&agent_block(
        "    trust_bundle_url = \"https://x/b\"\n    insecure_bootstrap = true\n",
    ));
    assert!(msg.contains("not the three options"), "{msg}");
    let msg = error_text(&without_path(
        "    trust_bundle_unix_socket = \"/run/h.sock\"\n",
    ));
    assert!(
        msg.contains("if trust_bundle_unix_socket is specified, so must be trust_bundle_url"),
        "{msg}"
    );
    let msg = error_text(&without_path(
        "    trust_bundle_url = \"https://x/b\"\n    trust_bundle_unix_socket = \"/run/h.sock\"\n",
    ));
    assert!(msg.contains("must start with http://"), "{msg}");
    let flags = RunFlags {
        trust_bundle_url: Some("ftp://x/b".into()),
        ..RunFlags::default()
    };
    let err = AgentConfig::from_text(&without_path(""), &flags).unwrap_err();
    let msg = spire_config::cli::error_chain(&err);
    assert!(
        msg.contains("trustBundleUrl") && msg.contains("https://"),
        "{msg}"
    );
}

#[test]
fn plugin_counts_are_checked() {
    let text = agent_block("").replace(
        "    NodeAttestor \"join_token\" {\n        plugin_data {}\n    }\n",
        "",
    );
    assert!(error_text(&text).contains(
        "plugin type \"NodeAttestor\" constraint not satisfied: expected exactly 1 but got 0"
    ));
}

#[test]
fn x509pop_needs_its_files() {
    let text = agent_block("").replace(
        "NodeAttestor \"join_token\" {\n        plugin_data {}",
        "NodeAttestor \"x509pop\" {\n        plugin_data { private_key_path = \"k.pem\" }",
    );
    let msg = error_text(&text);
    assert!(msg.contains("certificate_path"), "{msg}");
    let text = agent_block("").replace(
        "NodeAttestor \"join_token\" {\n        plugin_data {}",
        "NodeAttestor \"x509pop\" {\n        plugin_data {\n private_key_path = \"k.pem\"\n certificate_path = \"c.pem\" }",
    );
    let config = AgentConfig::from_text(&text, &RunFlags::default()).unwrap();
    assert_eq!(config.node_attestor.name(), "x509pop");
}

#[test]
fn experimental_sync_interval_and_unknown_experimental_key() {
    let config = AgentConfig::from_text(
        &agent_block("    experimental {\n        sync_interval = \"2s\"\n    }\n"),
        &RunFlags::default(),
    )
    .unwrap();
    assert_eq!(config.sync_interval, Duration::from_secs(2));
    let msg = error_text(&agent_block(
        "    experimental {\n        bogus = 1\n    }\n",
    ));
    assert!(msg.contains("bogus") && msg.contains("line 10"), "{msg}");
}

#[test]
fn missing_agent_section() {
    assert!(error_text(PLUGINS).contains("agent section must be configured"));
}

#[test]
fn unix_attestor_path_discovery_and_size_limit() {
    let with = |data: &str| {
        let text = agent_block("").replace(
            "WorkloadAttestor \"unix\" {\n        plugin_data {}",
            &format!("WorkloadAttestor \"unix\" {{\n        plugin_data {{\n{data}\n}}"),
        );
        assert_ne!(text, agent_block(""), "the test edits the plugin block");
        AgentConfig::from_text(&text, &RunFlags::default())
            .unwrap()
            .workload_attestors
    };
    let unix = |discover_workload_path, workload_size_limit| WorkloadAttestorConfig::Unix {
        discover_workload_path,
        workload_size_limit,
    };
    assert_eq!(
        with("discover_workload_path = true"),
        vec![unix(true, Some(u64::MAX))]
    );
    assert_eq!(
        with("discover_workload_path = true\nworkload_size_limit = 1024"),
        vec![unix(true, Some(1024))]
    );
    assert_eq!(
        with("discover_workload_path = true\nworkload_size_limit = -1"),
        vec![unix(true, None)]
    );
}

#[test]
fn sds_block_admin_socket_and_delegates_decode_with_spire_defaults() {
    let config = AgentConfig::from_text(&agent_block(""), &RunFlags::default()).unwrap();
    assert_eq!(config.sds, SdsSettings::default());
    assert_eq!(config.sds.default_svid_name, "default");
    assert_eq!(config.sds.default_bundle_name, "ROOTCA");
    assert_eq!(config.sds.default_all_bundles_name, "ALL");
    assert!(!config.sds.disable_spiffe_cert_validation);
    assert!(config.authorized_delegates.is_empty());
    assert_eq!(config.admin_socket_path, None);

    let config = AgentConfig::from_text(
        &agent_block(
            "    admin_socket_path = \"/tmp/admin.sock\"\n    authorized_delegates = [\"spiffe://example.org/ztunnel\", \"spiffe://example.org/cni\"]\n    sds {\n        default_svid_name = \"mine\"\n        default_bundle_name = \"roots\"\n        default_all_bundles_name = \"everything\"\n        disable_spiffe_cert_validation = true\n    }\n",
        ),
        &RunFlags::default(),
    )
    .unwrap();
    assert_eq!(
        config.admin_socket_path,
        Some(PathBuf::from("/tmp/admin.sock"))
    );
    assert_eq!(
        config
            .authorized_delegates
            .iter()
            .map(|id| id.as_str())
            .collect::<Vec<_>>(),
        ["spiffe://example.org/ztunnel", "spiffe://example.org/cni"]
    );
    assert_eq!(config.sds.default_svid_name, "mine");
    assert_eq!(config.sds.default_bundle_name, "roots");
    assert_eq!(config.sds.default_all_bundles_name, "everything");
    assert!(config.sds.disable_spiffe_cert_validation);
}

#[test]
fn a_bad_delegate_id_or_sds_key_is_an_error_naming_it() {
    let text = error_text(&agent_block(
        "    authorized_delegates = [\"spiffe://Example.org/x\"]\n",
    ));
    assert!(text.contains("authorized_delegates"), "{text}");
    assert!(text.contains("spiffe://Example.org/x"), "{text}");
    let text = error_text(&agent_block(
        "    sds {\n        default_svid = \"x\"\n    }\n",
    ));
    assert!(text.contains("default_svid"), "{text}");
}

#[test]
fn k8s_and_systemd_attestors() {
    let with = |name: &str, data: &str| {
        let text = agent_block("").replace(
            "WorkloadAttestor \"unix\" {\n        plugin_data {}",
            &format!("WorkloadAttestor \"{name}\" {{\n        plugin_data {{\n{data}\n}}"),
        );
        AgentConfig::from_text(&text, &RunFlags::default())
            .map(|c| c.workload_attestors)
            .map_err(|e| spire_config::cli::error_chain(&e))
    };
    assert_eq!(
        with("systemd", "").unwrap(),
        vec![WorkloadAttestorConfig::Systemd]
    );
    let got = with("k8s", "").unwrap();
    let WorkloadAttestorConfig::K8s(k) = &got[0] else {
        panic!("{got:?}")
    };
    assert_eq!(k.secure_port, 10250);
    assert_eq!(k.read_only_port, None);
    assert_eq!(
        k.kubelet_ca_path.as_deref(),
        Some(std::path::Path::new(
            "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
        ))
    );
    assert_eq!(
        k.token_path.as_deref(),
        Some(std::path::Path::new(
            "/var/run/secrets/kubernetes.io/serviceaccount/token"
        ))
    );
    assert_eq!(k.node_name_env, "MY_NODE_NAME");
    assert_eq!(k.max_poll_attempts, 60);
    assert_eq!(k.poll_retry_interval, std::time::Duration::from_millis(500));

    let got = with(
        "k8s",
        "skip_kubelet_verification = true\nuse_anonymous_authentication = true\nnode_name = \"n1\"\nmax_poll_attempts = 5\npoll_retry_interval = \"2s\"\ndisable_container_selectors = true",
    )
    .unwrap();
    let WorkloadAttestorConfig::K8s(k) = &got[0] else {
        panic!("{got:?}")
    };
    assert_eq!(
        (k.kubelet_ca_path.clone(), k.token_path.clone()),
        (None, None)
    );
    assert_eq!(k.node_name.as_deref(), Some("n1"));
    assert_eq!(k.max_poll_attempts, 5);
    assert_eq!(k.poll_retry_interval, std::time::Duration::from_secs(2));
    assert!(k.disable_container_selectors);

    let msg = with(
        "k8s",
        "kubelet_read_only_port = 10255\nkubelet_secure_port = 10250",
    )
    .unwrap_err();
    assert!(msg.contains("kubelet_read_only_port"), "{msg}");
    let msg = with("k8s", "certificate_path = \"/c.pem\"").unwrap_err();
    assert!(msg.contains("certificate_path"), "{msg}");
}

#[test]
fn k8s_psat_node_attestor() {
    let with = |data: &str| {
        let text = agent_block("").replace(
            "NodeAttestor \"join_token\" {\n        plugin_data {}",
            &format!("NodeAttestor \"k8s_psat\" {{\n        plugin_data {{\n{data}\n}}"),
        );
        AgentConfig::from_text(&text, &RunFlags::default())
            .map(|c| c.node_attestor)
            .map_err(|e| spire_config::cli::error_chain(&e))
    };
    assert_eq!(
        with("cluster = \"prod\"").unwrap(),
        NodeAttestorConfig::K8sPsat {
            cluster: "prod".to_owned(),
            token_path: "/var/run/secrets/tokens/spire-agent".into(),
        }
    );
    assert_eq!(
        with("cluster = \"prod\"\ntoken_path = \"/t\"").unwrap(),
        NodeAttestorConfig::K8sPsat {
            cluster: "prod".to_owned(),
            token_path: "/t".into(),
        }
    );
    let msg = with("").unwrap_err();
    assert!(msg.contains("cluster"), "{msg}");
}
