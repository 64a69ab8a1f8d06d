//! Logging as SPIRE's daemons log: `log_level`, `log_format` (`text` or `json`, logrus's
//! layouts), `log_file` (appended to, created `0640`), `log_source_location`, through
//! `tracing`, with a [`LogHandle`] to read, change and reset the level at run time (SPIRE's
//! Logger API: `GetLogger`, `SetLogLevel`, `ResetLogLevel`) and to reopen the file after
//! rotation.
//!
//! ```
//! use daemon_telemetry::logging::{self, LogFormat, LogLevel, LogSettings};
//! use std::sync::{Arc, Mutex};
//!
//! #[derive(Clone, Default)]
//! struct Buffer(Arc<Mutex<Vec<u8>>>);
//! impl std::io::Write for Buffer {
//!     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { self.0.lock().unwrap().write(b) }
//!     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
//! }
//!
//! let buffer = Buffer::default();
//! let settings = LogSettings { level: LogLevel::Info, format: LogFormat::Json, ..LogSettings::default() };
//! let (dispatch, handle) = logging::build_with_writer(&settings, buffer.clone());
//! tracing::dispatcher::with_default(&dispatch, || {
//!     tracing::debug!("hidden");
//!     tracing::info!(subsystem_name = "ca", "Starting");
//!     handle.set_level(LogLevel::Debug);
//!     tracing::debug!("shown");
//! });
//! let out = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
//! assert_eq!(out.lines().count(), 2);
//! assert!(out.starts_with("{\"level\":\"info\",\"msg\":\"Starting\",\"subsystem_name\":\"ca\",\"time\":\""));
//! ```

mod format;
mod layer;

use layer::{LogrusLayer, SharedLevel};
use spire_config::{ConfigError, Decoder};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use thiserror::Error;
use tracing::metadata::LevelFilter;
use tracing::{Dispatch, Level};
use tracing_subscriber::layer::SubscriberExt;

/// SPIRE's log levels (logrus's), most severe first. Only `ERROR` to `TRACE` are emitted;
/// `PANIC` and `FATAL` silence everything this implementation logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum LogLevel {
    /// `PANIC`.
    Panic = 0,
    /// `FATAL`.
    Fatal = 1,
    /// `ERROR`.
    Error = 2,
    /// `WARN` (also `WARNING`).
    Warn = 3,
    /// `INFO`, SPIRE's default.
    Info = 4,
    /// `DEBUG`.
    Debug = 5,
    /// `TRACE`.
    Trace = 6,
}

impl LogLevel {
    const ALL: [LogLevel; 7] = [
        LogLevel::Panic,
        LogLevel::Fatal,
        LogLevel::Error,
        LogLevel::Warn,
        LogLevel::Info,
        LogLevel::Debug,
        LogLevel::Trace,
    ];

    fn from_index(i: u8) -> LogLevel {
        Self::ALL
            .get(usize::from(i))
            .copied()
            .unwrap_or(LogLevel::Trace)
    }

    /// Whether events of a `tracing` level are logged at this level.
    pub fn allows(self, level: &Level) -> bool {
        let index = match *level {
            Level::ERROR => LogLevel::Error,
            Level::WARN => LogLevel::Warn,
            Level::INFO => LogLevel::Info,
            Level::DEBUG => LogLevel::Debug,
            Level::TRACE => LogLevel::Trace,
        };
        index <= self
    }

    fn filter(self) -> LevelFilter {
        match self {
            LogLevel::Panic | LogLevel::Fatal => LevelFilter::OFF,
            LogLevel::Error => LevelFilter::ERROR,
            LogLevel::Warn => LevelFilter::WARN,
            LogLevel::Info => LevelFilter::INFO,
            LogLevel::Debug => LevelFilter::DEBUG,
            LogLevel::Trace => LevelFilter::TRACE,
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogLevel::Panic => "PANIC",
            LogLevel::Fatal => "FATAL",
            LogLevel::Error => "ERROR",
            LogLevel::Warn => "WARN",
            LogLevel::Info => "INFO",
            LogLevel::Debug => "DEBUG",
            LogLevel::Trace => "TRACE",
        })
    }
}

/// A log level SPIRE does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error(
    "unknown log level (expected DEBUG, INFO, WARN or ERROR; TRACE, FATAL and PANIC also work)"
)]
pub struct UnknownLogLevel;

/// Case-insensitive, as logrus's `ParseLevel`.
impl FromStr for LogLevel {
    type Err = UnknownLogLevel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "panic" => LogLevel::Panic,
            "fatal" => LogLevel::Fatal,
            "error" => LogLevel::Error,
            "warn" | "warning" => LogLevel::Warn,
            "info" => LogLevel::Info,
            "debug" => LogLevel::Debug,
            "trace" => LogLevel::Trace,
            _ => return Err(UnknownLogLevel),
        })
    }
}

/// `log_format`: logrus's text or JSON layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `key=value` text, SPIRE's default.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// A log format other than `text` or `json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("unknown log format (expected text or json)")]
pub struct UnknownLogFormat;

/// Case-insensitive; empty is the default (text), as in SPIRE.
impl FromStr for LogFormat {
    type Err = UnknownLogFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "" | "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(UnknownLogFormat),
        }
    }
}

/// The logging settings of a `server { }` or `agent { }` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// `log_level`, default `INFO`.
    pub level: LogLevel,
    /// `log_format`, default text.
    pub format: LogFormat,
    /// `log_file`: append to this file instead of writing to stdout.
    pub file: Option<PathBuf>,
    /// `log_source_location`: add logrus's `file` (`name.rs:line`) and `func` (module) fields.
    pub source_location: bool,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            level: LogLevel::Info,
            format: LogFormat::Text,
            file: None,
            source_location: false,
        }
    }
}

impl LogSettings {
    /// Reads `log_level`, `log_format`, `log_file` and `log_source_location` from the
    /// daemon's block (the other keys are the daemon's to read).
    pub fn read(d: &mut Decoder<'_>) -> Result<Self, ConfigError> {
        let defaults = LogSettings::default();
        Ok(LogSettings {
            level: d.optional_parsed("log_level")?.unwrap_or(defaults.level),
            format: d.optional_parsed("log_format")?.unwrap_or(defaults.format),
            file: d
                .optional_str("log_file")?
                .filter(|f| !f.is_empty())
                .map(PathBuf::from),
            source_location: d.optional_bool("log_source_location")?.unwrap_or(false),
        })
    }
}

/// Why logging could not be set up.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LogError {
    /// `log_file` could not be opened for appending.
    #[error("unable to open log file {}", path.display())]
    OpenFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A global `tracing` subscriber is already installed.
    #[error("a global tracing subscriber is already set")]
    AlreadySet,
}

enum Sink {
    Writer(Box<dyn Write + Send>),
    File { path: PathBuf, file: File },
}

/// Where lines go; one lock per line, so lines from threads never interleave.
pub(crate) struct Output(Mutex<Sink>);

fn open_append(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o640);
    }
    options.open(path)
}

impl Output {
    fn lock(&self) -> MutexGuard<'_, Sink> {
        // A panic while writing a log line leaves nothing half-updated worth refusing over.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn write_line(&self, line: &[u8]) {
        let mut sink = self.lock();
        // Logging never fails the program; a line that cannot be written is lost, as in logrus.
        let _ = match &mut *sink {
            Sink::Writer(w) => w.write_all(line).and_then(|()| w.flush()),
            Sink::File { file, .. } => file.write_all(line),
        };
    }

    fn reopen(&self) -> io::Result<()> {
        let mut sink = self.lock();
        if let Sink::File { path, file } = &mut *sink {
            *file = open_append(path)?;
        }
        Ok(())
    }
}

/// Reads and changes the level of a running logger (SPIRE's Logger API), and reopens its file.
#[derive(Clone)]
pub struct LogHandle {
    level: Arc<SharedLevel>,
    launch: LogLevel,
    output: Arc<Output>,
}

impl fmt::Debug for LogHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogHandle")
            .field("level", &self.level())
            .field("launch_level", &self.launch)
            .finish()
    }
}

impl LogHandle {
    /// The current level.
    pub fn level(&self) -> LogLevel {
        self.level.get()
    }

    /// The level the logger started with (what [`reset_level`](Self::reset_level) restores).
    pub fn launch_level(&self) -> LogLevel {
        self.launch
    }

    /// Changes the level at once, for every thread.
    pub fn set_level(&self, level: LogLevel) {
        self.level.set(level);
        tracing::callsite::rebuild_interest_cache();
    }

    /// Restores the launch level.
    pub fn reset_level(&self) {
        self.set_level(self.launch);
    }

    /// Reopens `log_file` (after logrotate moved it; SPIRE does this on SIGUSR2). Nothing to
    /// do when logging to a writer.
    pub fn reopen(&self) -> io::Result<()> {
        self.output.reopen()
    }
}

fn assemble(settings: &LogSettings, sink: Sink) -> (Dispatch, LogHandle) {
    let level = Arc::new(SharedLevel::new(settings.level));
    let output = Arc::new(Output(Mutex::new(sink)));
    let layer = LogrusLayer {
        level: level.clone(),
        format: settings.format,
        source_location: settings.source_location,
        output: output.clone(),
    };
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(layer));
    (
        dispatch,
        LogHandle {
            level,
            launch: settings.level,
            output,
        },
    )
}

/// A logger writing to `log_file` (appending) or, without one, to stdout.
pub fn build(settings: &LogSettings) -> Result<(Dispatch, LogHandle), LogError> {
    let sink = match &settings.file {
        Some(path) => {
            let file = open_append(path).map_err(|source| LogError::OpenFile {
                path: path.clone(),
                source,
            })?;
            Sink::File {
                path: path.clone(),
                file,
            }
        }
        None => Sink::Writer(Box::new(io::stdout())),
    };
    Ok(assemble(settings, sink))
}

/// A logger writing to `writer` (tests, embedders); `settings.file` is ignored.
pub fn build_with_writer(
    settings: &LogSettings,
    writer: impl Write + Send + 'static,
) -> (Dispatch, LogHandle) {
    assemble(settings, Sink::Writer(Box::new(writer)))
}

/// Builds the logger and installs it as the process-wide `tracing` subscriber.
pub fn init(settings: &LogSettings) -> Result<LogHandle, LogError> {
    let (dispatch, handle) = build(settings)?;
    tracing::dispatcher::set_global_default(dispatch).map_err(|_| LogError::AlreadySet)?;
    Ok(handle)
}
