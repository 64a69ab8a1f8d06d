//! What the nested-server process tests share: a root domain and downstream domains under it
//! (`UpstreamAuthority "spire"`), selectors by binary path, the server and agent CLIs, and
//! chain checks by an independent verifier (`openssl verify`).
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use daemon_harness::{AgentConfigFile, Domain, KeyManagerKind, ServerConfigFile, ServerProcess};

pub(crate) const TD: &str = "example.org";
pub(crate) const WAIT: Duration = Duration::from_secs(60);

pub(crate) fn canonical(path: &Path) -> String {
    std::fs::canonicalize(path)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// `unix:path:<bin>`, which an agent with `discover_workload_path = true` reports for a
/// caller running `bin`.
pub(crate) fn path_selector(bin: &Path) -> String {
    format!("unix:path:{}", canonical(bin))
}

pub(crate) fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A root domain whose agent also reports `unix:path` selectors, with its CA keys on disk so
/// a restarted root resumes its CA (its agents trust no other).
pub(crate) fn root_domain(dir: &Path) -> Domain {
    root_domain_with(dir, |_, _| {})
}

/// [`root_domain`], with `customize` applied to both configs before anything starts.
pub(crate) fn root_domain_with(
    dir: &Path,
    customize: impl FnOnce(&mut ServerConfigFile, &mut AgentConfigFile),
) -> Domain {
    Domain::start(&dir.join("root"), TD, |server, agent| {
        server.key_manager = KeyManagerKind::Disk;
        agent.unix_attestor_data = "            discover_workload_path = true".into();
        customize(server, agent);
    })
    .unwrap()
}

/// Registers the downstream server on the root: an entry marked `-downstream` for processes
/// of the server binary (the downstream server asks the root's agent for its identity).
pub(crate) fn register_downstream_server(root: &Domain) {
    root.create_entry(
        &format!("spiffe://{TD}/downstream"),
        &[&path_selector(&ServerProcess::binary())],
        &["-downstream"],
    )
    .unwrap();
}

/// The `UpstreamAuthority "spire"` block pointing at `root`.
pub(crate) fn spire_upstream(root: &Domain) -> String {
    format!(
        "    UpstreamAuthority \"spire\" {{\n        plugin_data {{\n            server_address = \"127.0.0.1\"\n            server_port = \"{}\"\n            workload_api_socket = \"{}\"\n        }}\n    }}\n",
        root.server_config.bind_port,
        root.agent_config.socket_path.display()
    )
}

/// A downstream domain under `root` in `<dir>/downstream`.
pub(crate) fn downstream_domain(dir: &Path, root: &Domain) -> std::io::Result<Domain> {
    downstream_domain_named(dir, "downstream", root, |_, _| {})
}

/// A downstream domain under `root` in `<dir>/<name>`, with `customize` applied to both
/// configs before anything starts.
pub(crate) fn downstream_domain_named(
    dir: &Path,
    name: &str,
    root: &Domain,
    customize: impl FnOnce(&mut ServerConfigFile, &mut AgentConfigFile),
) -> std::io::Result<Domain> {
    let block = spire_upstream(root);
    Domain::start(&dir.join(name), TD, move |server, agent| {
        server.extra_plugins = block;
        agent.unix_attestor_data = "            discover_workload_path = true".into();
        customize(server, agent);
    })
}

/// `bundle show` of `domain`'s server, written to `path`.
pub(crate) fn write_bundle(domain: &Domain, path: &Path) {
    let out = domain.server_cli(&["bundle", "show"]).unwrap();
    assert!(out.status.success(), "bundle show: {}", text(&out));
    std::fs::write(path, &out.stdout).unwrap();
}

/// The SVID the agent CLI gets from `domain`'s agent, written under `dir`; returns the path
/// of the chain (leaf first).
pub(crate) fn fetch_svid(domain: &Domain, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let out = domain.agent_cli(&["api", "fetch", "x509", "-write", &dir.display().to_string()]);
    assert!(out.status.success(), "api fetch x509: {}", text(&out));
    dir.join("svid.0.pem")
}

/// `openssl verify` of the chain in `chain` (leaf first) against the roots in `ca_file`.
pub(crate) fn openssl_verifies(ca_file: &Path, chain: &Path) -> (bool, String) {
    let out = Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(ca_file)
        .arg("-untrusted")
        .arg(chain)
        .arg(chain)
        .output()
        .unwrap();
    (out.status.success(), text(&out))
}

pub(crate) fn pem_count(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap()
        .matches("-----BEGIN CERTIFICATE-----")
        .count()
}

/// Polls `check` every 500 ms until it holds or `WAIT` passes.
pub(crate) fn eventually(what: &str, mut check: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + WAIT;
    loop {
        match check() {
            Ok(()) => return,
            Err(last) if Instant::now() >= deadline => panic!("{what}: {last}"),
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

pub(crate) fn healthcheck_verbose(domain: &Domain) -> String {
    text(&domain.server_cli(&["healthcheck", "-verbose"]).unwrap())
}

/// The issuer of the leaf in `chain` (`openssl x509 -issuer`).
pub(crate) fn leaf_issuer(chain: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-issuer", "-in"])
        .arg(chain)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
