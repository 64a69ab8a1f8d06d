//! Logs in both formats, at the configured level, changed at run time.

use daemon_telemetry::logging::{self, LogFormat, LogLevel, LogSettings};
use spire_config::Config;
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("buffer lock").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().expect("buffer lock").clone();
        String::from_utf8(bytes)
            .expect("utf8")
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

fn settings(level: LogLevel, format: LogFormat) -> LogSettings {
    LogSettings {
        level,
        format,
        ..LogSettings::default()
    }
}

/// Checks an RFC 3339 UTC timestamp with optional nanoseconds, e.g. 2024-05-06T07:08:09.12Z.
fn is_rfc3339_utc(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let fixed = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && s.ends_with('Z');
    let frac = &s[19..s.len() - 1];
    fixed
        && (frac.is_empty()
            || (frac.starts_with('.')
                && frac.len() <= 10
                && frac[1..].bytes().all(|d| d.is_ascii_digit())))
}

/// Splits `time="…" rest` and checks the time.
fn without_time(line: &str) -> String {
    let rest = line
        .strip_prefix("time=\"")
        .unwrap_or_else(|| panic!("no time: {line}"));
    let (time, rest) = rest
        .split_once("\" ")
        .unwrap_or_else(|| panic!("no time end: {line}"));
    assert!(is_rfc3339_utc(time), "{time}");
    rest.to_owned()
}

#[test]
fn text_format_at_info() {
    let out = Buffer::default();
    let (dispatch, _) =
        logging::build_with_writer(&settings(LogLevel::Info, LogFormat::Text), out.clone());
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::trace!("no");
        tracing::debug!("no");
        tracing::info!(subsystem_name = "ca", x509_ttl = 3600, "Starting CA");
        tracing::warn!(path = "/tmp/a b", "Careful");
        tracing::error!(error = %std::io::Error::other("disk full"), ok = false, "Failed");
    });
    let lines: Vec<String> = out.lines().iter().map(|l| without_time(l)).collect();
    assert_eq!(
        lines,
        [
            "level=info msg=\"Starting CA\" subsystem_name=ca x509_ttl=3600",
            "level=warning msg=Careful path=\"/tmp/a b\"",
            "level=error msg=Failed error=\"disk full\" ok=false",
        ]
    );
}

#[test]
fn json_format_at_debug_with_span_fields() {
    let out = Buffer::default();
    let (dispatch, _) =
        logging::build_with_writer(&settings(LogLevel::Debug, LogFormat::Json), out.clone());
    tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!(
            "rpc",
            method = "BatchNewX509SVID",
            caller_id = "spiffe://td/agent"
        );
        let _entered = span.enter();
        tracing::debug!(count = 2u64, "Signed");
        tracing::trace!("no");
    });
    let lines = out.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    let (before, time_and_after) = line.split_once(",\"time\":\"").expect("time field last");
    assert_eq!(
        before,
        "{\"caller_id\":\"spiffe://td/agent\",\"count\":2,\"level\":\"debug\",\"method\":\"BatchNewX509SVID\",\"msg\":\"Signed\""
    );
    let time = time_and_after.strip_suffix("\"}").expect("object end");
    assert!(is_rfc3339_utc(time), "{time}");
}

#[test]
fn level_changes_at_run_time_and_resets() {
    let out = Buffer::default();
    let (dispatch, handle) =
        logging::build_with_writer(&settings(LogLevel::Warn, LogFormat::Text), out.clone());
    assert_eq!(
        (handle.level(), handle.launch_level()),
        (LogLevel::Warn, LogLevel::Warn)
    );
    tracing::dispatcher::with_default(&dispatch, || {
        let emit = |n: u32| {
            tracing::info!(n, "info");
            tracing::debug!(n, "debug");
        };
        emit(1);
        handle.set_level(LogLevel::Debug);
        assert_eq!(handle.level(), LogLevel::Debug);
        emit(2);
        handle.reset_level();
        assert_eq!(handle.level(), LogLevel::Warn);
        emit(3);
        handle.set_level(LogLevel::Fatal);
        tracing::error!("silenced at FATAL");
    });
    let lines: Vec<String> = out.lines().iter().map(|l| without_time(l)).collect();
    assert_eq!(
        lines,
        ["level=info msg=info n=2", "level=debug msg=debug n=2"]
    );
}

#[test]
fn source_location_fields() {
    let out = Buffer::default();
    let settings = LogSettings {
        source_location: true,
        ..settings(LogLevel::Info, LogFormat::Text)
    };
    let (dispatch, _) = logging::build_with_writer(&settings, out.clone());
    tracing::dispatcher::with_default(&dispatch, || tracing::info!("here"));
    let line = without_time(&out.lines()[0]);
    assert!(
        line.starts_with("level=info msg=here file=\"logging.rs:"),
        "{line}"
    );
    assert!(line.ends_with(" func=logging"), "{line}");
}

#[test]
fn log_file_is_appended_and_reopened() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("server.log");
    std::fs::write(&path, "earlier line\n").expect("write");
    let settings = LogSettings {
        file: Some(path.clone()),
        ..settings(LogLevel::Info, LogFormat::Json)
    };
    let (dispatch, handle) = logging::build(&settings).expect("opens");
    tracing::dispatcher::with_default(&dispatch, || tracing::info!("first"));
    // Rotation: the file is moved away and the logger reopens its path.
    let rotated = dir.path().join("server.log.1");
    std::fs::rename(&path, &rotated).expect("rename");
    handle.reopen().expect("reopens");
    tracing::dispatcher::with_default(&dispatch, || tracing::info!("second"));

    let old = std::fs::read_to_string(&rotated).expect("read");
    assert!(
        old.starts_with("earlier line\n{\"level\":\"info\",\"msg\":\"first\""),
        "{old}"
    );
    let new = std::fs::read_to_string(&path).expect("read");
    assert!(
        new.starts_with("{\"level\":\"info\",\"msg\":\"second\"") && new.lines().count() == 1,
        "{new}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode & !0o640, 0, "mode {mode:o}");
    }

    let bad = LogSettings {
        file: Some(dir.path().join("missing/dir/x.log")),
        ..LogSettings::default()
    };
    let err = logging::build(&bad).expect_err("no such directory");
    assert!(
        err.to_string().starts_with("unable to open log file "),
        "{err}"
    );
}

#[test]
fn settings_from_config() {
    let read = |text: &str| {
        Config::parse(text)
            .and_then(|c| c.decode(|top| top.required_block_with("server", LogSettings::read)))
    };
    let s = read("server {\n log_level = \"debug\"\n log_format = \"JSON\"\n log_file = \"/var/log/x\"\n log_source_location = true\n}")
        .expect("decodes");
    assert_eq!(
        s,
        LogSettings {
            level: LogLevel::Debug,
            format: LogFormat::Json,
            file: Some("/var/log/x".into()),
            source_location: true
        }
    );
    assert_eq!(read("server {}").expect("decodes"), LogSettings::default());
    for (text, level) in [
        ("WARN", LogLevel::Warn),
        ("warning", LogLevel::Warn),
        ("Error", LogLevel::Error),
        ("INFO", LogLevel::Info),
    ] {
        assert_eq!(
            read(&format!("server {{ log_level = \"{text}\" }}"))
                .expect("decodes")
                .level,
            level
        );
    }
    let err = read("server {\n log_level = \"verbose\"\n}").expect_err("bad level");
    assert_eq!(
        err.to_string(),
        "invalid value for \"log_level\" in server block at line 2: unknown log level (expected DEBUG, INFO, WARN or ERROR; TRACE, FATAL and PANIC also work)"
    );
    let err = read("server { log_format = \"xml\" }").expect_err("bad format");
    assert!(
        err.to_string()
            .ends_with("unknown log format (expected text or json)"),
        "{err}"
    );
}
