//! Decoding sections: typed reads, SPIRE's leniencies, and unknown keys as errors.

use spire_config::{
    check_plugins, decode_plugins, load_file, Config, ConfigError, Decoder, FromSection, ItemKind,
    LoadError, PluginData, Pos,
};
use std::time::Duration;

fn data(name: &str) -> String {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn config(text: &str) -> Config {
    Config::parse(text).unwrap_or_else(|e| panic!("{e}"))
}

/// What a daemon's typed settings look like with the decoder.
#[derive(Debug, PartialEq)]
struct Server {
    trust_domain: String,
    bind_address: String,
    bind_port: u16,
    socket_path: String,
    data_dir: Option<String>,
    log_level: Option<String>,
    ca_ttl: Option<Duration>,
    admin_ids: Vec<String>,
    audit_log_enabled: bool,
    ca_subject: Option<Subject>,
}

#[derive(Debug, PartialEq)]
struct Subject {
    country: Vec<String>,
    organization: Vec<String>,
    common_name: Option<String>,
}

impl FromSection for Subject {
    fn from_section(d: &mut Decoder<'_>) -> Result<Self, ConfigError> {
        Ok(Subject {
            country: d.optional_str_list("country")?.unwrap_or_default(),
            organization: d.optional_str_list("organization")?.unwrap_or_default(),
            common_name: d.optional_str("common_name")?,
        })
    }
}

impl FromSection for Server {
    fn from_section(d: &mut Decoder<'_>) -> Result<Self, ConfigError> {
        Ok(Server {
            trust_domain: d.required_str("trust_domain")?,
            bind_address: d
                .optional_str("bind_address")?
                .unwrap_or_else(|| "0.0.0.0".into()),
            bind_port: d.optional_u16("bind_port")?.unwrap_or(8081),
            socket_path: d
                .optional_str("socket_path")?
                .unwrap_or_else(|| "/tmp/spire-server/private/api.sock".into()),
            data_dir: d.optional_str("data_dir")?,
            log_level: d.optional_str("log_level")?,
            ca_ttl: d.optional_duration("ca_ttl")?,
            admin_ids: d.optional_str_list("admin_ids")?.unwrap_or_default(),
            audit_log_enabled: d.optional_bool("audit_log_enabled")?.unwrap_or(false),
            ca_subject: d.optional_block("ca_subject")?,
        })
    }
}

fn server(text: &str) -> Result<Server, ConfigError> {
    Config::parse(text)?.decode(|top| top.required_block("server"))
}

#[test]
fn minimal_server_config_decodes() {
    let config = config(&data("server-minimal.conf"));
    let (server, plugins) = config
        .decode(|top| {
            Ok((
                top.required_block::<Server>("server")?,
                decode_plugins(top)?,
            ))
        })
        .expect("decodes");
    assert_eq!(server.trust_domain, "example.org");
    assert_eq!(server.bind_address, "127.0.0.1");
    assert_eq!(server.bind_port, 8081);
    assert_eq!(server.log_level.as_deref(), Some("DEBUG"));
    let names: Vec<String> = plugins.iter().map(|p| p.describe()).collect();
    assert_eq!(
        names,
        [
            "DataStore \"sql\"",
            "NodeAttestor \"join_token\"",
            "KeyManager \"memory\""
        ]
    );
}

#[test]
fn unknown_keys_are_errors_naming_key_and_line() {
    let err =
        server("server {\n  trust_domain = \"x\"\n\n  bind_prot = 8081\n}").expect_err("fails");
    assert_eq!(
        err.to_string(),
        "unknown key \"bind_prot\" in server block at line 4"
    );
    assert!(matches!(
        err,
        ConfigError::Unknown {
            kind: ItemKind::Key,
            pos: Pos { line: 4, column: 3 },
            ..
        }
    ));

    let err = server("server {\n  trust_domain = \"x\"\n  ca_subjet { country = [\"US\"] }\n}")
        .expect_err("fails");
    assert_eq!(
        err.to_string(),
        "unknown block \"ca_subjet\" in server block at line 3"
    );

    let err =
        server("server {\n  trust_domain = \"x\"\n  ca_subject {\n    contry = [\"US\"]\n  }\n}")
            .expect_err("fails");
    assert_eq!(
        err.to_string(),
        "unknown key \"contry\" in server.ca_subject block at line 4"
    );

    let err = config("server { trust_domain = \"x\" }\nsrever {}")
        .decode(|top| top.required_block::<Server>("server"))
        .expect_err("fails");
    assert_eq!(
        err.to_string(),
        "unknown block \"srever\" in config file at line 2"
    );
}

#[test]
fn missing_and_mistyped_values() {
    let err = server("server {\n  bind_port = 1\n}").expect_err("fails");
    assert_eq!(
        err.to_string(),
        "missing required key \"trust_domain\" in server block (line 1)"
    );

    let err = server("server {\n  trust_domain = [\"x\"]\n}").expect_err("fails");
    assert_eq!(
        err.to_string(),
        "\"trust_domain\" in server block at line 2: expected a string, found a list"
    );

    let err =
        server("server {\n  trust_domain = \"x\"\n  bind_port = 80810\n}").expect_err("fails");
    assert_eq!(
        err.to_string(),
        "invalid value for \"bind_port\" in server block at line 3: out of range (0 to 65535)"
    );

    let err =
        server("server {\n  trust_domain = \"x\"\n  bind_port = \"eighty\"\n}").expect_err("fails");
    assert_eq!(
        err.to_string(),
        "invalid value for \"bind_port\" in server block at line 3: not an integer"
    );

    let err = server("server { trust_domain = \"x\"\n ca_ttl = \"1d\" }").expect_err("fails");
    assert_eq!(
        err.to_string(),
        "invalid value for \"ca_ttl\" in server block at line 2: unknown unit \"d\" in duration (units: ns, us, ms, s, m, h)"
    );
    let err = server("server { trust_domain = \"x\"\n ca_ttl = 3600 }").expect_err("fails");
    assert!(
        err.to_string().contains("missing unit in duration"),
        "{err}"
    );

    let err =
        server("server { trust_domain = \"x\"\n audit_log_enabled = \"yes\" }").expect_err("fails");
    assert_eq!(
        err.to_string(),
        "invalid value for \"audit_log_enabled\" in server block at line 2: expected true or false"
    );

    let err = server("server { trust_domain \"x\" { } }").expect_err("fails");
    assert_eq!(
        err.to_string(),
        "\"trust_domain\" in server block at line 1: expected a string, found a block"
    );

    let err = config("server = \"x\"")
        .decode(|top| top.required_block::<Server>("server"))
        .expect_err("fails");
    assert_eq!(
        err.to_string(),
        "\"server\" in config file at line 1: expected a block, found a string"
    );
}

#[test]
fn errors_never_echo_values() {
    let secret = "hunter2-join-token";
    for text in [
        format!("server {{ trust_domain = \"x\"\n bind_port = \"{secret}\" }}"),
        format!("server {{ trust_domain = \"x\"\n ca_ttl = \"{secret}\" }}"),
        format!("server {{ trust_domain = \"x\"\n audit_log_enabled = \"{secret}\" }}"),
    ] {
        let err = server(&text).expect_err("fails").to_string();
        assert!(!err.contains(secret), "{err}");
    }
}

#[test]
fn hcl1_leniencies() {
    // Ports quoted or bare, Go integer syntax in strings, bools as strings, numbers as strings.
    let s = server(
        "server {\n trust_domain = 123\n bind_port = \"0x1F91\"\n audit_log_enabled = \"true\"\n}",
    )
    .expect("ok");
    assert_eq!(s.trust_domain, "123");
    assert_eq!(s.bind_port, 8081);
    assert!(s.audit_log_enabled);

    // Keys match case-insensitively, as HCL1's do.
    let s = config("Server { Trust_Domain = \"x\" }")
        .decode(|top| top.required_block::<Server>("server"))
        .expect("ok");
    assert_eq!(s.trust_domain, "x");

    // A repeated block merges; a repeated key keeps its last value; lists concatenate.
    let s = server(
        "server { trust_domain = \"a\"\n admin_ids = [\"x\"] }\nserver { trust_domain = \"b\"\n admin_ids = [\"y\"] }",
    )
    .expect("ok");
    assert_eq!(s.trust_domain, "b");
    assert_eq!(s.admin_ids, ["x", "y"]);

    // `k = { }` and `k { }` are the same.
    let s = server("server = { trust_domain = \"x\", ca_subject = { country = [\"US\"] } }")
        .expect("ok");
    assert_eq!(s.ca_subject.map(|c| c.country), Some(vec!["US".to_owned()]));

    // A list where a string is expected and vice versa are errors, as in SPIRE.
    let err = server("server { trust_domain = \"x\"\n admin_ids = \"spiffe://x/y\" }")
        .expect_err("fails");
    assert_eq!(
        err.to_string(),
        "\"admin_ids\" in server block at line 2: expected a list of strings, found a string"
    );
}

#[test]
fn full_server_config_decodes_every_form() {
    let config = config(&data("server-full.conf"));
    config
        .decode(|top| {
            let plugins = decode_plugins(top)?;
            let described: Vec<String> = plugins.iter().map(|p| p.describe()).collect();
            assert_eq!(
                described,
                [
                    "DataStore \"sql\"",
                    "KeyManager \"disk\"",
                    "NodeAttestor \"join_token\"",
                    "NodeAttestor \"x509pop\"",
                    "NodeAttestor \"tpm\"",
                    "UpstreamAuthority \"disk\""
                ]
            );
            // plugin_data decodes later, with its own unknown-key check and path.
            let PluginData::Inline(sql) = &plugins[0].data else { panic!("inline data") };
            let (db, conns, lifetime) = sql.decode(|p| {
                let db = p.required_str("database_type")?;
                let conns = p.optional_u32("max_open_conns")?;
                p.optional_u32("max_idle_conns")?;
                let lifetime = p.optional_duration("conn_max_lifetime")?;
                p.required_str("connection_string")?;
                Ok((db, conns, lifetime))
            })?;
            assert_eq!((db.as_str(), conns, lifetime), ("postgres", Some(10), Some(Duration::from_secs(1800))));
            let err = sql.decode(|p| p.required_str("database_type")).expect_err("fails");
            assert_eq!(
                err.to_string(),
                "unknown key \"connection_string\" in plugins.DataStore.sql.plugin_data block at line 64"
            );
            let PluginData::Inline(tpm) = &plugins[4].data else { panic!("inline data") };
            assert_eq!(tpm.decode(|p| p.required_str("ca_path"))?, "/etc/spire/tpm-ca");
            assert!(!plugins[5].enabled);
            assert_eq!(plugins[5].data, PluginData::File("/etc/spire/upstream.hcl".into()));

            // Labeled blocks read as maps.
            top.required_block_with("server", |s| {
                for key in [
                    "bind_address", "bind_port", "socket_path", "trust_domain", "data_dir", "log_level", "log_format",
                    "log_file", "audit_log_enabled", "admin_ids", "ca_ttl", "ca_key_type", "default_x509_svid_ttl",
                    "default_jwt_svid_ttl", "jwt_issuer", "jwt_key_type", "ca_subject", "experimental",
                ] {
                    assert!(s.ignore(key).is_some(), "{key}");
                }
                let (attestation, signing) = s.required_block_with("ratelimit", |r| {
                    Ok((r.optional_bool("attestation")?, r.optional_bool("signing")?))
                })?;
                assert_eq!((attestation, signing), (Some(true), Some(false)));
                s.required_block_with("federation", |f| {
                    f.required_block_with("bundle_endpoint", |b| {
                        assert_eq!(b.optional_u16("port")?, Some(8443));
                        assert_eq!(b.optional_duration("refresh_hint")?, Some(Duration::from_secs(300)));
                        b.ignore("address");
                        let profiles = b.named_sections("profile")?;
                        assert_eq!(profiles.len(), 1);
                        assert_eq!(profiles[0].0.name, "https_spiffe");
                        Ok(())
                    })?;
                    let feds = f.named_sections("federates_with")?;
                    let tds: Vec<&str> = feds.iter().map(|(k, _)| k.name.as_str()).collect();
                    assert_eq!(tds, ["domain1.test", "domain2.test"]);
                    feds[0].1.decode(|fw| {
                        fw.required_str("bundle_endpoint_url")?;
                        let profile = fw.named_sections("bundle_endpoint_profile")?;
                        assert_eq!(profile[0].0.name, "https_spiffe");
                        let id = profile[0].1.decode(|p| p.required_str("endpoint_spiffe_id"))?;
                        assert_eq!(id, "spiffe://domain1.test/spire/server");
                        Ok(())
                    })?;
                    feds[1].1.decode(|fw| {
                        fw.ignore("bundle_endpoint_url");
                        fw.ignore("bundle_endpoint_profile");
                        Ok(())
                    })
                })
            })?;
            top.ignore("health_checks");
            top.ignore("telemetry");
            Ok(())
        })
        .expect("decodes");
}

#[test]
fn named_sections_accept_every_hcl1_form() {
    for text in [
        "federates_with \"a.test\" { url = \"u\" }",
        "federates_with { \"a.test\" { url = \"u\" } }",
        "federates_with = { \"a.test\" = { url = \"u\" } }",
        "\"federates_with\" \"a.test\" { url = \"u\" }",
    ] {
        let got = config(text)
            .decode(|top| {
                top.named_sections("federates_with")?
                    .into_iter()
                    .map(|(k, s)| Ok((k.name, s.decode(|d| d.required_str("url"))?)))
                    .collect::<Result<Vec<_>, ConfigError>>()
            })
            .unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(got, [("a.test".to_owned(), "u".to_owned())], "{text}");
    }
}

#[test]
fn repeated_sections_from_blocks_or_lists_of_objects() {
    for text in [
        "DogStatsd = [{ address = \"a\" }, { address = \"b\" }]",
        "DogStatsd { address = \"a\" }\nDogStatsd { address = \"b\" }",
    ] {
        let addresses = config(text)
            .decode(|top| {
                top.repeated_sections("DogStatsd")?
                    .iter()
                    .map(|s| s.decode(|d| d.required_str("address")))
                    .collect::<Result<Vec<_>, _>>()
            })
            .expect("decodes");
        assert_eq!(addresses, ["a", "b"], "{text}");
    }
}

#[test]
fn plugin_checks() {
    const OURS: &spire_config::PluginTable =
        &[("KeyManager", &["disk", "memory"]), ("DataStore", &["sql"])];
    let check = |text: &str| {
        let plugins = config(text).decode(decode_plugins)?;
        check_plugins(&plugins, OURS, spire_config::catalog::SPIRE_SERVER_PLUGINS)
    };
    check("plugins { KeyManager \"disk\" { plugin_data { keys_path = \"k\" } } }")
        .expect("provided");
    assert_eq!(
        check("plugins {\n  KeyManager \"aws_kms\" {\n  }\n}")
            .expect_err("fails")
            .to_string(),
        "KeyManager \"aws_kms\" is a SPIRE plugin this implementation does not provide (line 2)"
    );
    assert_eq!(
        check("plugins { KeyManager \"nope\" {} }")
            .expect_err("fails")
            .to_string(),
        "unknown KeyManager plugin \"nope\" (line 1)"
    );
    assert_eq!(
        check("plugins { KeyManagr \"disk\" {} }")
            .expect_err("fails")
            .to_string(),
        "unknown plugin type \"KeyManagr\" (line 1)"
    );
    assert_eq!(
        check("plugins { KeyManager \"disk\" { plugin_cmd = \"/bin/x\" } }").expect_err("fails").to_string(),
        "external plugin KeyManager \"disk\" (plugin_cmd) is a SPIRE feature this implementation does not provide (line 1)"
    );
    check("plugins { KeyManager \"aws_kms\" { enabled = false } }")
        .expect("disabled plugins are not loaded");
    assert_eq!(
        check("plugins {\n KeyManager \"disk\" {}\n}\nplugins {\n KeyManager { disk {} }\n}")
            .expect_err("fails")
            .to_string(),
        "plugin \"KeyManager\"/\"disk\" declared more than once (lines 2 and 5)"
    );
    assert_eq!(
        check("plugins { KeyManager \"disk\" {\n plugin_data {}\n plugin_data_file = \"f\" } }")
            .expect_err("fails")
            .to_string(),
        "KeyManager \"disk\" at line 1: only one of [plugin_data, plugin_data_file] can be used"
    );
    assert_eq!(
        check("plugins { KeyManager \"disk\" {\n plugin_dat {} } }")
            .expect_err("fails")
            .to_string(),
        "unknown block \"plugin_dat\" in plugins.KeyManager.disk block at line 2"
    );
}

#[test]
fn json_config_decodes_like_hcl() {
    let config = config(&data("server.json"));
    config
        .decode(|top| {
            let s = top.required_block_with("server", |s| {
                Ok((
                    s.required_str("trust_domain")?,
                    s.optional_u16("bind_port")?,
                    s.optional_str_list("admin_ids")?,
                ))
            })?;
            assert_eq!(
                s,
                (
                    "example.org".into(),
                    Some(8081),
                    Some(vec!["spiffe://example.org/admin".into()])
                )
            );
            let plugins = decode_plugins(top)?;
            assert_eq!(plugins.len(), 2);
            assert_eq!(plugins[0].describe(), "DataStore \"sql\"");
            top.required_block_with("telemetry", |t| {
                assert_eq!(
                    t.optional_block_with("Prometheus", |p| p.optional_u16("port"))?,
                    Some(Some(9988))
                );
                assert!(t.repeated_sections("DogStatsd")?.is_empty());
                Ok(())
            })
        })
        .expect("decodes");
}

#[test]
fn expand_env_before_parsing() {
    let text = data("agent-full.conf");
    let env = |name: &str| (name == "JOIN_TOKEN").then(|| "tok".to_owned());
    let token = |c: Config| {
        c.decode(|top| {
            let t = top.required_block_with("agent", |a| {
                let t = a.required_str("join_token");
                for key in [
                    "data_dir",
                    "log_level",
                    "log_format",
                    "server_address",
                    "server_port",
                    "socket_path",
                    "admin_socket_path",
                    "trust_bundle_url",
                    "trust_bundle_format",
                    "insecure_bootstrap",
                    "trust_domain",
                ] {
                    a.ignore(key);
                }
                t
            })?;
            for key in ["plugins", "health_checks", "telemetry"] {
                top.ignore(key);
            }
            Ok(t)
        })
    };
    assert_eq!(
        token(Config::parse_expanded(&text, env).expect("parses")).expect("decodes"),
        "tok"
    );
    // Without -expandEnv the text stays, as in SPIRE.
    assert_eq!(token(config(&text)).expect("decodes"), "${JOIN_TOKEN}");
}

#[test]
fn load_file_errors_read_as_spire() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope.conf");
    let err = load_file(&missing, false).expect_err("fails");
    assert_eq!(
        err.to_string(),
        format!(
            "could not find config file {}: please use the -config flag",
            missing.display()
        )
    );

    let bad = dir.path().join("bad.conf");
    std::fs::write(&bad, "server {").expect("write");
    let err = load_file(&bad, false).expect_err("fails");
    assert!(matches!(err, LoadError::Decode { .. }));
    assert_eq!(
        err.to_string(),
        format!("unable to decode configuration at \"{}\"", bad.display())
    );
    let source = std::error::Error::source(&err).map(ToString::to_string);
    assert_eq!(
        source.as_deref(),
        Some("syntax error at line 1, column 9: expected `}`, found end of file")
    );

    let good = dir.path().join("good.conf");
    std::fs::write(&good, "server { trust_domain = \"$TD_FOR_TEST_UNSET\" }").expect("write");
    let td = |c: Config| {
        c.decode(|top| top.required_block_with("server", |s| s.required_str("trust_domain")))
    };
    assert_eq!(
        td(load_file(&good, false).expect("loads")).expect("ok"),
        "$TD_FOR_TEST_UNSET"
    );
    assert_eq!(td(load_file(&good, true).expect("loads")).expect("ok"), "");
}

#[test]
fn plugin_data_comes_inline_from_a_file_or_empty() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("disk.hcl");
    std::fs::write(&file, "directory = \"${DATA}/keys\"\n").expect("write");
    let text = format!(
        "plugins {{\n KeyManager \"disk\" {{ plugin_data_file = \"{}\" }}\n NodeAttestor \"join_token\" {{ plugin_data {{ a = \"inline\" }} }}\n WorkloadAttestor \"unix\" {{}}\n}}",
        file.display()
    );
    let decls = Config::parse(&text)
        .expect("parse")
        .decode(decode_plugins)
        .expect("plugins");
    let read = |i: usize, key: &str, expand: bool| {
        decls[i]
            .data_section(expand)
            .expect("data")
            .decode(|d| d.optional_str(key))
            .expect("decode")
    };
    std::env::set_var("DATA", "/var/lib/spire");
    assert_eq!(
        read(0, "directory", true).as_deref(),
        Some("/var/lib/spire/keys")
    );
    assert_eq!(read(0, "directory", false).as_deref(), Some("${DATA}/keys"));
    assert_eq!(read(1, "a", false).as_deref(), Some("inline"));
    assert_eq!(read(2, "a", false), None);

    std::fs::remove_file(&file).expect("remove");
    let missing = decls[0].data_section(false).expect_err("the file is gone");
    assert!(missing.to_string().contains("disk.hcl"), "{missing}");
}
