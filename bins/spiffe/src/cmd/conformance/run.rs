//! `spiffe conformance vectors run -- CMD…`: runs every vector through an external adapter
//! (see [`super::adapter`] for the protocol), compares each answer with the expected verdict,
//! and reports one line per vector, one line per requirement id, and a summary.
//!
//! The adapter is started once; vectors are written to its stdin by a thread while answers
//! are read (so neither side can block the other), each answer awaited at most `--timeout`.
//! An adapter that stops answering fails the vectors left.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use clap::Args;
use serde::Serialize;
use serde_json::Value;

use super::report::Verdict;
use super::Summary;
use crate::output::{Answer, Failure, Output};

/// Arguments of `vectors run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Only vectors of this kind (repeat for more): spiffe-id, trust-domain, x509-verify,
    /// x509-svid, jwt-svid, bundle, bundle-map.
    #[arg(long, value_name = "KIND")]
    only: Vec<String>,

    /// The longest the adapter may take to answer one vector.
    #[arg(long, value_name = "DURATION", default_value = "10s",
          value_parser = super::workload_api::parse_duration)]
    timeout: Duration,

    /// Print only failures and not-observable vectors (the per-requirement lines and the
    /// summary are always printed).
    #[arg(long)]
    failures_only: bool,

    /// The adapter command and its arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<String>,
}

/// One vector's outcome.
#[derive(Debug, Serialize)]
struct VectorLine {
    valid: bool,
    id: String,
    kind: String,
    requirements: Vec<String>,
    verdict: Verdict,
    expect: String,
    got: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    detail: String,
}

impl Answer for VectorLine {
    fn is_valid(&self) -> bool {
        self.valid
    }

    fn write_human(&self, w: &mut dyn Write) -> io::Result<()> {
        let label = match self.verdict {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
            Verdict::NotObservable => "not-observable",
        };
        write!(
            w,
            "{label:<14} {} [{}]: expect {}, got {}",
            self.id,
            self.requirements.join(", "),
            self.expect,
            self.got
        )?;
        if !self.detail.is_empty() {
            write!(w, " ({})", self.detail)?;
        }
        Ok(())
    }
}

/// One requirement id's tally over its vectors.
#[derive(Debug, Serialize)]
struct RequirementLine {
    valid: bool,
    requirement: String,
    pass: usize,
    fail: usize,
    not_observable: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    failed: Vec<String>,
}

impl Answer for RequirementLine {
    fn is_valid(&self) -> bool {
        self.valid
    }

    fn write_human(&self, w: &mut dyn Write) -> io::Result<()> {
        let label = if self.fail > 0 { "FAIL" } else { "pass" };
        write!(
            w,
            "{label:<14} {:<12} {} passed, {} failed, {} not observable",
            self.requirement, self.pass, self.fail, self.not_observable
        )?;
        if !self.failed.is_empty() {
            write!(w, ": {}", self.failed.join(", "))?;
        }
        Ok(())
    }
}

/// Runs the suite through `args.command`.
pub(crate) fn run<W: Write>(args: &RunArgs, out: &mut Output<W>) -> Result<(), Failure> {
    let vectors: Vec<Value> = super::vectors::all()?
        .into_iter()
        .filter(|v| args.only.is_empty() || args.only.iter().any(|k| v["kind"] == k.as_str()))
        .collect();
    let (program, rest) = args.command.split_first().ok_or_else(|| Failure::Input {
        what: "vectors run".into(),
        error: "no adapter command after `--`".into(),
    })?;
    let mut child = Command::new(program)
        .args(rest)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| Failure::Input {
            what: format!("starting the adapter `{program}`"),
            error: Box::new(e),
        })?;
    let mut stdin = child.stdin.take().ok_or_else(|| Failure::Input {
        what: "the adapter".into(),
        error: "no stdin pipe".into(),
    })?;
    let stdout = child.stdout.take().ok_or_else(|| Failure::Input {
        what: "the adapter".into(),
        error: "no stdout pipe".into(),
    })?;
    let lines: Vec<String> = vectors.iter().map(Value::to_string).collect();
    let writer = std::thread::spawn(move || {
        for line in lines {
            // A closed pipe means the adapter quit; the reader reports the vectors left.
            if writeln!(stdin, "{line}").is_err() {
                break;
            }
        }
    });
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let mut results = Vec::with_capacity(vectors.len());
    let mut gone: Option<String> = None;
    for vector in &vectors {
        let got = match &gone {
            Some(why) => Err(why.clone()),
            None => match rx.recv_timeout(args.timeout) {
                Ok(line) => Ok(line),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    gone = Some(format!("no answer within {:?}", args.timeout));
                    Err(gone.clone().unwrap_or_default())
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    gone = Some("the adapter closed its stdout".to_owned());
                    Err(gone.clone().unwrap_or_default())
                }
            },
        };
        results.push(judge(vector, got));
    }
    // The adapter's job is done: close it down whatever state it is in.
    let _ = child.kill();
    let _ = child.wait();
    let _ = writer.join();

    let mut by_requirement: BTreeMap<String, RequirementLine> = BTreeMap::new();
    for line in &results {
        for req in &line.requirements {
            let entry = by_requirement
                .entry(req.clone())
                .or_insert_with(|| RequirementLine {
                    valid: true,
                    requirement: req.clone(),
                    pass: 0,
                    fail: 0,
                    not_observable: 0,
                    failed: Vec::new(),
                });
            match line.verdict {
                Verdict::Pass => entry.pass += 1,
                Verdict::Fail => {
                    entry.fail += 1;
                    entry.valid = false;
                    entry.failed.push(line.id.clone());
                }
                Verdict::NotObservable => entry.not_observable += 1,
            }
        }
    }
    for line in &results {
        if !args.failures_only || line.verdict != Verdict::Pass {
            out.answer(line)?;
        }
    }
    for line in by_requirement.values() {
        out.answer(line)?;
    }
    out.answer(&Summary::of(results.iter().map(|l| &l.verdict)))
}

/// Compares one answer line with the vector.
fn judge(vector: &Value, got: Result<String, String>) -> VectorLine {
    let id = vector["id"].as_str().unwrap_or_default().to_owned();
    let expect = vector["expect"].as_str().unwrap_or_default().to_owned();
    let reason = vector["reason"].as_str().map(|r| format!("reject: {r}"));
    let mut line = VectorLine {
        valid: true,
        id: id.clone(),
        kind: vector["kind"].as_str().unwrap_or_default().to_owned(),
        requirements: vector["requirements"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str().map(str::to_owned))
            .collect(),
        verdict: Verdict::Fail,
        expect: expect.clone(),
        got: String::new(),
        detail: String::new(),
    };
    let answer: Value = match got.map(|text| serde_json::from_str::<Value>(&text)) {
        Err(why) => {
            line.got = "nothing".into();
            line.detail = why;
            line.valid = false;
            return line;
        }
        Ok(Err(e)) => {
            line.got = "a malformed answer".into();
            line.detail = format!("not JSON: {e}");
            line.valid = false;
            return line;
        }
        Ok(Ok(answer)) => answer,
    };
    let verdict = answer["verdict"].as_str().unwrap_or_default();
    line.got = verdict.to_owned();
    line.detail = answer["detail"]
        .as_str()
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    if answer["id"].as_str() != Some(&id) {
        line.detail = format!(
            "answer for `{}` where `{id}` was due (answers must come in order)",
            answer["id"]
        );
    } else if verdict == "unsupported" {
        line.verdict = Verdict::NotObservable;
    } else if verdict == expect {
        line.verdict = Verdict::Pass;
        // Values the adapter chose to report must equal the expected ones.
        if let (Some(values), Some(expected)) =
            (answer["values"].as_object(), vector["expected"].as_object())
        {
            for (key, want) in expected {
                if let Some(have) = values.get(key) {
                    if have != want {
                        line.verdict = Verdict::Fail;
                        line.detail = format!("`{key}` is {have}, expected {want}");
                    }
                }
            }
        }
    } else if verdict != "accept" && verdict != "reject" {
        line.detail = format!("verdict `{verdict}` is none of accept, reject, unsupported");
    } else if let Some(reason) = reason {
        line.expect = reason;
    }
    line.valid = line.verdict != Verdict::Fail;
    line
}
