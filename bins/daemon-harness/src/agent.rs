//! `spiffe-agent run` as a process, from a generated SPIRE-style config.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use spiffe_server::testing::process::LoggedChild;

/// How long an agent may take to attest and start serving.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a stopping agent, or one CLI command, may take.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// The line the agent logs once its Workload API is served (SPIRE's wording).
pub const READY_LINE: &str = "Starting Workload and SDS APIs";

/// A generated agent config: join_token attestation, disk keys, the unix workload attestor,
/// DEBUG logs and a one-second sync interval, in a test directory.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AgentConfigFile {
    /// The directory holding the config, data and socket.
    pub dir: PathBuf,
    /// `trust_domain`.
    pub trust_domain: String,
    /// `server_address` (`127.0.0.1`).
    pub server_address: String,
    /// `server_port`.
    pub server_port: u16,
    /// `trust_bundle_path`; `None` means `insecure_bootstrap = true`.
    pub trust_bundle_path: Option<PathBuf>,
    /// `socket_path` (`<dir>/public/api.sock`).
    pub socket_path: PathBuf,
    /// `data_dir` (`<dir>/data`).
    pub data_dir: PathBuf,
    /// `log_level` (`DEBUG`).
    pub log_level: String,
    /// `experimental { sync_interval }` (`"1s"`), if set.
    pub sync_interval: Option<String>,
    /// The `NodeAttestor` block (`join_token`).
    pub node_attestor: String,
    /// The `WorkloadAttestor "unix"` plugin data (empty).
    pub unix_attestor_data: String,
    /// Extra text inside `agent { }`.
    pub extra_agent: String,
    /// Extra text inside `plugins { }`.
    pub extra_plugins: String,
    /// Environment variables of the agent process (not part of the config text), e.g.
    /// `DBUS_SYSTEM_BUS_ADDRESS` for the systemd workload attestor or `MY_NODE_NAME` for k8s.
    pub env: Vec<(String, String)>,
}

impl AgentConfigFile {
    /// An agent of `trust_domain` whose server listens on `127.0.0.1:server_port`.
    pub fn new(dir: &Path, trust_domain: &str, server_port: u16) -> Self {
        Self {
            dir: dir.to_owned(),
            trust_domain: trust_domain.to_owned(),
            server_address: "127.0.0.1".into(),
            server_port,
            trust_bundle_path: None,
            socket_path: dir.join("public").join("api.sock"),
            data_dir: dir.join("data"),
            log_level: "DEBUG".into(),
            sync_interval: Some("1s".into()),
            node_attestor: "NodeAttestor \"join_token\" {\n        plugin_data {}\n    }".into(),
            unix_attestor_data: String::new(),
            extra_agent: String::new(),
            extra_plugins: String::new(),
            env: Vec::new(),
        }
    }

    /// The config text.
    pub fn render(&self) -> String {
        let mut agent = format!(
            "agent {{\n    data_dir = \"{}\"\n    log_level = \"{}\"\n    server_address = \"{}\"\n    server_port = \"{}\"\n    socket_path = \"{}\"\n    trust_domain = \"{}\"\n",
            self.data_dir.display(),
            self.log_level,
            self.server_address,
            self.server_port,
            self.socket_path.display(),
            self.trust_domain,
        );
        match &self.trust_bundle_path {
            Some(path) => {
                agent.push_str(&format!("    trust_bundle_path = \"{}\"\n", path.display()))
            }
            None => agent.push_str("    insecure_bootstrap = true\n"),
        }
        if let Some(interval) = &self.sync_interval {
            agent.push_str(&format!(
                "    experimental {{\n        sync_interval = \"{interval}\"\n    }}\n"
            ));
        }
        agent.push_str(&self.extra_agent);
        agent.push_str("}\n");
        format!(
            "{agent}\nplugins {{\n    {}\n    KeyManager \"disk\" {{\n        plugin_data {{\n            directory = \"{}\"\n        }}\n    }}\n    WorkloadAttestor \"unix\" {{\n        plugin_data {{\n{}\n        }}\n    }}\n{}}}\n",
            self.node_attestor,
            self.data_dir.display(),
            self.unix_attestor_data,
            self.extra_plugins,
        )
    }

    /// Writes the config to `<dir>/agent.conf` and returns its path.
    pub fn write(&self) -> io::Result<PathBuf> {
        std::fs::create_dir_all(&self.dir)?;
        let path = self.dir.join("agent.conf");
        std::fs::write(&path, self.render())?;
        Ok(path)
    }

    /// The Workload API address as the agent's CLI takes it (`-socketPath`).
    pub fn socket_arg(&self) -> String {
        self.socket_path.display().to_string()
    }
}

/// The `spiffe-agent` binary: `$SPIFFE_AGENT_BIN`, else the one Cargo built beside the running
/// test binary (`target/<profile>/spiffe-agent`).
pub fn agent_binary() -> PathBuf {
    sibling_binary("SPIFFE_AGENT_BIN", "spiffe-agent")
}

pub(crate) fn sibling_binary(var: &str, name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(var) {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/<test> → target/<profile>/<name>
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps")
        .join(name)
}

/// A running `spiffe-agent` process, killed when dropped.
#[derive(Debug)]
pub struct AgentProcess {
    process: LoggedChild,
}

impl AgentProcess {
    /// Writes `config` and starts `spiffe-agent run -config <it> <extra_args>` with the
    /// config's [`env`](AgentConfigFile::env), then waits (at most [`START_TIMEOUT`]) for
    /// [`READY_LINE`]; the error carries the agent's output.
    pub fn start(config: &AgentConfigFile, extra_args: &[&str]) -> io::Result<Self> {
        let path = config.write()?;
        let mut args = vec![
            "run".to_owned(),
            "-config".to_owned(),
            path.display().to_string(),
        ];
        args.extend(extra_args.iter().map(|a| (*a).to_owned()));
        let mut agent = Self::spawn_with_env(&args, &config.env)?;
        if agent.wait_for_line(START_TIMEOUT, |l| l.contains(READY_LINE)) {
            Ok(agent)
        } else {
            let _ = agent.process.kill();
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "the agent did not start serving; its output:\n{}",
                    agent.output()
                ),
            ))
        }
    }

    /// Starts `spiffe-agent <args>` without waiting for anything.
    pub fn spawn(args: &[String]) -> io::Result<Self> {
        Self::spawn_with_env(args, &[])
    }

    /// Starts `spiffe-agent <args>` with extra environment variables, without waiting.
    pub fn spawn_with_env(args: &[String], env: &[(String, String)]) -> io::Result<Self> {
        let bin = agent_binary();
        if !bin.exists() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{} not found: build it with `cargo build -p spiffe-agent` or set SPIFFE_AGENT_BIN",
                    bin.display()
                ),
            ));
        }
        let mut command = Command::new(bin);
        command.args(args);
        command.envs(env.iter().map(|(k, v)| (k, v)));
        Ok(Self {
            process: LoggedChild::spawn(command)?,
        })
    }

    /// Waits (at most `timeout`) for an output line `matches` accepts; false when the process
    /// ended or the time ran out first.
    pub fn wait_for_line(&mut self, timeout: Duration, matches: impl Fn(&str) -> bool) -> bool {
        self.process.wait_for_line(timeout, matches)
    }

    /// Everything the process printed so far.
    pub fn output(&self) -> String {
        self.process.output()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The exit status, if the process has ended.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.process.try_wait()
    }

    /// Waits (at most [`STOP_TIMEOUT`]) for the process to exit.
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        self.process.wait("the agent")
    }

    /// SIGTERM, then waits for the exit.
    pub fn terminate(&mut self) -> io::Result<ExitStatus> {
        self.process.terminate("the agent")
    }

    /// SIGKILL (no clean-up at all), then waits for the exit.
    pub fn kill(&mut self) -> io::Result<ExitStatus> {
        self.process.kill()
    }
}

/// Runs `bin args` to its end, killing it after [`STOP_TIMEOUT`] (never trust a child to end).
pub(crate) fn run_bounded(bin: &Path, args: &[&str]) -> io::Result<Output> {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let deadline = Instant::now() + STOP_TIMEOUT;
    while child.try_wait()?.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output()
}

/// `spiffe-agent <args>` (e.g. `api fetch x509 -socketPath …`), bounded by [`STOP_TIMEOUT`].
pub fn agent_cli(args: &[&str]) -> Output {
    run_bounded(&agent_binary(), args).expect("run spiffe-agent")
}
