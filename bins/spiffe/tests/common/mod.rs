//! Helpers shared by the integration tests: running the built `spiffe` binary and reading the
//! checked-in test vectors of spiffe-core.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// The directory of spiffe-core's test data (`x509`, `jwt`, `bundle`).
pub(crate) fn data(rel: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../spiffe-core/tests/data");
    dir.join(rel).to_string_lossy().into_owned()
}

/// Parses a vectors file.
pub(crate) fn vectors(rel: &str) -> Value {
    let text = std::fs::read_to_string(data(rel)).expect("read vectors");
    serde_json::from_str(&text).expect("vectors are JSON")
}

pub(crate) fn spiffe() -> Command {
    Command::new(env!("CARGO_BIN_EXE_spiffe"))
}

pub(crate) fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    spiffe().args(args).output().expect("run spiffe")
}

pub(crate) fn run_stdin<S: AsRef<std::ffi::OsStr>>(args: &[S], stdin: &[u8]) -> Output {
    let mut child = spiffe()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn spiffe");
    let mut input = child.stdin.take().expect("piped stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || input.write_all(&data));
    let output = child.wait_with_output().expect("wait for spiffe");
    writer.join().expect("writer thread").expect("write stdin");
    output
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 stdout")
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("UTF-8 stderr")
}

/// The single JSON answer on stdout.
pub(crate) fn answer(output: &Output) -> Value {
    let text = stdout(output);
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_else(|| {
        panic!("no answer; stderr: {}", stderr(output));
    });
    assert!(lines.next().is_none(), "one answer expected: {text}");
    serde_json::from_str(first).expect("the answer is one JSON object")
}

/// RFC 3339 form of the fixed verification times of the vectors (known values, not computed
/// with the binary's formatter).
pub(crate) fn rfc3339(secs: u64) -> &'static str {
    match secs {
        1_700_000_000 => "2023-11-14T22:13:20Z",
        1_800_000_000 => "2027-01-15T08:00:00Z",
        other => panic!("no RFC 3339 form recorded for {other}"),
    }
}
