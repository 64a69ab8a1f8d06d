//! A whole trust domain as processes: a server, and an agent attested to it with a join token,
//! set up the way an operator would with the server's CLI.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use spiffe_server::testing::process::{ServerConfigFile, ServerProcess};

use crate::agent::{agent_cli, run_bounded, AgentConfigFile, AgentProcess, START_TIMEOUT};

/// The uid of this (test) process, for `unix:uid:<uid>` selectors.
pub fn current_uid() -> u32 {
    std::fs::metadata("/proc/self").expect("/proc/self").uid()
}

/// A server and one attested agent of one trust domain; both processes are killed on drop.
#[derive(Debug)]
#[non_exhaustive]
pub struct Domain {
    /// The trust domain's name.
    pub trust_domain: String,
    /// The server's config.
    pub server_config: ServerConfigFile,
    /// The server process.
    pub server: ServerProcess,
    /// The agent's config.
    pub agent_config: AgentConfigFile,
    /// The agent process.
    pub agent: AgentProcess,
    /// The agent's SPIFFE ID (`spiffe://<td>/spire/agent/join_token/<token>`), the parent of
    /// entries made with [`create_entry`](Self::create_entry).
    pub agent_id: String,
    /// The PEM bundle the agent bootstrapped from (`bundle show`).
    pub bootstrap_bundle: PathBuf,
}

impl Domain {
    /// Starts a server of `trust_domain` in `<dir>/server` (SQLite, memory keys, entry cache
    /// reloaded every second), writes its bundle as an operator would (`bundle show` →
    /// `<dir>/bootstrap.crt`), generates a join token (`token generate`) and starts an agent
    /// in `<dir>/agent` with it, waiting until the agent serves its Workload API.
    ///
    /// `customize` may change both configs before anything starts (ports are chosen already;
    /// the agent's `trust_bundle_path` is set to the bootstrap bundle afterwards unless
    /// `customize` set one).
    pub fn start(
        dir: &Path,
        trust_domain: &str,
        customize: impl FnOnce(&mut ServerConfigFile, &mut AgentConfigFile),
    ) -> io::Result<Self> {
        Self::start_with_env(dir, trust_domain, &[], customize)
    }

    /// Like [`start`](Self::start), the server process with extra environment variables
    /// (e.g. `SSL_CERT_FILE` for its `https_web` federation client).
    pub fn start_with_env(
        dir: &Path,
        trust_domain: &str,
        server_env: &[(&str, &str)],
        customize: impl FnOnce(&mut ServerConfigFile, &mut AgentConfigFile),
    ) -> io::Result<Self> {
        let mut server_config = ServerConfigFile::new(&dir.join("server"));
        server_config.trust_domain = trust_domain.to_owned();
        server_config.cache_reload_interval = Some("1s".into());
        let mut agent_config =
            AgentConfigFile::new(&dir.join("agent"), trust_domain, server_config.bind_port);
        customize(&mut server_config, &mut agent_config);
        let server =
            ServerProcess::start_with_env(&ServerProcess::binary(), &server_config, server_env)?;
        let socket = server_config.socket_path.display().to_string();

        let bundle = checked(server_cli_at(&socket, &["bundle", "show"])?, "bundle show")?;
        let bootstrap_bundle = dir.join("bootstrap.crt");
        std::fs::write(&bootstrap_bundle, &bundle.stdout)?;
        if agent_config.trust_bundle_path.is_none() {
            agent_config.trust_bundle_path = Some(bootstrap_bundle.clone());
        }

        let token = checked(
            server_cli_at(&socket, &["token", "generate", "-ttl", "600"])?,
            "token generate",
        )?;
        let stdout = String::from_utf8_lossy(&token.stdout);
        let token = stdout
            .lines()
            .find_map(|l| l.strip_prefix("Token: "))
            .ok_or_else(|| io::Error::other(format!("no token in `token generate`: {stdout}")))?
            .trim()
            .to_owned();
        let agent = AgentProcess::start(&agent_config, &["-joinToken", &token]).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("{e}\n--- server ---\n{}", server.output()),
            )
        })?;
        Ok(Self {
            trust_domain: trust_domain.to_owned(),
            agent_id: format!("spiffe://{trust_domain}/spire/agent/join_token/{token}"),
            server_config,
            server,
            agent_config,
            agent,
            bootstrap_bundle,
        })
    }

    /// `spiffe-server <args>` against this domain's server (`-socketPath` is added after the
    /// verbs), bounded in time.
    pub fn server_cli(&self, args: &[&str]) -> io::Result<Output> {
        server_cli_at(&self.server_config.socket_path.display().to_string(), args)
    }

    /// `spiffe-agent <args>` against this domain's agent (`-socketPath` is added after the
    /// verbs), bounded in time.
    pub fn agent_cli(&self, args: &[&str]) -> Output {
        let socket = self.agent_config.socket_arg();
        agent_cli(&with_socket(args, &socket))
    }

    /// `entry create -parentID <the agent> -spiffeID <spiffe_id> -selector …` plus `extra`
    /// flags (e.g. `-federatesWith`, `-x509SVIDTTL`); returns the new entry's ID.
    pub fn create_entry(
        &self,
        spiffe_id: &str,
        selectors: &[&str],
        extra: &[&str],
    ) -> io::Result<String> {
        let mut args = vec![
            "entry",
            "create",
            "-parentID",
            &self.agent_id,
            "-spiffeID",
            spiffe_id,
        ];
        for selector in selectors {
            args.extend(["-selector", selector]);
        }
        args.extend(extra);
        let out = checked(self.server_cli(&args)?, "entry create")?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        stdout
            .lines()
            .find_map(|l| l.strip_prefix("Entry ID"))
            .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_owned())
            .ok_or_else(|| io::Error::other(format!("no entry ID in `entry create`: {stdout}")))
    }

    /// Waits (at most a minute) until `api fetch x509` run by this process returns an SVID for
    /// `spiffe_id` (the entry has to reach the agent first); returns that command's output.
    pub fn wait_for_svid(&self, spiffe_id: &str) -> io::Result<Output> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let out = self.agent_cli(&["api", "fetch", "x509"]);
            if out.status.success() && String::from_utf8_lossy(&out.stdout).contains(spiffe_id) {
                return Ok(out);
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "no SVID for {spiffe_id}: {}{}\n--- agent ---\n{}",
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr),
                        self.agent.output()
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

fn server_cli_at(socket: &str, args: &[&str]) -> io::Result<Output> {
    run_bounded(&ServerProcess::binary(), &with_socket(args, socket))
}

/// `args` with `-socketPath <socket>` after the leading verbs.
fn with_socket<'a>(args: &[&'a str], socket: &'a str) -> Vec<&'a str> {
    let verbs = args.iter().take_while(|a| !a.starts_with('-')).count();
    let mut out = args[..verbs].to_vec();
    out.extend(["-socketPath", socket]);
    out.extend(&args[verbs..]);
    out
}

fn checked(out: Output, what: &str) -> io::Result<Output> {
    if out.status.success() {
        Ok(out)
    } else {
        Err(io::Error::other(format!(
            "`{what}` failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::with_socket;

    #[test]
    fn the_socket_flag_follows_the_verbs() {
        assert_eq!(
            with_socket(&["entry", "create", "-spiffeID", "x"], "/s"),
            ["entry", "create", "-socketPath", "/s", "-spiffeID", "x"]
        );
        assert_eq!(
            with_socket(&["healthcheck"], "/s"),
            ["healthcheck", "-socketPath", "/s"]
        );
    }
}
