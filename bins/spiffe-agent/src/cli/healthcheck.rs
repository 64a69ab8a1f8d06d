//! `spiffe-agent healthcheck [-socketPath P] [-shallow] [-verbose]`, SPIRE's texts.
//!
//! SPIRE asks `grpc.health.v1` on the Workload API socket. This agent's Workload API server
//! serves only the Workload API, so the check makes a Workload API call instead
//! (`FetchX509Bundles` as an unregistered caller would): an agent that answers it, with
//! bundles or with PERMISSION_DENIED, is serving and has synced with its server; no answer
//! within the timeout, or UNAVAILABLE, is unhealthy.

use std::path::Path;
use std::time::Duration;

use spiffe_workload::proto::spiffe_workload_api_client::SpiffeWorkloadApiClient;
use spiffe_workload::proto::X509BundlesRequest;
use spire_config::flags::FlagSet;

use super::{client_runtime, Command, Env};
use crate::config::DEFAULT_SOCKET_PATH;

/// How long the check waits for the agent.
const CHECK_TIMEOUT: Duration = Duration::from_secs(15);

/// `healthcheck`.
#[derive(Debug)]
pub(super) struct HealthcheckCommand;

fn flags() -> (
    FlagSet,
    spire_config::flags::Flag<String>,
    spire_config::flags::Flag<bool>,
) {
    let mut fs = FlagSet::new("health");
    let socket = fs.string(
        "socketPath",
        DEFAULT_SOCKET_PATH,
        "Path to the SPIRE Agent API socket",
    );
    fs.bool("shallow", false, "Perform a less stringent health check");
    let verbose = fs.bool("verbose", false, "Print verbose information");
    (fs, socket, verbose)
}

async fn check(socket: &Path) -> Result<(), String> {
    if !socket.exists() {
        return Err(format!("{}: no such file or directory", socket.display()));
    }
    let channel = super::uds_channel(socket)
        .await
        .map_err(|e| e.to_string())?;
    let mut request = tonic::Request::new(X509BundlesRequest {});
    request.metadata_mut().insert(
        "workload.spiffe.io",
        tonic::metadata::MetadataValue::from_static("true"),
    );
    request.set_timeout(CHECK_TIMEOUT);
    let mut client = SpiffeWorkloadApiClient::new(channel);
    let first = async {
        let mut stream = client.fetch_x509_bundles(request).await?.into_inner();
        stream.message().await
    };
    match tokio::time::timeout(CHECK_TIMEOUT, first).await {
        Err(_) => Err("timed out".into()),
        Ok(Ok(_)) => Ok(()),
        Ok(Err(status)) if status.code() == tonic::Code::PermissionDenied => Ok(()),
        Ok(Err(status)) => Err(format!("{:?}: {}", status.code(), status.message())),
    }
}

impl Command for HealthcheckCommand {
    fn name(&self) -> &'static str {
        "healthcheck"
    }

    fn synopsis(&self) -> &'static str {
        "Determines agent health status"
    }

    fn help(&self) -> String {
        flags().0.help()
    }

    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let (fs, socket, verbose) = flags();
        let Ok(parsed) = fs.parse_reporting(args, &mut env.stderr) else {
            return 1;
        };
        let verbose = *parsed.get(&verbose);
        if verbose {
            env.println("Checking agent health...");
        }
        let runtime = match client_runtime() {
            Ok(r) => r,
            Err(e) => {
                env.eprintln(&e);
                return 1;
            }
        };
        match runtime.block_on(check(Path::new(parsed.get(&socket)))) {
            Ok(()) => {
                env.println("Agent is healthy.");
                0
            }
            Err(e) => {
                if verbose {
                    env.eprintln(&format!("Failed to check health: {e}"));
                }
                env.eprintln("Agent is unhealthy: unable to determine health");
                1
            }
        }
    }
}
