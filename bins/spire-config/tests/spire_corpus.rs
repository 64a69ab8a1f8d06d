//! Parses SPIRE's own config files, when a copy of SPIRE's sources is at hand.
//!
//! SPIRE's files are not copied into this repository. Point `SPIRE_SOURCE_DIR` at a checkout
//! of `spiffe/spire` to run this over every `*.conf` under `conf/` and `test/integration/`
//! (the quickstart, `server_full.conf`, `agent_full.conf` and the integration suites):
//!
//! ```sh
//! SPIRE_SOURCE_DIR=~/src/spire cargo nextest run -p spire-config --test spire_corpus
//! ```
//!
//! Without it the test checks nothing and says so.

use spire_config::{decode_plugins, Config};
use std::path::{Path, PathBuf};

fn conf_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            conf_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "conf") {
            out.push(path);
        }
    }
}

/// Placeholders that SPIRE's integration suites replace with `sed` before use (e.g.
/// `suites/entries/00-setup`): not HCL until substituted.
const SUITE_PLACEHOLDERS: &[(&str, &str)] = &[("EVENTS_BASED_CACHE", "false")];

/// Whether a `.conf` file is a SPIRE server or agent config (the integration suites also hold
/// nginx, Envoy and Slurm files).
fn is_spire_config(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start();
        l.starts_with("server {") || l.starts_with("agent {") || l.starts_with("plugins {")
    })
}

#[test]
fn every_spire_config_parses_and_its_plugins_decode() {
    let Some(root) = std::env::var_os("SPIRE_SOURCE_DIR") else {
        eprintln!("SPIRE_SOURCE_DIR is not set: no SPIRE config files checked");
        return;
    };
    let root = PathBuf::from(root);
    let mut files = Vec::new();
    conf_files(&root.join("conf"), &mut files);
    conf_files(&root.join("test/integration"), &mut files);
    files.sort();
    let mut checked = 0;
    let mut failures = Vec::new();
    for path in &files {
        let mut text = std::fs::read_to_string(path).expect("readable");
        for (placeholder, value) in SUITE_PLACEHOLDERS {
            text = text.replace(placeholder, value);
        }
        if !is_spire_config(&text) {
            continue;
        }
        checked += 1;
        let result = Config::parse(&text).and_then(|c| {
            c.decode(|top| {
                let plugins = decode_plugins(top)?;
                for name in ["server", "agent", "telemetry", "health_checks"] {
                    top.ignore(name);
                }
                Ok(plugins)
            })
        });
        match result {
            Ok(plugins) => eprintln!("ok   {} ({} plugins)", path.display(), plugins.len()),
            Err(e) => failures.push(format!("{}: {e}", path.display())),
        }
    }
    eprintln!("{checked} SPIRE config files checked");
    assert!(
        checked > 0,
        "no SPIRE config files under {}",
        root.display()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
