//! The config file: SPIRE's keys and defaults, and every refusal naming what is wrong (through
//! `Settings::parse`), plus the command line's handling of a bad file, `-expandEnv` and stray
//! arguments (through the binary).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::ProviderProcess;
use spiffe_oidc_discovery_provider::config::{ListenerSettings, Settings, SourceSettings};

fn error(text: &str) -> String {
    match Settings::parse(text) {
        Ok(settings) => panic!("accepted: {settings:?}"),
        Err(e) => e.to_string(),
    }
}

const SERVER_API: &str = "server_api { address = \"unix:///tmp/spire-server/private/api.sock\" }";

#[test]
fn spire_readme_example_with_defaults() {
    let settings = Settings::parse(&format!(
        "log_level = \"debug\"\ndomains = [\"oidc.example.org\", \"oidc.example.org\"]\ninsecure_addr = \":8080\"\n{SERVER_API}\n"
    ))
    .unwrap();
    assert_eq!(
        settings.domains.domains().collect::<Vec<_>>(),
        ["oidc.example.org"]
    );
    assert_eq!(
        settings.listener,
        ListenerSettings::Insecure {
            addr: ":8080".into()
        }
    );
    assert_eq!(
        settings.source,
        SourceSettings::ServerApi {
            socket_path: PathBuf::from("/tmp/spire-server/private/api.sock"),
            poll_interval: Duration::from_secs(10),
        }
    );
    assert!(!settings.set_key_use && !settings.allow_insecure_scheme);
    assert!(settings.health_checks.is_none());
    assert_eq!(settings.server_path_prefix, "/");
}

#[test]
fn workload_api_serving_cert_and_health_defaults() {
    let settings = Settings::parse(
        r#"
domains = ["oidc.example.org"]
serving_cert_file {
    cert_file_path = "/certs/tls.crt"
    key_file_path = "/certs/tls.key"
    addr = "127.0.0.1:8443"
    file_sync_interval = "5s"
}
workload_api {
    socket_path = "/tmp/spire-agent/public/api.sock"
    trust_domain = "example.org"
    poll_interval = "2s"
}
health_checks {}
set_key_use = true
"#,
    )
    .unwrap();
    match &settings.listener {
        ListenerSettings::ServingCertFile(files) => {
            assert_eq!(files.addr.to_string(), "127.0.0.1:8443");
            assert_eq!(files.file_sync_interval, Duration::from_secs(5));
            assert_eq!(files.cert_file_path, PathBuf::from("/certs/tls.crt"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(settings.source.poll_interval(), Duration::from_secs(2));
    let health = settings.health_checks.unwrap();
    assert_eq!(
        (
            health.bind_port,
            health.live_path.as_str(),
            health.ready_path.as_str()
        ),
        (8008, "/live", "/ready")
    );
    assert!(settings.set_key_use);
}

#[test]
fn unknown_keys_name_key_and_line() {
    assert_eq!(
        error(&format!(
            "domains = [\"a.example\"]\ninsecure_addr = \":1\"\n{SERVER_API}\nlog_levle = \"debug\"\n"
        )),
        "unknown key \"log_levle\" in config file at line 4"
    );
    assert_eq!(
        error(
            "domains = [\"a.example\"]\ninsecure_addr = \":1\"\nserver_api {\n  address = \"unix:///x\"\n  pol_interval = \"1s\"\n}\n"
        ),
        "unknown key \"pol_interval\" in server_api block at line 5"
    );
}

#[test]
fn cross_key_rules_are_spires() {
    let cases: [(&str, &str); 8] = [
        (
            "insecure_addr = \":1\"\nserver_api { address = \"unix:///x\" }",
            "at least one domain must be configured",
        ),
        (
            "domains = [\"a.example\"]\nserver_api { address = \"unix:///x\" }",
            "either acme, serving_cert_file, insecure_addr or listen_socket_path must be configured",
        ),
        (
            "domains = [\"a.example\"]\ninsecure_addr = \":1\"",
            "exactly one of the server_api, workload_api, or file sections must be configured",
        ),
        (
            "domains = [\"a.example\"]\ninsecure_addr = \":1\"\nserver_api { address = \"unix:///x\" }\nworkload_api {\n socket_path = \"/s\"\n trust_domain = \"example.org\"\n}",
            "the server_api, workload_api, and file sections are mutually exclusive",
        ),
        (
            "domains = [\"a.example\"]\ninsecure_addr = \":1\"\nlisten_socket_path = \"/tmp/x.sock\"\nserver_api { address = \"unix:///x\" }",
            "insecure_addr and listen_socket_path are mutually exclusive",
        ),
        (
            "domains = [\"a.example\"]\ninsecure_addr = \":1\"\nserving_cert_file {\n cert_file_path = \"c\"\n key_file_path = \"k\"\n}\nserver_api { address = \"unix:///x\" }",
            "serving_cert_file and insecure_addr are mutually exclusive",
        ),
        (
            "domains = [\"a.example\"]\ninsecure_addr = \":1\"\nserver_api { address = \"dns:///spire-server:8081\" }",
            "address must use the unix name system in the server_api configuration section",
        ),
        (
            "domains = [\"a.example\"]\ninsecure_addr = \":1\"\nworkload_api { socket_path = \"/s\" }",
            "missing required key \"trust_domain\" in workload_api block",
        ),
    ];
    for (text, expected) in cases {
        let message = error(text);
        assert!(
            message.contains(expected),
            "{text:?}: {message:?} does not contain {expected:?}"
        );
    }
}

#[test]
fn acme_is_refused_with_the_alternatives() {
    let message = error(&format!(
        "domains = [\"a.example\"]\n{SERVER_API}\nacme {{\n  email = \"me@example.org\"\n  tos_accepted = true\n}}\n"
    ));
    assert!(
        message.contains("acme section (line 3) is not supported"),
        "{message}"
    );
    assert!(message.contains("serving_cert_file"), "{message}");
    // A typo inside the refused block is still a typo.
    let typo = error(&format!(
        "domains = [\"a.example\"]\n{SERVER_API}\nacme {{\n  emial = \"me@example.org\"\n}}\n"
    ));
    assert_eq!(typo, "unknown key \"emial\" in acme block at line 4");
}

#[test]
fn bad_values_are_named() {
    let base = format!("insecure_addr = \":1\"\n{SERVER_API}\n");
    for (extra, expected) in [
        (
            "domains = [\"Upper.example\"]",
            "must already be punycode encoded",
        ),
        ("domains = [\"a_b.example\"]", "is not a valid domain name"),
        (
            "domains = [\"a.example\"]\njwt_issuer = \"/no/scheme\"",
            "jwt_issuer url must contain a scheme",
        ),
        (
            "domains = [\"a.example\"]\njwks_uri = \"keys\"",
            "the jwks_uri setting could not be parsed",
        ),
        (
            "domains = [\"a.example\"]\nlog_level = \"loud\"",
            "invalid value for \"log_level\"",
        ),
        (
            "domains = [\"a.example\"]\nexperimental { listen_named_pipe_name = \"oidc\" }",
            "listen_named_pipe_name",
        ),
    ] {
        let message = error(&format!("{base}{extra}\n"));
        assert!(
            message.contains(expected),
            "{extra:?}: {message:?} does not contain {expected:?}"
        );
    }
}

#[test]
fn binary_reports_a_bad_config_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oidc.conf");
    std::fs::write(
        &path,
        "domains = [\"a.example\"]\ninsecure_addr = \":1\"\nserver_api { address = \"unix:///x\" }\nbogus = 1\n",
    )
    .unwrap();
    let (code, output) =
        ProviderProcess::spawn(&["-config", path.to_str().unwrap()], &[]).wait_exit();
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("unknown key \"bogus\" in config file at line 4"),
        "{output}"
    );

    let missing = dir.path().join("absent.conf");
    let (code, output) =
        ProviderProcess::spawn(&["-config", missing.to_str().unwrap()], &[]).wait_exit();
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("unable to load configuration"), "{output}");
    assert!(output.contains("absent.conf"), "{output}");

    let (code, output) = ProviderProcess::spawn(&["-config", "x", "extra"], &[]).wait_exit();
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("unexpected arguments"), "{output}");
}

#[test]
fn expand_env_substitutes_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oidc.conf");
    let socket = dir.path().join("oidc.sock");
    std::fs::write(
        &path,
        "domains = [\"$OIDC_TEST_DOMAIN\"]\nlisten_socket_path = \"${OIDC_TEST_SOCKET}\"\nserver_api { address = \"unix:///nonexistent/api.sock\" }\n",
    )
    .unwrap();
    let env = [
        ("OIDC_TEST_DOMAIN", "oidc.example.org"),
        ("OIDC_TEST_SOCKET", socket.to_str().unwrap()),
    ];
    // Without -expandEnv the literal `$OIDC_TEST_DOMAIN` is not a domain name.
    let (code, output) =
        ProviderProcess::spawn(&["-config", path.to_str().unwrap()], &env).wait_exit();
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("is not a valid domain name"), "{output}");

    let mut provider =
        ProviderProcess::spawn(&["-config", path.to_str().unwrap(), "-expandEnv"], &env);
    assert!(
        provider.wait_for_line(common::TIMEOUT, |l| l.contains("Serving HTTP")),
        "{}",
        provider.output()
    );
    assert!(socket.exists());
    assert_eq!(provider.terminate(), Some(0), "{}", provider.output());
}

#[test]
fn rules_about_the_whole_file_name_no_line_and_block_rules_do() {
    assert_eq!(
        error(&format!("insecure_addr = \":1\"\n{SERVER_API}\n")),
        "at least one domain must be configured"
    );
    assert_eq!(
        error("domains = [\"a.example\"]\ninsecure_addr = \":1\"\nserver_api { address = \"unix:///x\" }\nfile { path = \"/b.json\" }\n"),
        "the server_api, workload_api, and file sections are mutually exclusive (line 4)"
    );
}

/// Every HCL example of the user guide parses (the server.conf excerpt aside).
#[test]
fn docs_examples_parse() {
    let doc = include_str!("../../../docs/oidc.md");
    let mut parsed = 0;
    for block in doc.split("```hcl\n").skip(1) {
        let block = block.split("```").next().unwrap();
        if block.contains("server {") {
            continue;
        }
        if let Err(e) = Settings::parse(block) {
            panic!("{e}\n{block}");
        }
        parsed += 1;
    }
    assert_eq!(parsed, 2, "the server and the agent examples");
}
