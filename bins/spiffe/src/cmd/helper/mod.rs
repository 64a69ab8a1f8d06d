//! `spiffe helper`: a drop-in for spiffe/spiffe-helper. Keeps the X.509-SVID, its key and
//! bundle, JWT-SVIDs and JWT bundles from the Workload API on disk for programs that only read
//! files (nginx, PostgreSQL…), and starts or signals them on every rotation.
//!
//! Flags and config keys are spiffe-helper's (`-config helper.conf`, `-daemon-mode`, and the
//! older `-exitWhenReady`); see docs/helper.md.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use spiffe_core::UnverifiedJwtSvid;
use spiffe_workload::{Backoff, ClientError, EndpointAddress, WorkloadApiClient};
use tokio::signal::unix::{signal, SignalKind};
use tokio::time::Instant;

/// Prints one log line on stderr.
macro_rules! log {
    ($($arg:tt)*) => { eprintln!("spiffe helper: {}", format_args!($($arg)*)) };
}

mod child;
mod config;
mod files;
mod health;

use child::{exit_code, send, signal_pid_file, wait_child};
use config::HelperConfig;

/// Arguments of `spiffe helper`: Go-style flags, parsed as spiffe-helper parses them.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub(crate) struct HelperArgs {
    /// spiffe-helper's flags: `-config FILE` (default `helper.conf`), `-daemon-mode=false`,
    /// `-exitWhenReady`, `-version`, `-help`.
    #[arg(allow_hyphen_values = true, trailing_var_arg = true, num_args = 0..)]
    flags: Vec<String>,
}

/// Runs the helper; its exit status is the child's in daemon mode with `cmd`.
pub(crate) fn main(args: HelperArgs) -> ExitCode {
    use spire_config::flags::{FlagError, FlagSet};

    let mut fs = FlagSet::new("spiffe helper");
    let config_flag = fs.string(
        "config",
        "helper.conf",
        "<configFile> Configuration file path",
    );
    let daemon_flag = fs.bool(
        "daemon-mode",
        true,
        "Toggle running as a daemon to rotate X.509/JWT or just fetch and exit",
    );
    let exit_flag = fs.bool(
        "exitWhenReady",
        false,
        "Fetch and write once, then exit (the same as -daemon-mode=false)",
    );
    let version_flag = fs.bool("version", false, "print version");
    let parsed = match fs.parse(&args.flags) {
        Ok(parsed) => parsed,
        Err(FlagError::Help) => {
            eprint!("{}", fs.usage());
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("{error}");
            eprint!("{}", fs.usage());
            return ExitCode::from(2);
        }
    };
    if *parsed.get(&version_flag) {
        println!("{}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    if let Some(extra) = parsed.args().first() {
        eprintln!("spiffe helper: unexpected argument {extra:?}");
        eprint!("{}", fs.usage());
        return ExitCode::from(2);
    }
    let daemon_override = if *parsed.get(&exit_flag) {
        Some(false)
    } else {
        parsed
            .is_set(&daemon_flag)
            .then(|| *parsed.get(&daemon_flag))
    };
    let path = PathBuf::from(parsed.get(&config_flag));
    log!("using configuration file {}", path.display());
    let config = match HelperConfig::load(&path, daemon_override) {
        Ok(config) => config,
        Err(problem) => {
            log!("error: invalid configuration: {problem}");
            return ExitCode::FAILURE;
        }
    };
    if !config.daemon() {
        // As spiffe-helper: ignored in one-shot mode, with a warning.
        if !config.cmd.is_empty() {
            log!("warning: cmd is set but daemon_mode is false; cmd is ignored");
        }
        if config.renew_signal.is_some() {
            log!("warning: renew_signal is set but daemon_mode is false; renew_signal is ignored");
        }
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            log!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(code) => ExitCode::from(code),
        Err(reason) => {
            log!("error: {reason}");
            ExitCode::FAILURE
        }
    }
}

/// The Workload API address: `agent_address`, else `SPIFFE_ENDPOINT_SOCKET`, else
/// spiffe-helper's default; a plain path is a Unix socket.
fn address(config: &HelperConfig) -> Result<EndpointAddress, String> {
    let configured = if !config.agent_address.is_empty() {
        config.agent_address.clone()
    } else {
        std::env::var(spiffe_workload::ENDPOINT_ENV_VAR)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| config::DEFAULT_AGENT_ADDRESS.to_owned())
    };
    if configured.starts_with("unix:") || configured.starts_with("tcp:") {
        EndpointAddress::resolve(Some(&configured))
            .map_err(|e| format!("agent address {configured:?}: {e}"))
    } else {
        let path = std::path::absolute(&configured)
            .map_err(|e| format!("agent address {configured:?}: {e}"))?;
        Ok(EndpointAddress::Unix(path))
    }
}

/// The running helper's state.
struct Helper {
    config: HelperConfig,
    client: WorkloadApiClient,
    x509_written: bool,
    jwt_bundle_written: bool,
    jwt_svids_written: bool,
    /// The first complete write happened (`/ready`).
    ready: Arc<AtomicBool>,
    child: Option<tokio::process::Child>,
}

async fn run(config: HelperConfig) -> Result<u8, String> {
    if !config.cert_dir.as_os_str().is_empty() && !config.cert_dir.is_dir() {
        return Err(format!(
            "cert_dir {} is not a directory (it must exist before the helper starts)",
            config.cert_dir.display()
        ));
    }
    let address = address(&config)?;
    let client = WorkloadApiClient::connect_lazy(&address)
        .map_err(|e| format!("Workload API at {address:?}: {e}"))?;
    let ready = Arc::new(AtomicBool::new(false));
    if config.daemon() {
        if let Some(health) = &config.health {
            let listener = tokio::net::TcpListener::bind((health.bind_address, health.bind_port))
                .await
                .map_err(|e| {
                    format!(
                        "health checks: listening on {}:{}: {e}",
                        health.bind_address, health.bind_port
                    )
                })?;
            tokio::spawn(health::serve_health(
                listener,
                health.clone(),
                ready.clone(),
            ));
        }
    }
    let mut helper = Helper {
        x509_written: config.x509.is_none(),
        jwt_bundle_written: config.jwt_bundle_file_name.is_none(),
        jwt_svids_written: config.jwt_svids.is_empty(),
        config,
        client,
        ready,
        child: None,
    };
    let result = helper.run().await;
    if result.is_err() {
        helper.stop_child().await;
    }
    result
}

impl Helper {
    async fn run(&mut self) -> Result<u8, String> {
        let mut x509 = self
            .config
            .x509
            .is_some()
            .then(|| self.client.watch_x509_context());
        let mut jwt_bundles = self
            .config
            .jwt_bundle_file_name
            .is_some()
            .then(|| self.client.watch_jwt_bundles());
        let mut jwt_due = (!self.config.jwt_svids.is_empty()).then(Instant::now);
        let mut jwt_backoff = Backoff::new(*self.client.backoff());
        let mut terminate = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM: {e}"))?;
        let mut interrupt = signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT: {e}"))?;
        let mut last_warning = String::new();
        loop {
            let event = tokio::select! {
                update = next(&mut x509) => Event::X509(update),
                update = next(&mut jwt_bundles) => Event::JwtBundles(update),
                () = until(jwt_due) => Event::JwtDue,
                status = wait_child(&mut self.child) => Event::ChildExited(status),
                _ = terminate.recv() => Event::Signal(rustix::process::Signal::TERM),
                _ = interrupt.recv() => Event::Signal(rustix::process::Signal::INT),
            };
            let wrote = match event {
                Event::X509(Some(Ok(context))) => {
                    let Some(names) = &self.config.x509 else {
                        continue;
                    };
                    match files::write_x509(&self.config, names, &context) {
                        Ok(written) => {
                            log!(
                                "wrote X.509-SVID {} (serial {}) to {}, {}, {}",
                                written.spiffe_id,
                                written.serial,
                                written.files[0].display(),
                                written.files[1].display(),
                                written.files[2].display()
                            );
                            self.x509_written = true;
                            true
                        }
                        Err(e) => self.write_failed(e)?,
                    }
                }
                Event::JwtBundles(Some(Ok(set))) => {
                    let Some(name) = &self.config.jwt_bundle_file_name else {
                        continue;
                    };
                    match files::write_jwt_bundles(&self.config, name, &set) {
                        Ok(path) => {
                            log!("wrote JWT bundles to {}", path.display());
                            self.jwt_bundle_written = true;
                            true
                        }
                        Err(e) => self.write_failed(e)?,
                    }
                }
                Event::X509(Some(Err(error))) | Event::JwtBundles(Some(Err(error))) => {
                    let message = crate::output::ErrorChain(&error).to_string();
                    // One line per distinct problem, not one per retry.
                    if message != last_warning {
                        log!("warning: Workload API: {message}; retrying, keeping the last files");
                        last_warning = message;
                    }
                    continue;
                }
                Event::X509(None) | Event::JwtBundles(None) => {
                    return Err("the Workload API stream ended with a final error".to_owned());
                }
                Event::JwtDue => match self.refresh_jwt_svids().await {
                    Ok(next) => {
                        jwt_backoff.reset();
                        jwt_due = Some(next);
                        self.jwt_svids_written = true;
                        true
                    }
                    Err(JwtFailure::Retry(error)) => {
                        let message = format!("{error}");
                        if message != last_warning {
                            log!("warning: Workload API (JWT-SVID): {message}; retrying");
                            last_warning = message;
                        }
                        jwt_due = Some(Instant::now() + jwt_backoff.next_delay());
                        false
                    }
                    Err(JwtFailure::Final(reason)) => return Err(reason),
                    Err(JwtFailure::Write(e)) => {
                        jwt_due = Some(Instant::now() + jwt_backoff.next_delay());
                        self.write_failed(e)?
                    }
                },
                Event::ChildExited(status) => {
                    self.child = None;
                    let code = exit_code(status);
                    log!("cmd exited with status {code}; exiting with it");
                    return Ok(code);
                }
                Event::Signal(sig) => {
                    let Some(child) = &mut self.child else {
                        if !self.config.daemon() {
                            // One-shot mode never wrote everything: an init container must
                            // not proceed as if it had.
                            return Err("stopped by a signal before every file was written".into());
                        }
                        log!("stopping on signal");
                        return Ok(0);
                    };
                    if let Some(pid) = child.id() {
                        send(pid, sig, "cmd");
                    }
                    let status = child.wait().await;
                    self.child = None;
                    return Ok(exit_code(status));
                }
            };
            if wrote {
                // A new outage after this success is logged again.
                last_warning.clear();
                if self.updated()? {
                    return Ok(0);
                }
            }
        }
    }

    /// A write failed: fatal before the first complete write (most likely a configuration
    /// problem), a warning afterwards (the next update tries again).
    fn write_failed(&self, error: files::WriteError) -> Result<bool, String> {
        if self.ready.load(Ordering::SeqCst) {
            log!("warning: {error}; trying again at the next update");
            Ok(false)
        } else {
            Err(error.to_string())
        }
    }

    /// After a successful write: the first complete write makes the helper ready (and ends
    /// one-shot mode, returning true); then the program is started or signalled.
    fn updated(&mut self) -> Result<bool, String> {
        if !(self.x509_written && self.jwt_bundle_written && self.jwt_svids_written) {
            return Ok(false);
        }
        let first = !self.ready.swap(true, Ordering::SeqCst);
        if first {
            log!("ready: every file is written");
        }
        if !self.config.daemon() {
            return Ok(true);
        }
        if !self.config.cmd.is_empty() {
            match &self.child {
                Some(child) => {
                    if let (Some(signal), Some(pid)) = (self.config.renew_signal, child.id()) {
                        send(pid, signal.signal, "cmd");
                        log!("sent {} to cmd (pid {pid})", signal.name);
                    }
                }
                None => self.start_child()?,
            }
        }
        if let (Some(pid_file), Some(signal)) =
            (&self.config.pid_file_name, self.config.renew_signal)
        {
            signal_pid_file(pid_file, signal);
        }
        Ok(false)
    }

    fn start_child(&mut self) -> Result<(), String> {
        let mut command = tokio::process::Command::new(&self.config.cmd);
        command
            .args(&self.config.cmd_args)
            .stdin(std::process::Stdio::null());
        let child = command
            .spawn()
            .map_err(|e| format!("starting cmd {:?}: {e}", self.config.cmd))?;
        log!(
            "started cmd {} (pid {})",
            self.config.cmd,
            child.id().unwrap_or_default()
        );
        self.child = Some(child);
        Ok(())
    }

    /// On a fatal error: asks the child to stop and waits a little for it.
    async fn stop_child(&mut self) {
        let Some(child) = &mut self.child else { return };
        if let Some(pid) = child.id() {
            send(pid, rustix::process::Signal::TERM, "cmd");
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    }

    /// Fetches and writes every configured JWT-SVID; returns when to refresh next (at half of
    /// the shortest remaining lifetime, as spiffe-helper does).
    async fn refresh_jwt_svids(&self) -> Result<Instant, JwtFailure> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut next: Option<Duration> = None;
        for jwt in &self.config.jwt_svids {
            let mut audience: Vec<&str> = vec![jwt.audience.as_str()];
            audience.extend(jwt.extra_audiences.iter().map(String::as_str));
            let svids = self
                .client
                .fetch_jwt_svids(&audience, None)
                .await
                .map_err(JwtFailure::from)?;
            let chosen = if self.config.hint.is_empty() {
                svids.first()
            } else {
                svids.iter().find(|s| s.hint == self.config.hint)
            }
            .ok_or_else(|| {
                // Like a missing hinted X.509-SVID: fatal before the first complete write, a
                // warning (and a retry) afterwards.
                JwtFailure::Write(files::WriteError(format!(
                    "no JWT-SVID{} for audience {:?} in the Workload API's answer",
                    if self.config.hint.is_empty() {
                        String::new()
                    } else {
                        format!(" with hint {:?}", self.config.hint)
                    },
                    jwt.audience
                )))
            })?;
            let path = files::write_jwt_svid(&self.config, &jwt.file_name, &chosen.token)
                .map_err(JwtFailure::Write)?;
            let remaining = UnverifiedJwtSvid::parse_insecure(&chosen.token)
                .map(|t| t.expiry().as_secs().saturating_sub(now))
                .unwrap_or(60);
            log!(
                "wrote JWT-SVID {} for audience {:?} to {} (expires in {remaining}s)",
                chosen.spiffe_id,
                jwt.audience,
                path.display()
            );
            let half = Duration::from_secs(remaining) / 2 + Duration::from_secs(1);
            next = Some(next.map_or(half, |n| n.min(half)));
        }
        Ok(Instant::now() + next.unwrap_or(Duration::from_secs(60)))
    }
}

/// One thing the main loop reacts to.
enum Event {
    X509(Option<Result<spiffe_workload::X509Context, ClientError>>),
    JwtBundles(Option<Result<spiffe_core::BundleSet, ClientError>>),
    JwtDue,
    ChildExited(std::io::Result<std::process::ExitStatus>),
    Signal(rustix::process::Signal),
}

/// Why JWT-SVIDs could not be refreshed.
enum JwtFailure {
    Retry(ClientError),
    Final(String),
    Write(files::WriteError),
}

impl From<ClientError> for JwtFailure {
    fn from(error: ClientError) -> Self {
        if error.is_retryable() {
            Self::Retry(error)
        } else {
            Self::Final(format!(
                "Workload API (JWT-SVID): {}",
                crate::output::ErrorChain(&error)
            ))
        }
    }
}

async fn next<T>(watch: &mut Option<spiffe_workload::Watch<T>>) -> Option<Result<T, ClientError>> {
    match watch {
        Some(watch) => watch.next().await,
        None => std::future::pending().await,
    }
}

async fn until(due: Option<Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(due).await,
        None => std::future::pending().await,
    }
}
