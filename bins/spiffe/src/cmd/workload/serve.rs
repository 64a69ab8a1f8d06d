//! `spiffe workload serve`: a static Workload API on a Unix socket, serving one X.509-SVID,
//! its bundles and (with `--jwt-key`) JWT-SVIDs from files, reloaded when they change. A test
//! fake for any SPIFFE client.

use std::io::{self, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use serde::Serialize;
use spiffe_workload::provider::files::{
    FileIdentityConfig, FileIdentityProvider, FileProviderError, DEFAULT_POLL_INTERVAL,
};
use spiffe_workload::{EndpointAddress, WorkloadApiServer};
use tokio::signal::unix::{signal, SignalKind};

use crate::input::BundleArg;
use crate::output::{Answer, ErrorChain, Failure, Output};

/// How long open connections may take to close after SIGINT/SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Arguments of `spiffe workload serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Where to listen: `unix:///path`, `unix:/path` or a plain path. A stale socket file left
    /// by a stopped server is replaced; the socket is removed on SIGINT/SIGTERM.
    #[arg(long, value_name = "ADDR")]
    socket: String,

    /// The X.509-SVID: PEM certificates, leaf first.
    #[arg(long, value_name = "FILE")]
    svid: PathBuf,

    /// The SVID's private key: PEM (PKCS#8, SEC1 or PKCS#1); must belong to the leaf.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,

    /// The bundle of the SVID's trust domain: PEM certificates or a SPIFFE bundle document
    /// (whose JWT authorities are served as its JWT bundle).
    #[arg(long, value_name = "FILE")]
    bundle: PathBuf,

    /// Mint JWT-SVIDs for the SVID's SPIFFE ID with this PKCS#8 key (EC P-256/P-384 or RSA);
    /// its public key joins the JWT bundle.
    #[arg(long, value_name = "FILE", requires = "jwt_kid")]
    jwt_key: Option<PathBuf>,

    /// The `kid` of the JWT key, in token headers and the JWT bundle.
    #[arg(long, value_name = "KID", requires = "jwt_key")]
    jwt_kid: Option<String>,

    /// The lifetime of minted JWT-SVIDs.
    #[arg(long, value_name = "DURATION", default_value = "5m",
          value_parser = crate::cmd::ca::parse_duration)]
    jwt_ttl: Duration,

    /// A federated trust domain's bundle (PEM or SPIFFE bundle document); repeat for more.
    #[arg(long, value_name = "TD=FILE", value_parser = BundleArg::parse)]
    federated: Vec<BundleArg>,

    /// Serve only callers running as this uid (repeat for more); others get PERMISSION_DENIED.
    /// Default: every caller.
    #[arg(long, value_name = "UID")]
    uid: Vec<u32>,
}

/// One event of the server's life, printed as a line (or a JSON object).
#[derive(Debug, Serialize)]
struct ServeEvent {
    valid: bool,
    /// `listening`, `reloaded` or `stopped`.
    event: &'static str,
    socket: String,
    spiffe_id: String,
    serial: String,
}

impl Answer for ServeEvent {
    fn is_valid(&self) -> bool {
        self.valid
    }

    fn write_human(&self, w: &mut dyn Write) -> io::Result<()> {
        match self.event {
            "listening" => write!(
                w,
                "serving the Workload API on {} for {} (serial {}); \
                 SPIFFE_ENDPOINT_SOCKET={}",
                self.socket, self.spiffe_id, self.serial, self.socket
            ),
            "reloaded" => write!(
                w,
                "reloaded: serving {} (serial {})",
                self.spiffe_id, self.serial
            ),
            _ => write!(w, "stopped; removed {}", self.socket),
        }
    }
}

/// Runs the server until SIGINT or SIGTERM.
pub(crate) fn serve<W: Write>(args: &ServeArgs, out: &mut Output<W>) -> Result<(), Failure> {
    let path = socket_path(&args.socket)?;
    let provider = Arc::new(FileIdentityProvider::load(config(args)).map_err(load_failure)?);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Failure::io("starting the async runtime"))?;
    runtime.block_on(run(&path, provider, out))
}

async fn run<W: Write>(
    path: &Path,
    provider: Arc<FileIdentityProvider>,
    out: &mut Output<W>,
) -> Result<(), Failure> {
    // Handlers first, so a signal right after the start line is not fatal.
    let mut terminate = signal(SignalKind::terminate()).map_err(Failure::io("handling SIGTERM"))?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(Failure::io("handling SIGINT"))?;
    remove_stale_socket(path)?;
    let listener = tokio::net::UnixListener::bind(path).map_err(|source| Failure::File {
        path: path.to_owned(),
        action: "listening on",
        source,
    })?;
    let socket = format!("unix://{}", path.display());
    out.answer(&event("listening", &socket, &provider))?;
    out.flush()?;

    let (signalled, stopping) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        let _ = signalled.send(());
    };
    // Graceful shutdown waits for clients to close their connections; one that never does
    // must not keep the process (and its socket) alive.
    let grace = async move {
        if stopping.await.is_ok() {
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    let server = WorkloadApiServer::new(provider.clone()).serve_unix(listener, shutdown);
    let watcher = provider.watch_files(DEFAULT_POLL_INTERVAL, |result| {
        let written = match result {
            Ok(()) => out
                .answer(&event("reloaded", &socket, &provider))
                .and_then(|()| out.flush()),
            Err(error) => {
                eprintln!(
                    "spiffe: warning: keeping the previous identity: {}",
                    ErrorChain(&error)
                );
                Ok(())
            }
        };
        if let Err(failure) = written {
            eprintln!("spiffe: warning: {failure}");
        }
    });
    let served = tokio::select! {
        served = server => served,
        () = watcher => Ok(()),
        () = grace => {
            eprintln!(
                "spiffe: warning: clients still connected {}s after the signal; stopping anyway",
                SHUTDOWN_GRACE.as_secs()
            );
            Ok(())
        }
    };
    // The socket file goes whatever the outcome; a client must not find a dead socket.
    let removed = std::fs::remove_file(path);
    served.map_err(|e| Failure::Input {
        what: format!("serving on {socket}"),
        error: Box::new(e),
    })?;
    removed.map_err(|source| Failure::File {
        path: path.to_owned(),
        action: "removing",
        source,
    })?;
    out.answer(&event("stopped", &socket, &provider))
}

fn config(args: &ServeArgs) -> FileIdentityConfig {
    let mut config = FileIdentityConfig::new(&args.svid, &args.key, &args.bundle);
    for federated in &args.federated {
        config = config.with_federated(federated.trust_domain.clone(), &federated.path);
    }
    if let (Some(key), Some(kid)) = (&args.jwt_key, &args.jwt_kid) {
        config = config.with_jwt_key(key, super::jwt_key::loader(kid.clone(), args.jwt_ttl));
    }
    if !args.uid.is_empty() {
        config = config.with_allowed_uids(args.uid.iter().copied());
    }
    config
}

fn event(event: &'static str, socket: &str, provider: &FileIdentityProvider) -> ServeEvent {
    let svid = provider.x509_svid();
    ServeEvent {
        valid: true,
        event,
        socket: socket.to_owned(),
        spiffe_id: svid.spiffe_id().to_string(),
        serial: svid.leaf().serial_hex(),
    }
}

fn load_failure(error: FileProviderError) -> Failure {
    Failure::Input {
        what: "loading the identity files".into(),
        error: Box::new(error),
    }
}

/// The socket path of `--socket`: a `unix:` address (WEP-10) or a plain path, made absolute.
pub(super) fn socket_path(address: &str) -> Result<PathBuf, Failure> {
    let path = if address.starts_with("unix:") || address.starts_with("tcp:") {
        let parsed = EndpointAddress::parse(address).map_err(|e| Failure::Input {
            what: format!("socket address `{address}`"),
            error: Box::new(e),
        })?;
        match parsed.unix_path() {
            Some(path) => path.to_owned(),
            None => {
                return Err(Failure::Input {
                    what: format!("socket address `{address}`"),
                    error: "the server listens on Unix sockets only".into(),
                })
            }
        }
    } else {
        PathBuf::from(address)
    };
    std::path::absolute(&path).map_err(|source| Failure::File {
        path,
        action: "resolving",
        source,
    })
}

/// Removes a socket file nobody listens on (left by a killed server); refuses to touch a live
/// socket or any other kind of file.
fn remove_stale_socket(path: &Path) -> Result<(), Failure> {
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    let refuse = |why: &'static str| Failure::Input {
        what: format!("`{}`", path.display()),
        error: why.into(),
    };
    if !metadata.file_type().is_socket() {
        return Err(refuse("exists and is not a socket"));
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(refuse("another server is listening on this socket"));
    }
    std::fs::remove_file(path).map_err(|source| Failure::File {
        path: path.to_owned(),
        action: "removing the stale socket",
        source,
    })
}
