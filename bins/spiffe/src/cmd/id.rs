//! `spiffe id …`: SPIFFE IDs (SPIFFE-ID.md, requirements ID-1..ID-17).

use std::borrow::Cow;
use std::io::{self, BufRead, BufReader, Read, Write};

use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use spiffe_core::{IdError, SpiffeId};

use crate::output::{Answer, DisplayStr, Failure, Format, Output};

/// Size of the stdin buffer in `--jsonl` mode.
const STDIN_BUFFER_SIZE: usize = 64 * 1024;

/// Subcommands of `spiffe id`.
#[derive(Debug, Subcommand)]
pub(crate) enum IdCommand {
    /// Check SPIFFE IDs against SPIFFE-ID.md; prints one answer per ID.
    Check(CheckArgs),
}

/// Arguments of `spiffe id check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The SPIFFE IDs to check, e.g. spiffe://example.org/web.
    #[arg(required_unless_present = "jsonl", conflicts_with = "jsonl")]
    ids: Vec<String>,

    /// Read one JSON string per line from stdin and answer each non-blank line with one JSON
    /// object on its own line (whatever `--output` says), in order, flushed before waiting for
    /// more input (so it works as a co-process). Blank lines are skipped without an answer.
    #[arg(long)]
    jsonl: bool,
}

// === impl IdCommand ===

impl IdCommand {
    /// Runs the subcommand, writing answers to `out`.
    pub(crate) fn run<W: Write>(self, out: &mut Output<W>) -> Result<(), Failure> {
        match self {
            Self::Check(args) if args.jsonl => {
                // A line protocol for programs: always JSON, whatever `--output` says.
                out.set_format(Format::Json);
                check_jsonl(io::stdin(), out)
            }
            Self::Check(args) => {
                for input in &args.ids {
                    let result = SpiffeId::new(input);
                    out.answer(&IdAnswer::checked(input, &result))?;
                }
                Ok(())
            }
        }
    }
}

/// Answers every line of `input` (one JSON string each) on `out`.
///
/// Answers are buffered and flushed whenever the next line is not already in the input buffer,
/// so a co-process that writes one line and waits gets its answer, while a batch piped in is
/// answered in large writes.
fn check_jsonl<R: Read, W: Write>(input: R, out: &mut Output<W>) -> Result<(), Failure> {
    let mut reader = BufReader::with_capacity(STDIN_BUFFER_SIZE, input);
    let mut line = Vec::with_capacity(256);
    let mut line_number = 0u64;
    loop {
        if !reader.buffer().contains(&b'\n') {
            out.flush()?; // the next read may block: answer what was asked so far
        }
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(Failure::io("reading stdin"))?;
        if read == 0 {
            return Ok(());
        }
        line_number += 1;
        let text = trim_line_end(&line);
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<JsonString<'_>>(text) {
            Ok(JsonString(input)) => {
                let result = SpiffeId::new(&input);
                out.answer(&IdAnswer::checked(&input, &result))?;
            }
            Err(error) => {
                let raw = String::from_utf8_lossy(text);
                let error = NotAJsonString { line_number, error };
                out.answer(&IdAnswer::unreadable(&raw, &error))?;
            }
        }
    }
}

/// Strips a trailing `\n` or `\r\n`.
fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// One JSON string, borrowed from the line when it has no escapes.
#[derive(Deserialize)]
struct JsonString<'a>(#[serde(borrow)] Cow<'a, str>);

/// Why a `--jsonl` line was not checked.
struct NotAJsonString {
    line_number: u64,
    error: serde_json::Error,
}

impl std::fmt::Display for NotAJsonString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {} is not a JSON string: {}",
            self.line_number, self.error
        )
    }
}

/// The answer about one input.
///
/// JSON: `{"input", "valid": true, "trust_domain", "path"}` (`path` is `""` for an ID without
/// a path), or `{"input", "valid": false, "error", "requirement"}` where `error` names the
/// broken rule and `requirement` is its id (e.g. `ID-5`; absent for unreadable lines).
#[derive(Serialize)]
pub(crate) struct IdAnswer<'a> {
    input: &'a str,
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    trust_domain: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<DisplayStr<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    requirement: Option<&'static str>,
}

// === impl IdAnswer ===

impl<'a> IdAnswer<'a> {
    /// The answer for `input`, parsed into `result`.
    pub(crate) fn checked(input: &'a str, result: &'a Result<SpiffeId, IdError>) -> Self {
        match result {
            Ok(id) => Self {
                input,
                valid: true,
                trust_domain: Some(id.trust_domain_name()),
                path: Some(id.path()),
                error: None,
                requirement: None,
            },
            Err(e) => Self {
                requirement: Some(e.requirement()),
                ..Self::unreadable(input, e)
            },
        }
    }

    /// An invalid answer for `input` with `error`.
    fn unreadable(input: &'a str, error: &'a dyn std::fmt::Display) -> Self {
        Self {
            input,
            valid: false,
            trust_domain: None,
            path: None,
            error: Some(DisplayStr(error)),
            requirement: None,
        }
    }
}

impl Answer for IdAnswer<'_> {
    fn is_valid(&self) -> bool {
        self.valid
    }

    fn write_human(&self, w: &mut dyn Write) -> io::Result<()> {
        match (self.trust_domain, self.path, &self.error) {
            (Some(td), Some(""), None) => {
                write!(w, "VALID {} (trust domain {td}, no path)", self.input)
            }
            (Some(td), Some(path), None) => {
                write!(w, "VALID {} (trust domain {td}, path {path})", self.input)
            }
            // Control characters in the input are escaped so the answer stays on one line.
            (_, _, Some(error)) => write!(w, "INVALID {}: {error}", self.input.escape_debug()),
            (_, _, None) => write!(w, "INVALID {}", self.input.escape_debug()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_jsonl(input: &str) -> (String, bool) {
        let mut buf = Vec::new();
        let mut out = Output::new(Format::Json, &mut buf);
        check_jsonl(input.as_bytes(), &mut out).expect("in-memory I/O");
        let valid = out.all_valid();
        drop(out);
        (String::from_utf8(buf).expect("UTF-8 output"), valid)
    }

    #[test]
    fn jsonl_answers_in_order_and_skips_blank_lines() {
        let (text, valid) =
            run_jsonl("\"spiffe://a/b\"\r\n\n   \n\"spiffe://A\"\n\"spiffe://x\\u002fy\"");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["valid"], true);
        assert_eq!(lines[0]["path"], "/b");
        assert_eq!(lines[1]["valid"], false);
        assert_eq!(lines[1]["requirement"], "ID-5");
        // Escapes are decoded before checking.
        assert_eq!(lines[2]["input"], "spiffe://x/y");
        assert_eq!(lines[2]["valid"], true);
        assert!(!valid);
    }

    #[test]
    fn jsonl_non_string_line_is_invalid_with_raw_input() {
        let (text, valid) = run_jsonl("spiffe://a/b\n42\n");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["input"], "spiffe://a/b");
        assert_eq!(lines[0]["valid"], false);
        let error = lines[0]["error"].as_str().expect("error string");
        assert!(error.starts_with("line 1 is not a JSON string"), "{error}");
        assert!(lines[1]["error"]
            .as_str()
            .expect("error")
            .starts_with("line 2 "));
        assert!(lines[0].get("trust_domain").is_none());
        assert!(!valid);
    }

    #[test]
    fn human_forms() {
        let mut buf = Vec::new();
        let ok = SpiffeId::new("spiffe://x/y");
        IdAnswer::checked("spiffe://x/y", &ok)
            .write_human(&mut buf)
            .expect("write");
        buf.push(b'\n');
        let root = SpiffeId::new("spiffe://x");
        IdAnswer::checked("spiffe://x", &root)
            .write_human(&mut buf)
            .expect("write");
        buf.push(b'\n');
        let bad = SpiffeId::new("spiffe://X\n");
        IdAnswer::checked("spiffe://X\n", &bad)
            .write_human(&mut buf)
            .expect("write");
        let text = String::from_utf8(buf).expect("UTF-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "VALID spiffe://x/y (trust domain x, path /y)");
        assert_eq!(lines[1], "VALID spiffe://x (trust domain x, no path)");
        assert!(
            lines[2].starts_with("INVALID spiffe://X\\n: "),
            "{}",
            lines[2]
        );
        assert!(lines[2].contains("ID-5"));
    }
}
