//! `logger get|set|reset` (the Logger API) and `debug getinfo` (the Debug API), with SPIRE's
//! texts and `-output json`.

use std::io::Write;
use std::time::Duration;

use serde_json::json;
use spire_api_proto::server::debug::v1 as debugv1;
use spire_api_proto::server::logger::v1 as loggerv1;
use spire_api_proto::types::{self, LogLevel};
use spire_config::flags::{Flag, FlagSet};

use super::client::{run_admin, Env, SocketFlags};
use super::common::{go_time_utc, id_json, id_string, int64, output_flag, print_json, Output};
use super::Command;

/// logrus's name of an API level (`MarshalText`), or `None` for UNSPECIFIED and unknowns.
fn logrus_name(level: i32) -> Option<&'static str> {
    match LogLevel::try_from(level).ok()? {
        LogLevel::Panic => Some("panic"),
        LogLevel::Fatal => Some("fatal"),
        LogLevel::Error => Some("error"),
        LogLevel::Warn => Some("warning"),
        LogLevel::Info => Some("info"),
        LogLevel::Debug => Some("debug"),
        LogLevel::Trace => Some("trace"),
        LogLevel::Unspecified => None,
    }
}

/// logrus's `ParseLevel` of a lowercased name.
fn parse_level(name: &str) -> Option<LogLevel> {
    Some(match name {
        "panic" => LogLevel::Panic,
        "fatal" => LogLevel::Fatal,
        "error" => LogLevel::Error,
        "warn" | "warning" => LogLevel::Warn,
        "info" => LogLevel::Info,
        "debug" => LogLevel::Debug,
        "trace" => LogLevel::Trace,
        _ => return None,
    })
}

fn level_json(level: i32) -> serde_json::Value {
    match LogLevel::try_from(level) {
        Ok(l) => json!(l.as_str_name()),
        Err(_) => json!(level),
    }
}

/// SPIRE's `PrettyPrintLogger`, or the JSON of `types.Logger`.
fn print_logger(env: &mut Env, output: Output, logger: &types::Logger) -> Result<(), String> {
    if output == Output::Json {
        print_json(
            env,
            json!({
                "current_level": level_json(logger.current_level),
                "launch_level": level_json(logger.launch_level),
            }),
        );
        return Ok(());
    }
    let current = logrus_name(logger.current_level).ok_or_else(|| {
        "internal error: returned current log level is undefined; please report this as a bug"
            .to_owned()
    })?;
    let launch = logrus_name(logger.launch_level).ok_or_else(|| {
        "internal error: returned launch log level is undefined; please report this as a bug"
            .to_owned()
    })?;
    let _ = write!(
        env.stdout,
        "Logger Level : {current}\nLaunch Level : {launch}\n\n"
    );
    Ok(())
}

/// `logger get`, `logger set`, `logger reset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LoggerCommand {
    Get,
    Set,
    Reset,
}

impl LoggerCommand {
    fn flags(&self) -> (FlagSet, SocketFlags, Option<Flag<String>>, Flag<Output>) {
        let mut fs = FlagSet::new(self.name());
        let socket = SocketFlags::define(&mut fs);
        let level = (*self == Self::Set).then(|| {
            fs.string(
                "level",
                "",
                "The new log level, one of (panic, fatal, error, warn, info, debug, trace)",
            )
        });
        let output = output_flag(&mut fs);
        (fs, socket, level, output)
    }
}

impl Command for LoggerCommand {
    fn name(&self) -> &'static str {
        match self {
            Self::Get => "logger get",
            Self::Set => "logger set",
            Self::Reset => "logger reset",
        }
    }
    fn synopsis(&self) -> &'static str {
        match self {
            Self::Get => "Gets the logger details",
            Self::Set => "Sets the logger details",
            Self::Reset => "Reset the logger details to launch level",
        }
    }
    fn help(&self) -> String {
        self.flags().0.help()
    }
    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let (fs, socket, level_flag, output) = self.flags();
        let which = *self;
        run_admin(&fs, &socket, args, env, |p, client, env| {
            let c = client.logger();
            let logger = match which {
                Self::Get => client
                    .call(c.clone().get_logger(loggerv1::GetLoggerRequest {}))
                    .map_err(|s| format!("error fetching logger: {}", client.error_text(&s)))?,
                Self::Set => {
                    let given = level_flag.map(|f| p.get(&f).clone()).unwrap_or_default();
                    if given.is_empty() {
                        return Err("a value (-level) must be set".into());
                    }
                    let level = parse_level(&given.to_lowercase())
                        .ok_or_else(|| format!("the value \"{given}\" is not a valid setting"))?;
                    client
                        .call(c.clone().set_log_level(loggerv1::SetLogLevelRequest {
                            new_level: level as i32,
                        }))
                        .map_err(|s| {
                            format!("failed to set log level: {}", client.error_text(&s))
                        })?
                }
                Self::Reset => client
                    .call(c.clone().reset_log_level(loggerv1::ResetLogLevelRequest {}))
                    .map_err(|s| format!("failed to reset logger: {}", client.error_text(&s)))?,
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
            if *p.get(&output) == Output::Json {
                print_json(
                    env,
                    json!({
                        "svid_chain": r.svid_chain.iter().map(|c| json!({
                            "id": id_json(c.id.as_ref()),
                            "expires_at": int64(c.expires_at),
                            "subject": c.subject,
                        })).collect::<Vec<_>>(),
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
            if !r.svid_chain.is_empty() {
                out.push_str("  SVID Chain:\n");
                for (i, c) in r.svid_chain.iter().enumerate() {
                    let id = if c.id.is_some() {
                        id_string(c.id.as_ref())
                    } else {
                        "(none)".to_owned()
                    };
                    let t = go_time_utc(c.expires_at);
                    out.push_str(&format!(
                        "    [{i}] SPIFFE ID:  {id}\n        Subject:    {}\n        Expires At: {}T{}Z\n",
                        c.subject,
                        &t[..10],
                        &t[11..19]
                    ));
                }
            }
            let _ = env.stdout.write_all(out.as_bytes());
            Ok(())
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn levels_as_logrus_names_them() {
        assert_eq!(logrus_name(LogLevel::Warn as i32), Some("warning"));
        assert_eq!(parse_level("warn"), Some(LogLevel::Warn));
        assert_eq!(logrus_name(0), None);
        assert_eq!(parse_level("verbose"), None);
    }
}
