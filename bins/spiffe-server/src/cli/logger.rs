//! `logger get|set|reset` (the Logger API) and `debug getinfo` (the Debug API), with SPIRE's
//! texts and `-output json`.

use std::io::Write;
use std::time::Duration;

use serde_json::json;
use spire_api_proto::cli_text;
use spire_api_proto::cli_text::logger::{LoggerVerb, LEVEL_FLAG};
use spire_api_proto::server::debug::v1 as debugv1;
use spire_api_proto::server::logger::v1 as loggerv1;
use spire_api_proto::types;
use spire_config::flags::{Flag, FlagSet};

use super::client::{run_admin, Env, SocketFlags};
use super::common::{output_flag, print_json, Output};
use super::Command;

/// SPIRE's `PrettyPrintLogger`, or the JSON of `types.Logger`.
fn print_logger(env: &mut Env, output: Output, logger: &types::Logger) -> Result<(), String> {
    if output == Output::Json {
        print_json(env, cli_text::logger::logger_json(logger));
        return Ok(());
    }
    let _ = env
        .stdout
        .write_all(cli_text::logger::logger_pretty(logger)?.as_bytes());
    Ok(())
}

/// `logger get`, `logger set`, `logger reset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LoggerCommand(pub(super) LoggerVerb);

impl LoggerCommand {
    fn flags(&self) -> (FlagSet, SocketFlags, Option<Flag<String>>, Flag<Output>) {
        let mut fs = FlagSet::new(self.name());
        let socket = SocketFlags::define(&mut fs);
        let level = (self.0 == LoggerVerb::Set).then(|| {
            let (name, usage) = LEVEL_FLAG;
            fs.string(name, "", usage)
        });
        let output = output_flag(&mut fs);
        (fs, socket, level, output)
    }
}

impl Command for LoggerCommand {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn synopsis(&self) -> &'static str {
        self.0.synopsis()
    }
    fn help(&self) -> String {
        self.flags().0.help()
    }
    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let (fs, socket, level_flag, output) = self.flags();
        let verb = self.0;
        run_admin(&fs, &socket, args, env, |p, client, env| {
            let c = client.logger();
            let failed =
                |s: tonic::Status| format!("{}: {}", verb.failure(), client.error_text(&s));
            let logger = match verb {
                LoggerVerb::Get => client
                    .call(c.clone().get_logger(loggerv1::GetLoggerRequest {}))
                    .map_err(failed)?,
                LoggerVerb::Set => {
                    let given = level_flag.map(|f| p.get(&f).clone()).unwrap_or_default();
                    let level = cli_text::logger::parse_level_flag(&given)?;
                    client
                        .call(c.clone().set_log_level(loggerv1::SetLogLevelRequest {
                            new_level: level as i32,
                        }))
                        .map_err(failed)?
                }
                LoggerVerb::Reset => client
                    .call(c.clone().reset_log_level(loggerv1::ResetLogLevelRequest {}))
                    .map_err(failed)?,
            }
            .into_inner();
            print_logger(env, *p.get(&output), &logger)
        })
    }
}

/// `debug getinfo`.
#[derive(Debug)]
pub(super) struct DebugGetInfoCommand;

fn debug_flags() -> (FlagSet, SocketFlags, Flag<Output>) {
    let mut fs = FlagSet::new("debug getinfo");
    let socket = SocketFlags::define(&mut fs);
    let output = output_flag(&mut fs);
    (fs, socket, output)
}

impl Command for DebugGetInfoCommand {
    fn name(&self) -> &'static str {
        "debug getinfo"
    }
    fn synopsis(&self) -> &'static str {
        "Prints debug information about the server"
    }
    fn help(&self) -> String {
        debug_flags().0.help()
    }
    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let (fs, socket, output) = debug_flags();
        run_admin(&fs, &socket, args, env, |p, client, env| {
            let r = client
                .call(client.debug().get_info(debugv1::GetInfoRequest {}))
                .map_err(|s| client.error_text(&s))?
                .into_inner();
            let chain: Vec<_> = r
                .svid_chain
                .iter()
                .map(|c| cli_text::debug::ChainCert {
                    id: c.id.as_ref(),
                    expires_at: c.expires_at,
                    subject: &c.subject,
                })
                .collect();
            if *p.get(&output) == Output::Json {
                print_json(
                    env,
                    json!({
                        "svid_chain": cli_text::debug::svid_chain_json(&chain),
                        "uptime": r.uptime,
                        "agents_count": r.agents_count,
                        "federated_bundles_count": r.federated_bundles_count,
                        "entries_count": r.entries_count,
                    }),
                );
                return Ok(());
            }
            let uptime = spire_config::format_duration(Duration::from_secs(
                u64::try_from(r.uptime).unwrap_or_default(),
            ));
            let mut out = format!(
                "Server Debug Info:\n  Uptime:                  {uptime}\n  Registered Agents:       {}\n  Registration Entries:    {}\n  Federated Bundles:       {}\n",
                r.agents_count, r.entries_count, r.federated_bundles_count
            );
            out.push_str(&cli_text::debug::svid_chain_pretty(&chain));
            let _ = env.stdout.write_all(out.as_bytes());
            Ok(())
        })
    }
}
