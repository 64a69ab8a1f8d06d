//! Talking to a running server over its admin socket, as SPIRE's CLI does
//! (`cmd/spire-server/util`): the `-socketPath` and `-instance` flags (and the
//! `SPIRE_SERVER_PRIVATE_SOCKET` / `SPIRE_SERVER_PRIVATE_SOCKET_TEMPLATE` environment
//! variables), a client for each service, and SPIRE's `Error: …` reporting.
//!
//! An admin command defines its flags on a [`FlagSet`], adds [`SocketFlags`], and calls
//! [`run_admin`] with its body; the body makes blocking calls through
//! [`ServerClient::call`]:
//!
//! ```no_run
//! use spiffe_server::cli::client::{run_admin, Env, SocketFlags};
//! use spire_api_proto::server::entry::v1::CountEntriesRequest;
//! use spire_config::flags::FlagSet;
//!
//! let mut fs = FlagSet::new("entry count");
//! let socket = SocketFlags::define(&mut fs);
//! let mut env = Env::std();
//! let code = run_admin(&fs, &socket, &[], &mut env, |_parsed, client, env| {
//!     let count = client
//!         .call(client.entry().count_entries(CountEntriesRequest::default()))
//!         .map_err(|s| client.error_text(&s))?
//!         .into_inner()
//!         .count;
//!     env.println(&format!("{count} registration entries"));
//!     Ok(())
//! });
//! ```

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};

use spire_api_proto::server;
use spire_config::flags::{Flag, FlagSet, Parsed};
use tonic::transport::{Channel, Endpoint, Uri};
use tonic::Status;

/// SPIRE's default admin socket.
pub const DEFAULT_SOCKET_PATH: &str = crate::config::DEFAULT_SOCKET_PATH;
/// Names the socket when `-socketPath` is not given.
pub const SOCKET_ENV: &str = "SPIRE_SERVER_PRIVATE_SOCKET";
/// A socket path with `%i`, filled in by `-instance`.
pub const SOCKET_TEMPLATE_ENV: &str = "SPIRE_SERVER_PRIVATE_SOCKET_TEMPLATE";

/// Where a command writes.
pub struct Env {
    /// Standard output.
    pub stdout: Box<dyn Write + Send>,
    /// Standard error.
    pub stderr: Box<dyn Write + Send>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env").finish_non_exhaustive()
    }
}

impl Env {
    /// The process's stdout and stderr.
    pub fn std() -> Self {
        Self {
            stdout: Box::new(std::io::stdout()),
            stderr: Box::new(std::io::stderr()),
        }
    }

    /// Writes `line` and a newline to stdout (errors writing are ignored, as Go's CLI does).
    pub fn println(&mut self, line: &str) {
        let _ = writeln!(self.stdout, "{line}");
    }

    /// Writes `line` and a newline to stderr.
    pub fn eprintln(&mut self, line: &str) {
        let _ = writeln!(self.stderr, "{line}");
    }
}

/// `-socketPath` and `-instance`, as every SPIRE admin command has them.
#[derive(Debug, Clone, Copy)]
pub struct SocketFlags {
    socket_path: Flag<String>,
    instance: Flag<String>,
}

impl SocketFlags {
    /// Adds the flags to `fs`.
    pub fn define(fs: &mut FlagSet) -> Self {
        Self {
            socket_path: fs.string(
                "socketPath",
                DEFAULT_SOCKET_PATH,
                "Path to the SPIRE Server API socket",
            ),
            instance: fs.string(
                "instance",
                "",
                "Instance name to substitute into socket templates (env SPIRE_SERVER_PRIVATE_SOCKET_TEMPLATE).",
            ),
        }
    }

    /// The socket to connect to: `-socketPath` if changed from the default, else the
    /// `-instance` template, else `SPIRE_SERVER_PRIVATE_SOCKET`, else the default.
    pub fn socket_path(&self, parsed: &Parsed) -> Result<PathBuf, String> {
        let flag = parsed.get(&self.socket_path);
        let instance = parsed.get(&self.instance);
        let template = std::env::var(SOCKET_TEMPLATE_ENV).unwrap_or_default();
        if !instance.is_empty() {
            if template.is_empty() {
                return Err(format!(
                    "you must define {SOCKET_TEMPLATE_ENV} to use the instance flag"
                ));
            }
            if !template.contains("%i") {
                return Err(format!("failed to find %i in {SOCKET_TEMPLATE_ENV}"));
            }
        }
        let path = if flag != DEFAULT_SOCKET_PATH {
            flag.clone()
        } else if !instance.is_empty() {
            template.replace("%i", instance)
        } else {
            std::env::var(SOCKET_ENV)
                .ok()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| DEFAULT_SOCKET_PATH.to_owned())
        };
        Ok(PathBuf::from(path))
    }
}

/// A connection to the admin socket (made lazily, on the first call, as SPIRE's `grpc.NewClient`)
/// and a runtime to make blocking calls on.
pub struct ServerClient {
    channel: Channel,
    socket: PathBuf,
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for ServerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerClient")
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

impl ServerClient {
    /// A client of the server listening on `socket`.
    pub fn new(socket: &Path) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let path = socket.to_owned();
        let channel = {
            let _guard = runtime.enter();
            Endpoint::from_static("http://localhost").connect_with_connector_lazy(
                tower::service_fn(move |_: Uri| {
                    let path = path.clone();
                    async move {
                        let stream = tokio::net::UnixStream::connect(&path).await?;
                        Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
                    }
                }),
            )
        };
        Ok(Self {
            channel,
            socket: socket.to_owned(),
            runtime,
        })
    }

    /// Runs one call to completion.
    pub fn call<F: Future>(&self, call: F) -> F::Output {
        self.runtime.block_on(call)
    }

    /// The socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// A failed call in SPIRE's words: `rpc error: code = NotFound desc = …`, or, when the
    /// server could not be reached, grpc-go's dial error naming the socket.
    pub fn error_text(&self, status: &Status) -> String {
        if status.code() == tonic::Code::Unavailable {
            let reason = match std::fs::metadata(&self.socket) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    Some("no such file or directory")
                }
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    Some("permission denied")
                }
                Ok(_) if !self.socket_connectable() => Some("connection refused"),
                _ => None,
            };
            if let Some(reason) = reason {
                return format!(
                    "rpc error: code = Unavailable desc = connection error: desc = \"transport: error while dialing: dial unix {}: connect: {reason}\"",
                    self.socket.display()
                );
            }
        }
        format!(
            "rpc error: code = {} desc = {}",
            crate::ops::code_name_of(status.code()),
            status.message()
        )
    }

    fn socket_connectable(&self) -> bool {
        std::os::unix::net::UnixStream::connect(&self.socket).is_ok()
    }

    /// `spire.api.server.agent.v1.Agent`.
    pub fn agent(&self) -> server::agent::v1::agent_client::AgentClient<Channel> {
        server::agent::v1::agent_client::AgentClient::new(self.channel.clone())
    }

    /// `spire.api.server.bundle.v1.Bundle`.
    pub fn bundle(&self) -> server::bundle::v1::bundle_client::BundleClient<Channel> {
        server::bundle::v1::bundle_client::BundleClient::new(self.channel.clone())
    }

    /// `spire.api.server.debug.v1.Debug`.
    pub fn debug(&self) -> server::debug::v1::debug_client::DebugClient<Channel> {
        server::debug::v1::debug_client::DebugClient::new(self.channel.clone())
    }

    /// `spire.api.server.entry.v1.Entry`.
    pub fn entry(&self) -> server::entry::v1::entry_client::EntryClient<Channel> {
        server::entry::v1::entry_client::EntryClient::new(self.channel.clone())
    }

    /// `spire.api.server.logger.v1.Logger`.
    pub fn logger(&self) -> server::logger::v1::logger_client::LoggerClient<Channel> {
        server::logger::v1::logger_client::LoggerClient::new(self.channel.clone())
    }

    /// `spire.api.server.svid.v1.SVID`.
    pub fn svid(&self) -> server::svid::v1::svid_client::SvidClient<Channel> {
        server::svid::v1::svid_client::SvidClient::new(self.channel.clone())
    }

    /// `spire.api.server.trustdomain.v1.TrustDomain`.
    pub fn trust_domain(
        &self,
    ) -> server::trustdomain::v1::trust_domain_client::TrustDomainClient<Channel> {
        server::trustdomain::v1::trust_domain_client::TrustDomainClient::new(self.channel.clone())
    }

    /// `spire.api.server.localauthority.v1.LocalAuthority`.
    pub fn local_authority(
        &self,
    ) -> server::localauthority::v1::local_authority_client::LocalAuthorityClient<Channel> {
        server::localauthority::v1::local_authority_client::LocalAuthorityClient::new(
            self.channel.clone(),
        )
    }

    /// `grpc.health.v1.Health`.
    pub fn health(&self) -> tonic_health::pb::health_client::HealthClient<Channel> {
        tonic_health::pb::health_client::HealthClient::new(self.channel.clone())
    }
}

/// Runs an admin command as SPIRE's adapter does: parses `args` with `fs` (on failure Go's
/// message and the usage go to stderr, exit 1), resolves the socket, and runs `body` with a
/// client; an error `body` returns is printed as `Error: <message>` (exit 1).
pub fn run_admin(
    fs: &FlagSet,
    socket: &SocketFlags,
    args: &[String],
    env: &mut Env,
    body: impl FnOnce(&Parsed, &ServerClient, &mut Env) -> Result<(), String>,
) -> i32 {
    let Ok(parsed) = fs.parse_reporting(args, &mut env.stderr) else {
        return 1;
    };
    let path = match socket.socket_path(&parsed) {
        Ok(path) => path,
        Err(e) => {
            env.eprintln(&format!("Error: {e}"));
            return 1;
        }
    };
    let client = match ServerClient::new(&path) {
        Ok(client) => client,
        Err(e) => {
            env.eprintln(&format!("Error: {e}"));
            return 1;
        }
    };
    match body(&parsed, &client, env) {
        Ok(()) => 0,
        Err(message) => {
            env.eprintln(&format!("Error: {message}"));
            1
        }
    }
}
