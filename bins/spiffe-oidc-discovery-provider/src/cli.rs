//! The command line, as SPIRE's `oidc-discovery-provider`: `-config <path>` (default
//! `oidc-discovery-provider.conf`), `-expandEnv`, `-version`. Errors go to stderr and the exit
//! status is 1.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use spire_config::flags::{FlagError, FlagSet};
use spire_config::Config;

use crate::config::{Settings, DEFAULT_CONFIG_PATH};

/// Loads the config file at `path` (with `$VAR` expansion when `expand_env`) into settings.
/// The error is the message to print.
pub fn load(path: &Path, expand_env: bool) -> Result<Settings, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("unable to load configuration: {}: {e}", path.display()))?;
    let config = if expand_env {
        Config::parse_expanded(&text, |name| std::env::var(name).ok())
    } else {
        Config::parse(&text)
    };
    config
        .map_err(crate::config::SettingsError::from)
        .and_then(|c| Settings::from_config(&c))
        .map_err(|e| format!("unable to decode configuration at {}: {e}", path.display()))
}

fn flags() -> (
    FlagSet,
    spire_config::flags::Flag<bool>,
    spire_config::flags::Flag<String>,
    spire_config::flags::Flag<bool>,
) {
    let mut fs = FlagSet::new(
        std::env::args()
            .next()
            .unwrap_or_else(|| "spiffe-oidc-discovery-provider".into()),
    );
    let version = fs.bool("version", false, "print version");
    let config = fs.string("config", DEFAULT_CONFIG_PATH, "configuration file");
    let expand = fs.bool(
        "expandEnv",
        false,
        "expand environment variables in config file",
    );
    (fs, version, config, expand)
}

/// The program: parse flags, load the config, set up logging, serve until SIGTERM/SIGINT.
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (fs, version, config_flag, expand) = flags();
    let mut stderr = std::io::stderr();
    let parsed = match fs.parse_reporting(&args, &mut stderr) {
        Ok(parsed) => parsed,
        Err(FlagError::Help) => return ExitCode::SUCCESS,
        Err(_) => return ExitCode::from(2),
    };
    if *parsed.get(&version) {
        println!("{}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    if !parsed.args().is_empty() {
        let _ = writeln!(stderr, "Error: unexpected arguments: {:?}", parsed.args());
        let _ = stderr.write_all(fs.usage().as_bytes());
        return ExitCode::FAILURE;
    }
    let settings = match load(Path::new(parsed.get(&config_flag)), *parsed.get(&expand)) {
        Ok(settings) => settings,
        Err(message) => {
            let _ = writeln!(stderr, "{message}");
            return ExitCode::FAILURE;
        }
    };
    let _log = match daemon_telemetry::logging::init(&settings.log) {
        Ok(handle) => handle,
        Err(error) => {
            let _ = writeln!(stderr, "{error}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            let _ = writeln!(stderr, "unable to start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let mut signals = daemon_telemetry::ShutdownSignal::new()
            .map_err(|e| format!("unable to install signal handlers: {e}"))?;
        crate::run(settings, async move {
            let signal = signals.recv().await;
            tracing::info!(signal = ?signal, "Stopping");
        })
        .await
        .map_err(|e| error_chain(&e))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!(error = %message, "Provider stopped");
            let _ = writeln!(stderr, "{message}");
            ExitCode::FAILURE
        }
    }
}

/// `error: cause: cause…`.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
