//! Output shared by every subcommand: the `--output` format, one answer per input, buffered
//! stdout, and the exit status (0 iff every answer was valid, 1 otherwise or on I/O errors).

use std::error::Error;
use std::fmt;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;

/// Size of the stdout buffer; answers are written in batches of about this size.
const BUFFER_SIZE: usize = 64 * 1024;

/// How answers are printed (`--output`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// For people: one line per answer (inspect answers add indented detail lines).
    Human,
    /// One JSON object per line, each with `"valid"` and, when invalid, `"error"`.
    Json,
}

/// One answer about one input: serialized as a JSON object in `--output json`, or printed as a
/// line by [`Answer::write_human`].
pub(crate) trait Answer: Serialize {
    /// Whether the input was valid; any invalid answer makes the exit status 1.
    fn is_valid(&self) -> bool;

    /// Writes the human form, without the trailing newline.
    fn write_human(&self, w: &mut dyn Write) -> io::Result<()>;
}

/// A failure that stops a command (as opposed to an invalid input, which is an answer).
#[derive(Debug)]
pub(crate) enum Failure {
    /// Reading input or writing output failed.
    Io {
        /// What was being done, e.g. "reading stdin".
        context: &'static str,
        /// The I/O error.
        source: io::Error,
    },
    /// Reading or writing a named file failed.
    File {
        /// The file (`-` for stdin).
        path: PathBuf,
        /// What was being done: "reading" or "writing".
        action: &'static str,
        /// The I/O error.
        source: io::Error,
    },
    /// An input that configures the command (e.g. a `--bundle` file) is unusable.
    Input {
        /// Which input, e.g. "bundle file `td.pem` (trust domain td)".
        what: String,
        /// Why; its source chain is printed too.
        error: Box<dyn Error + Send + Sync>,
    },
}

impl Failure {
    /// An I/O failure while doing `context`.
    pub(crate) fn io(context: &'static str) -> impl FnOnce(io::Error) -> Self {
        move |source| Self::Io { context, source }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { context, source } => write!(f, "{context}: {source}"),
            Self::File {
                path,
                action,
                source,
            } => write!(f, "{action} `{}`: {source}", path.display()),
            Self::Input { what, error } => write!(f, "{what}: {}", ErrorChain(error.as_ref())),
        }
    }
}

/// A stable, machine-readable name for an error: its variant name (the start of its `Debug`
/// form, e.g. `LeafIsCa`), which test harnesses can compare without parsing messages.
pub(crate) fn error_code(error: &dyn fmt::Debug) -> String {
    let debug = format!("{error:?}");
    let end = debug
        .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .unwrap_or(debug.len());
    debug[..end].to_owned()
}

/// Displays an error followed by its sources, joined by `: `.
pub(crate) struct ErrorChain<'a>(pub(crate) &'a (dyn Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(error) = source {
            write!(f, ": {error}")?;
            source = error.source();
        }
        Ok(())
    }
}

/// Serializes any `Display` value as a JSON string without building a `String` first, and
/// displays as that value.
pub(crate) struct DisplayStr<'a>(pub(crate) &'a dyn fmt::Display);

impl Serialize for DisplayStr<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self.0)
    }
}

impl fmt::Display for DisplayStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where answers go, and whether all of them so far were valid.
pub(crate) struct Output<W: Write = io::StdoutLock<'static>> {
    format: Format,
    out: BufWriter<W>,
    all_valid: bool,
}

// === impl Output ===

impl Output {
    /// Answers go to (locked, buffered) stdout.
    pub(crate) fn stdout(format: Format) -> Self {
        Self::new(format, io::stdout().lock())
    }
}

impl<W: Write> Output<W> {
    /// Answers go to `writer`.
    pub(crate) fn new(format: Format, writer: W) -> Self {
        Self {
            format,
            out: BufWriter::with_capacity(BUFFER_SIZE, writer),
            all_valid: true,
        }
    }

    /// Switches the format, for modes that are defined as JSON (e.g. `id check --jsonl`).
    pub(crate) fn set_format(&mut self, format: Format) {
        self.format = format;
    }

    /// Writes one answer (buffered; see [`Output::flush`]).
    pub(crate) fn answer<A: Answer>(&mut self, answer: &A) -> Result<(), Failure> {
        self.all_valid &= answer.is_valid();
        match self.format {
            Format::Json => serde_json::to_writer(&mut self.out, answer)
                .map_err(io::Error::from)
                .map_err(Failure::io("writing output"))?,
            Format::Human => answer
                .write_human(&mut self.out)
                .map_err(Failure::io("writing output"))?,
        }
        self.out
            .write_all(b"\n")
            .map_err(Failure::io("writing output"))
    }

    /// Writes a document that is the command's result (e.g. a converted bundle) as is.
    pub(crate) fn write_raw(&mut self, data: &[u8]) -> Result<(), Failure> {
        self.out
            .write_all(data)
            .map_err(Failure::io("writing output"))
    }

    /// Pushes buffered answers out, e.g. before waiting for more input.
    pub(crate) fn flush(&mut self) -> Result<(), Failure> {
        self.out.flush().map_err(Failure::io("writing output"))
    }

    /// Whether every answer so far was valid.
    pub(crate) fn all_valid(&self) -> bool {
        self.all_valid
    }

    /// Flushes, reports a failure on stderr, and gives the exit status: success iff the
    /// command completed and every answer was valid.
    pub(crate) fn finish(mut self, result: Result<(), Failure>) -> ExitCode {
        let result = result.and_then(|()| self.flush());
        match result {
            Ok(()) if self.all_valid() => ExitCode::SUCCESS,
            Ok(()) => ExitCode::FAILURE,
            // A closed stdout (`| head`) is not worth a message.
            Err(Failure::Io { source, .. } | Failure::File { source, .. })
                if source.kind() == io::ErrorKind::BrokenPipe =>
            {
                ExitCode::FAILURE
            }
            Err(failure) => {
                eprintln!("spiffe: error: {failure}");
                ExitCode::FAILURE
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Fake {
        valid: bool,
    }

    impl Answer for Fake {
        fn is_valid(&self) -> bool {
            self.valid
        }
        fn write_human(&self, w: &mut dyn Write) -> io::Result<()> {
            write!(w, "{}", if self.valid { "VALID" } else { "INVALID" })
        }
    }

    #[test]
    fn json_lines_and_validity() {
        let mut buf = Vec::new();
        let mut out = Output::new(Format::Json, &mut buf);
        out.answer(&Fake { valid: true }).expect("write");
        assert!(out.all_valid());
        out.answer(&Fake { valid: false }).expect("write");
        assert!(!out.all_valid());
        out.flush().expect("flush");
        drop(out);
        assert_eq!(buf, b"{\"valid\":true}\n{\"valid\":false}\n");
    }

    #[test]
    fn human_lines() {
        let mut buf = Vec::new();
        let mut out = Output::new(Format::Human, &mut buf);
        out.answer(&Fake { valid: false }).expect("write");
        out.flush().expect("flush");
        drop(out);
        assert_eq!(buf, b"INVALID\n");
    }
}
