//! `spiffe-server healthcheck [-socketPath P] [-shallow] [-verbose]`: asks the server's
//! `grpc.health.v1` service over the admin socket, as SPIRE's command does.

use spire_config::flags::{Flag, FlagSet};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::HealthCheckRequest;

use super::client::{run_admin, Env, SocketFlags};
use super::Command;

/// `healthcheck`.
#[derive(Debug)]
pub(super) struct HealthcheckCommand;

struct Flags {
    fs: FlagSet,
    socket: SocketFlags,
    verbose: Flag<bool>,
}

fn flags() -> Flags {
    let mut fs = FlagSet::new("healthcheck");
    let socket = SocketFlags::define(&mut fs);
    // Accepted as SPIRE's: the check is the same either way.
    fs.bool("shallow", false, "Perform a less stringent health check");
    let verbose = fs.bool("verbose", false, "Print verbose information");
    Flags {
        fs,
        socket,
        verbose,
    }
}

impl Command for HealthcheckCommand {
    fn name(&self) -> &'static str {
        "healthcheck"
    }

    fn synopsis(&self) -> &'static str {
        "Determines server health status"
    }

    fn help(&self) -> String {
        flags().fs.help()
    }

    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let f = flags();
        run_admin(&f.fs, &f.socket, args, env, |parsed, client, env| {
            let verbose = *parsed.get(&f.verbose);
            if verbose {
                env.println("Checking server health...");
            }
            let response = client.call(client.health().check(HealthCheckRequest {
                service: String::new(),
            }));
            let status = match response {
                Ok(response) => response.into_inner().status,
                Err(status) => {
                    if verbose {
                        env.eprintln(&format!(
                            "Failed to check health: {}",
                            client.error_text(&status)
                        ));
                    }
                    return Err("server is unhealthy: unable to determine health".into());
                }
            };
            if status != ServingStatus::Serving as i32 {
                let name = ServingStatus::try_from(status)
                    .map(|s| s.as_str_name())
                    .unwrap_or("UNKNOWN");
                return Err(format!(
                    "server is unhealthy: server returned status \"{name}\""
                ));
            }
            if verbose {
                // Nested servers report their upstream separately: the server stays healthy
                // (it serves from its CA) while the upstream is away. Others have no such
                // service (NOT_FOUND) and print nothing more.
                let upstream = client.call(client.health().check(HealthCheckRequest {
                    service: crate::ops::UPSTREAM_HEALTH_SERVICE.to_owned(),
                }));
                if let Ok(response) = upstream {
                    if response.into_inner().status == ServingStatus::Serving as i32 {
                        env.println("Upstream authority is reachable.");
                    } else {
                        env.println(
                            "Upstream authority is unreachable; serving with the current CA until it nears expiry.",
                        );
                    }
                }
            }
            env.println("Server is healthy.");
            Ok(())
        })
    }
}
