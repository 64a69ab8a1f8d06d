//! Starting `spiffe-server run` as a process, for this crate's process-level tests and for
//! other crates' (the agent's) tests that need a real server.
//!
//! ```no_run
//! use spiffe_server::testing::process::{ServerConfigFile, ServerProcess};
//!
//! # async fn demo() -> std::io::Result<()> {
//! let dir = std::env::temp_dir().join("my-test");
//! let config = ServerConfigFile::new(&dir);          // SQLite, memory keys, join_token
//! let mut server = ServerProcess::start(&ServerProcess::binary(), &config)?; // waits until serving
//! let channel = server.admin_channel().await;         // the admin socket, as a local caller
//! let status = server.terminate()?;                   // SIGTERM, wait
//! assert!(status.success());
//! # Ok(()) }
//! ```
//!
//! The process logs in logrus text to its stdout, which a thread reads line by line: waiting
//! for the server means waiting for its `Starting Server APIs … network=unix` line (bounded by
//! [`START_TIMEOUT`]), never sleeping. The process is killed when the [`ServerProcess`] is
//! dropped.

use std::io::{self, BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tonic::transport::Channel;

/// How long a server may take to start serving.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a stopping server may take to exit.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the server keeps its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyManagerKind {
    /// `KeyManager "memory"`: a new CA on each start.
    Memory,
    /// `KeyManager "disk"` under the test directory: the CA survives restarts.
    Disk,
}

/// The datastore.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DataStoreKind {
    /// SQLite in the test directory.
    Sqlite,
    /// PostgreSQL at this URL (several servers may share it).
    Postgres(String),
}

/// A generated server config: SPIRE's quickstart keys, in a test directory, with free ports.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfigFile {
    /// The directory holding the config, data, socket and keys.
    pub dir: PathBuf,
    /// `trust_domain` (`example.org`).
    pub trust_domain: String,
    /// `bind_port` (a free port chosen at creation).
    pub bind_port: u16,
    /// `socket_path` (`<dir>/private/api.sock`).
    pub socket_path: PathBuf,
    /// `data_dir` (`<dir>/data`).
    pub data_dir: PathBuf,
    /// The key manager (memory).
    pub key_manager: KeyManagerKind,
    /// The datastore (SQLite).
    pub datastore: DataStoreKind,
    /// `experimental { cache_reload_interval }`, if set (Go syntax, e.g. `"1s"`).
    pub cache_reload_interval: Option<String>,
    /// `audit_log_enabled`.
    pub audit_log_enabled: bool,
    /// `health_checks` on this port, if set.
    pub health_port: Option<u16>,
    /// `telemetry { Prometheus }` on this port, if set.
    pub prometheus_port: Option<u16>,
    /// Extra text inside `server { }`.
    pub extra_server: String,
    /// Extra text inside `plugins { }`.
    pub extra_plugins: String,
}

/// A free TCP port on 127.0.0.1 (bound and released; the OS does not hand it out again at
/// once).
pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port on loopback")
}

/// The resident memory (`VmRSS`) of process `pid`, in MiB; 0 when it cannot be read.
pub fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

impl ServerConfigFile {
    /// SQLite, memory keys, the `join_token` attestor, INFO logs, in `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            trust_domain: "example.org".into(),
            bind_port: free_port(),
            socket_path: dir.join("private").join("api.sock"),
            data_dir: dir.join("data"),
            key_manager: KeyManagerKind::Memory,
            datastore: DataStoreKind::Sqlite,
            cache_reload_interval: None,
            audit_log_enabled: false,
            health_port: None,
            prometheus_port: None,
            extra_server: String::new(),
            extra_plugins: String::new(),
        }
    }

    /// The SQLite file (for [`DataStoreKind::Sqlite`]).
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("datastore.sqlite3")
    }

    /// The TCP address.
    pub fn tcp_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.bind_port))
    }

    /// The config text.
    pub fn render(&self) -> String {
        let mut server = format!(
            "server {{\n    bind_address = \"127.0.0.1\"\n    bind_port = \"{}\"\n    socket_path = \"{}\"\n    trust_domain = \"{}\"\n    data_dir = \"{}\"\n    log_level = \"INFO\"\n    audit_log_enabled = {}\n",
            self.bind_port,
            self.socket_path.display(),
            self.trust_domain,
            self.data_dir.display(),
            self.audit_log_enabled,
        );
        if let Some(interval) = &self.cache_reload_interval {
            server.push_str(&format!(
                "    experimental {{ cache_reload_interval = \"{interval}\" }}\n"
            ));
        }
        server.push_str(&self.extra_server);
        server.push_str("}\n");
        let datastore = match &self.datastore {
            DataStoreKind::Sqlite => format!(
                "database_type = \"sqlite3\"\n            connection_string = \"{}\"",
                self.sqlite_path().display()
            ),
            DataStoreKind::Postgres(url) => format!(
                "database_type = \"postgres\"\n            connection_string = \"{url}\"\n            max_open_conns = 8"
            ),
        };
        let key_manager = match self.key_manager {
            KeyManagerKind::Memory => {
                "KeyManager \"memory\" {\n        plugin_data = {}\n    }".to_owned()
            }
            KeyManagerKind::Disk => format!(
                "KeyManager \"disk\" {{\n        plugin_data {{ keys_path = \"{}\" }}\n    }}",
                self.dir.join("keys").display()
            ),
        };
        let mut text = format!(
            "{server}\nplugins {{\n    DataStore \"sql\" {{\n        plugin_data {{\n            {datastore}\n        }}\n    }}\n    NodeAttestor \"join_token\" {{\n        plugin_data {{\n        }}\n    }}\n    {key_manager}\n{}}}\n",
            self.extra_plugins
        );
        if let Some(port) = self.health_port {
            text.push_str(&format!(
                "\nhealth_checks {{\n    listener_enabled = true\n    bind_address = \"127.0.0.1\"\n    bind_port = \"{port}\"\n    live_path = \"/live\"\n    ready_path = \"/ready\"\n}}\n"
            ));
        }
        if let Some(port) = self.prometheus_port {
            text.push_str(&format!(
                "\ntelemetry {{\n    Prometheus {{\n        host = \"127.0.0.1\"\n        port = {port}\n    }}\n}}\n"
            ));
        }
        text
    }

    /// Writes the config to `<dir>/server.conf` and returns its path.
    pub fn write(&self) -> io::Result<PathBuf> {
        std::fs::create_dir_all(&self.dir)?;
        let path = self.dir.join("server.conf");
        std::fs::write(&path, self.render())?;
        Ok(path)
    }
}

/// A child process whose stdout and stderr are read line by line on threads: its output so far
/// ([`output`](Self::output)), lines to wait for, and a bounded stop. Killed when dropped. The
/// server's and the agent's process handles (`daemon-harness`) are built on it.
#[derive(Debug)]
pub struct LoggedChild {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    lines: mpsc::Receiver<String>,
}

impl LoggedChild {
    /// Spawns `command` with stdin closed and stdout and stderr read into the log.
    pub fn spawn(mut command: Command) -> io::Result<Self> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, lines) = mpsc::channel();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let (log, tx) = (log.clone(), tx.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    log.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(line.clone());
                    let _ = tx.send(line);
                }
            });
        }
        // Only the reader threads hold senders: when the process ends, `lines` disconnects
        // and waiting for a line stops at once instead of at the timeout.
        drop(tx);
        Ok(Self { child, log, lines })
    }

    /// Waits (at most `timeout`) for an output line `matches` accepts; false when the process
    /// ended or the time ran out first.
    pub fn wait_for_line(&mut self, timeout: Duration, matches: impl Fn(&str) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if matches(&line) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    }

    /// Everything the process printed so far.
    pub fn output(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .join("\n")
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, if the process has ended.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.child.try_wait()
    }

    /// Waits (at most [`STOP_TIMEOUT`]) for the process to exit; on timeout it is killed and
    /// the error says `what` did not exit.
    pub fn wait(&mut self, what: &str) -> io::Result<ExitStatus> {
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{what} did not exit in time"),
                ));
            }
            // Polling the child is the only portable wait with a deadline.
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then [`wait`](Self::wait).
    pub fn terminate(&mut self, what: &str) -> io::Result<ExitStatus> {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()?;
        if !status.success() {
            return Err(io::Error::other("kill -TERM failed"));
        }
        self.wait(what)
    }

    /// SIGKILL (no clean-up at all), then waits for the exit.
    pub fn kill(&mut self) -> io::Result<ExitStatus> {
        self.child.kill()?;
        self.child.wait()
    }
}

impl Drop for LoggedChild {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A running `spiffe-server run` process.
#[derive(Debug)]
pub struct ServerProcess {
    process: LoggedChild,
    socket_path: PathBuf,
    tcp_addr: SocketAddr,
}

impl ServerProcess {
    /// The `spiffe-server` binary: `$SPIFFE_SERVER_BIN`, else the one Cargo built beside this
    /// test binary (`target/<profile>/spiffe-server`; build it first with
    /// `cargo build -p spiffe-server` when testing another crate).
    pub fn binary() -> PathBuf {
        if let Some(path) = std::env::var_os("SPIFFE_SERVER_BIN") {
            return PathBuf::from(path);
        }
        let exe = std::env::current_exe().expect("the test binary's path");
        // target/<profile>/deps/<test> → target/<profile>/spiffe-server
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test binary lives in target/<profile>/deps");
        profile_dir.join("spiffe-server")
    }

    /// Writes `config` and starts `bin run -config <it>`, waiting until it serves.
    pub fn start(bin: &Path, config: &ServerConfigFile) -> io::Result<Self> {
        let path = config.write()?;
        Self::start_with_args(
            bin,
            &["run".into(), "-config".into(), path.display().to_string()],
            config.socket_path.clone(),
            config.tcp_addr(),
        )
    }

    /// Like [`start`](Self::start), with extra environment variables (e.g. `SSL_CERT_FILE`).
    pub fn start_with_env(
        bin: &Path,
        config: &ServerConfigFile,
        env: &[(&str, &str)],
    ) -> io::Result<Self> {
        let path = config.write()?;
        Self::start_in_env(
            bin,
            None,
            &["run".into(), "-config".into(), path.display().to_string()],
            config.socket_path.clone(),
            config.tcp_addr(),
            env,
        )
    }

    /// Starts `bin` with `args`, waiting for the admin socket's `Starting Server APIs` line.
    pub fn start_with_args(
        bin: &Path,
        args: &[String],
        socket_path: PathBuf,
        tcp_addr: SocketAddr,
    ) -> io::Result<Self> {
        Self::start_in(bin, None, args, socket_path, tcp_addr)
    }

    /// Like [`start_with_args`](Self::start_with_args), in the working directory `cwd` (for
    /// configs with relative paths, as SPIRE's quickstart).
    pub fn start_in(
        bin: &Path,
        cwd: Option<&Path>,
        args: &[String],
        socket_path: PathBuf,
        tcp_addr: SocketAddr,
    ) -> io::Result<Self> {
        Self::start_in_env(bin, cwd, args, socket_path, tcp_addr, &[])
    }

    fn start_in_env(
        bin: &Path,
        cwd: Option<&Path>,
        args: &[String],
        socket_path: PathBuf,
        tcp_addr: SocketAddr,
        env: &[(&str, &str)],
    ) -> io::Result<Self> {
        if !bin.exists() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{} not found: build it with `cargo build -p spiffe-server` or set SPIFFE_SERVER_BIN",
                    bin.display()
                ),
            ));
        }
        let mut command = Command::new(bin);
        if let Some(cwd) = cwd {
            command.current_dir(cwd);
        }
        command.envs(env.iter().copied()).args(args);
        let mut server = Self {
            process: LoggedChild::spawn(command)?,
            socket_path,
            tcp_addr,
        };
        let ready = server.wait_for_line(START_TIMEOUT, |l| {
            l.contains("Starting Server APIs") && l.contains("network=unix")
        });
        if !ready {
            let _ = server.process.kill();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the server did not start; its output:\n{}", server.output()),
            ));
        }
        Ok(server)
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

    /// The admin socket.
    pub fn socket_path(&self) -> &Path {
        &self.socket_path
    }

    /// The TCP listener.
    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp_addr
    }

    /// A gRPC channel on the admin socket.
    pub async fn admin_channel(&self) -> Channel {
        super::connect_unix(self.socket_path.clone()).await
    }

    /// Waits (at most [`STOP_TIMEOUT`]) for the process to exit.
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        self.process.wait("the server")
    }

    /// SIGTERM, then waits for the exit.
    pub fn terminate(&mut self) -> io::Result<ExitStatus> {
        self.process.terminate("the server")
    }

    /// SIGKILL (no clean-up at all), then waits for the exit.
    pub fn kill(&mut self) -> io::Result<ExitStatus> {
        self.process.kill()
    }
}
