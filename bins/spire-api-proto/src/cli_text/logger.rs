//! What the `logger get|set|reset` commands of both daemons print and parse (SPIRE's
//! `pkg/common/api/logger`): logrus's level names, `-level` parsing, `PrettyPrintLogger`, and
//! the JSON of `types.Logger`.

use serde_json::{json, Value};

use super::json::enum_json;
use crate::types::{self, LogLevel};

/// The three `logger` verbs, with what both daemons' commands say about them (SPIRE's
/// `cmd/spire-{server,agent}/cli/logger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoggerVerb {
    /// `logger get`: prints the current and launch levels.
    Get,
    /// `logger set -level L`: changes the current level.
    Set,
    /// `logger reset`: back to the launch level.
    Reset,
}

impl LoggerVerb {
    /// Every verb, in the order the commands list them.
    pub const ALL: [Self; 3] = [Self::Get, Self::Set, Self::Reset];

    /// The command's name, `logger <verb>`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Get => "logger get",
            Self::Set => "logger set",
            Self::Reset => "logger reset",
        }
    }

    /// The one-line description in the command list.
    pub fn synopsis(self) -> &'static str {
        match self {
            Self::Get => "Gets the logger details",
            Self::Set => "Sets the logger details",
            Self::Reset => "Reset the logger details to launch level",
        }
    }

    /// What a failed call's error text starts with (`<this>: <status>`).
    pub fn failure(self) -> &'static str {
        match self {
            Self::Get => "error fetching logger",
            Self::Set => "failed to set log level",
            Self::Reset => "failed to reset logger",
        }
    }
}

/// `logger set`'s flag: its name and usage text.
pub const LEVEL_FLAG: (&str, &str) = (
    "level",
    "The new log level, one of (panic, fatal, error, warn, info, debug, trace)",
);

/// logrus's name of an API level (`Level.MarshalText`), or `None` for UNSPECIFIED and unknown
/// values.
pub fn logrus_name(level: i32) -> Option<&'static str> {
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

/// `logger set -level`: the level, case-insensitively by logrus's names (`ParseLevel`), or
/// SPIRE's error text (`a value (-level) must be set`, `the value "x" is not a valid setting`).
pub fn parse_level_flag(given: &str) -> Result<LogLevel, String> {
    if given.is_empty() {
        return Err("a value (-level) must be set".into());
    }
    Ok(match given.to_lowercase().as_str() {
        "panic" => LogLevel::Panic,
        "fatal" => LogLevel::Fatal,
        "error" => LogLevel::Error,
        "warn" | "warning" => LogLevel::Warn,
        "info" => LogLevel::Info,
        "debug" => LogLevel::Debug,
        "trace" => LogLevel::Trace,
        _ => return Err(format!("the value \"{given}\" is not a valid setting")),
    })
}

/// SPIRE's `PrettyPrintLogger`: `Logger Level : <current>`, `Launch Level : <launch>` and an
/// empty line; an error for a level with no name.
pub fn logger_pretty(logger: &types::Logger) -> Result<String, String> {
    let current = logrus_name(logger.current_level).ok_or(
        "internal error: returned current log level is undefined; please report this as a bug",
    )?;
    let launch = logrus_name(logger.launch_level).ok_or(
        "internal error: returned launch log level is undefined; please report this as a bug",
    )?;
    Ok(format!(
        "Logger Level : {current}\nLaunch Level : {launch}\n\n"
    ))
}

/// `types.Logger` as protojson (enum values by name).
pub fn logger_json(logger: &types::Logger) -> Value {
    let level = |v: i32| enum_json(LogLevel::try_from(v).ok().map(|l| l.as_str_name()), v);
    json!({
        "current_level": level(logger.current_level),
        "launch_level": level(logger.launch_level),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::json::json_line;
    use super::*;

    fn logger(current: LogLevel, launch: LogLevel) -> types::Logger {
        types::Logger {
            current_level: current as i32,
            launch_level: launch as i32,
        }
    }

    // The expected texts are those of SPIRE's cmd/spire-agent/cli/logger/{get,set}_test.go.
    #[test]
    fn pretty_output_is_spires() {
        assert_eq!(
            logger_pretty(&logger(LogLevel::Info, LogLevel::Info)).unwrap(),
            "Logger Level : info\nLaunch Level : info\n\n"
        );
        assert_eq!(
            logger_pretty(&logger(LogLevel::Warn, LogLevel::Debug)).unwrap(),
            "Logger Level : warning\nLaunch Level : debug\n\n"
        );
        assert_eq!(
            logger_pretty(&logger(LogLevel::Trace, LogLevel::Error)).unwrap(),
            "Logger Level : trace\nLaunch Level : error\n\n"
        );
        assert_eq!(
            logger_pretty(&logger(LogLevel::Panic, LogLevel::Fatal)).unwrap(),
            "Logger Level : panic\nLaunch Level : fatal\n\n"
        );
    }

    #[test]
    fn a_level_without_a_name_is_an_internal_error() {
        assert_eq!(
            logger_pretty(&types::Logger::default()).unwrap_err(),
            "internal error: returned current log level is undefined; please report this as a bug"
        );
        assert_eq!(
            logger_pretty(&logger(LogLevel::Info, LogLevel::Unspecified)).unwrap_err(),
            "internal error: returned launch log level is undefined; please report this as a bug"
        );
    }

    #[test]
    fn json_output_is_spires() {
        assert_eq!(
            json_line(logger_json(&logger(LogLevel::Info, LogLevel::Info))),
            r#"{"current_level":"INFO","launch_level":"INFO"}"#
        );
        assert_eq!(
            json_line(logger_json(&logger(LogLevel::Warn, LogLevel::Debug))),
            r#"{"current_level":"WARN","launch_level":"DEBUG"}"#
        );
    }

    #[test]
    fn verbs_read_as_spires() {
        let names: Vec<_> = LoggerVerb::ALL.iter().map(|v| v.name()).collect();
        assert_eq!(names, ["logger get", "logger set", "logger reset"]);
        assert_eq!(LoggerVerb::Get.synopsis(), "Gets the logger details");
        assert_eq!(LoggerVerb::Set.synopsis(), "Sets the logger details");
        assert_eq!(
            LoggerVerb::Reset.synopsis(),
            "Reset the logger details to launch level"
        );
        assert_eq!(LoggerVerb::Set.failure(), "failed to set log level");
    }

    #[test]
    fn level_flag_parses_as_logrus_with_spires_errors() {
        assert_eq!(parse_level_flag("debug"), Ok(LogLevel::Debug));
        assert_eq!(parse_level_flag("WARN"), Ok(LogLevel::Warn));
        assert_eq!(parse_level_flag("warning"), Ok(LogLevel::Warn));
        assert_eq!(
            parse_level_flag("never").unwrap_err(),
            "the value \"never\" is not a valid setting"
        );
        assert_eq!(
            parse_level_flag("").unwrap_err(),
            "a value (-level) must be set"
        );
    }
}
