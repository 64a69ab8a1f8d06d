//! Talking to a running agent over its admin socket, as SPIRE's `cmd/spire-agent/util` adapter
//! does for `logger` and `debug`: `-socketPath` (default `/tmp/spire-agent/private/admin.sock`),
//! `-output`, one blocking call, and `Error: …` (exit 1) for whatever fails.

use std::future::Future;
use std::io::Write;
use std::path::PathBuf;

use serde_json::Value;
use spire_config::flags::{output_flag, Flag, FlagSet, Output, Parsed};
use tonic::transport::Channel;

use super::{client_runtime, Env};

/// SPIRE's default admin socket (`common.DefaultAdminSocketPath`, POSIX).
pub(super) const DEFAULT_ADMIN_SOCKET_PATH: &str = "/tmp/spire-agent/private/admin.sock";

/// The flags every admin command has, on its own flag set.
#[derive(Debug)]
pub(super) struct AdminFlags {
    pub(super) fs: FlagSet,
    socket_path: Flag<String>,
    output: Flag<Output>,
}

impl AdminFlags {
    /// `name`'s flags: `-socketPath`, `-output`, and what `more` adds.
    pub(super) fn new(name: &str, more: impl FnOnce(&mut FlagSet)) -> Self {
        let mut fs = FlagSet::new(name);
        let socket_path = fs.string(
            "socketPath",
            DEFAULT_ADMIN_SOCKET_PATH,
            "Path to the SPIRE Agent admin API socket",
        );
        more(&mut fs);
        let output = output_flag(&mut fs);
        Self {
            fs,
            socket_path,
            output,
        }
    }
}

/// What a command body gets: its parsed flags and a way to make calls.
pub(super) struct AdminCall<'a> {
    /// The parsed flags.
    pub(super) parsed: &'a Parsed,
    socket: PathBuf,
    runtime: tokio::runtime::Runtime,
}

impl AdminCall<'_> {
    /// Runs one call on a channel to the admin socket; its answer, or the call's failure in
    /// grpc-go's words (`rpc error: code = … desc = …`, a dial error naming the socket).
    pub(super) fn call<T, F, Fut>(&self, call: F) -> Result<T, String>
    where
        F: FnOnce(Channel) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        self.runtime.block_on(async {
            let channel = super::api::channel(&self.socket).await?;
            call(channel)
                .await
                .map(tonic::Response::into_inner)
                .map_err(|s| super::api::rpc_error(&s))
        })
    }
}

/// How an answer is printed: `pretty` (the command's text, or its error) or `json`.
pub(super) struct Printed {
    pub(super) pretty: Result<String, String>,
    pub(super) json: Value,
}

/// Runs an admin command as SPIRE's adapter does: flag errors print Go's message and the usage
/// (exit 1); otherwise `body` makes its call and returns what to print; an error is printed as
/// `Error: <message>` (exit 1).
pub(super) fn run_admin(
    flags: &AdminFlags,
    args: &[String],
    env: &mut Env,
    body: impl FnOnce(&AdminCall<'_>) -> Result<Printed, String>,
) -> i32 {
    let Ok(parsed) = flags.fs.parse_reporting(args, &mut env.stderr) else {
        return 1;
    };
    let mut socket = parsed.get(&flags.socket_path).clone();
    if socket.is_empty() {
        socket = DEFAULT_ADMIN_SOCKET_PATH.to_owned();
    }
    let runtime = match client_runtime() {
        Ok(runtime) => runtime,
        Err(e) => {
            env.eprintln(&format!("Error: {e}"));
            return 1;
        }
    };
    let call = AdminCall {
        parsed: &parsed,
        socket: PathBuf::from(socket),
        runtime,
    };
    let output = *parsed.get(&flags.output);
    let text = body(&call).and_then(|printed| match output {
        Output::Json => Ok(format!(
            "{}\n",
            spire_api_proto::cli_text::json::json_line(printed.json)
        )),
        Output::Pretty => printed.pretty,
    });
    match text {
        Ok(text) => {
            let _ = env.stdout.write_all(text.as_bytes());
            0
        }
        Err(message) => {
            env.eprintln(&format!("Error: {message}"));
            1
        }
    }
}
