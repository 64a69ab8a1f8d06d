//! `spiffe id check`, run as a built binary: JSON answers, human lines and exit statuses.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Output, Stdio};

use std::sync::mpsc;
use std::time::Duration;

use common::{run, spiffe};
use serde_json::Value;

fn json_lines(output: &Output) -> Vec<Value> {
    String::from_utf8(output.stdout.clone())
        .expect("UTF-8 stdout")
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is one JSON object"))
        .collect()
}

#[test]
fn valid_ids_json_exit_0() {
    let out = run(&[
        "--output",
        "json",
        "id",
        "check",
        "spiffe://example.org/ns/prod/sa/web",
        "spiffe://example.org",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let answers = json_lines(&out);
    assert_eq!(answers.len(), 2);
    assert_eq!(
        answers[0],
        serde_json::json!({
            "input": "spiffe://example.org/ns/prod/sa/web",
            "valid": true,
            "trust_domain": "example.org",
            "path": "/ns/prod/sa/web",
        })
    );
    assert_eq!(answers[1]["path"], "");
    assert_eq!(answers[1]["trust_domain"], "example.org");
    assert!(answers[1].get("error").is_none());
}

#[test]
fn invalid_id_json_names_the_rule_exit_1() {
    // `--output` is global: accepted after the subcommand too.
    let out = run(&[
        "id",
        "check",
        "--output",
        "json",
        "spiffe://example.org/ok",
        "spiffe://Example.org/a",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let answers = json_lines(&out);
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[0]["valid"], true);
    let bad = &answers[1];
    assert_eq!(bad["input"], "spiffe://Example.org/a");
    assert_eq!(bad["valid"], false);
    assert_eq!(bad["requirement"], "ID-5");
    assert!(bad["error"]
        .as_str()
        .expect("error string")
        .contains("ID-5"));
    assert!(bad.get("trust_domain").is_none());
    assert!(bad.get("path").is_none());
}

#[test]
fn human_output() {
    let out = run(&["id", "check", "spiffe://x/y", "spiffe://x/"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "VALID spiffe://x/y (trust domain x, path /y)");
    assert!(
        lines[1].starts_with("INVALID spiffe://x/: "),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains("ID-11"), "{}", lines[1]);
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&["id", "check"]).status.code(), Some(2));
    assert_eq!(run(&["id", "frobnicate", "x"]).status.code(), Some(2));
    assert_eq!(
        run(&["--output", "yaml", "id", "check", "spiffe://x"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&["id", "check", "--jsonl", "spiffe://x"]).status.code(),
        Some(2)
    );
}

#[test]
fn jsonl_answers_each_line_in_order() {
    let input = "\"spiffe://example.org/a\"\n\n\"spiffe://example.org/\"\nnot json\n\"spiffe://example.org/\\u00e4\"\n";
    let out = common::run_stdin(&["id", "check", "--jsonl"], input.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    let answers = json_lines(&out);
    assert_eq!(answers.len(), 4, "the blank line gets no answer");
    assert_eq!(answers[0]["valid"], true);
    assert_eq!(answers[0]["path"], "/a");
    assert_eq!(answers[1]["requirement"], "ID-11");
    assert_eq!(answers[2]["input"], "not json");
    assert_eq!(answers[2]["valid"], false);
    assert!(answers[2]["error"]
        .as_str()
        .expect("error")
        .contains("not a JSON string"));
    assert_eq!(answers[3]["input"], "spiffe://example.org/ä");
    assert_eq!(answers[3]["requirement"], "ID-12");
}

#[test]
fn jsonl_all_valid_exit_0() {
    let input: String = (0..5000)
        .map(|i| format!("\"spiffe://example.org/w{i}\"\n"))
        .collect();
    let out = common::run_stdin(
        &["--output", "json", "id", "check", "--jsonl"],
        input.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0));
    let answers = json_lines(&out);
    assert_eq!(answers.len(), 5000);
    assert_eq!(answers[4999]["path"], "/w4999");
}

#[test]
fn jsonl_works_as_a_co_process() {
    // Each answer must arrive before the next question is written; a missing flush would
    // leave the reader waiting (bounded here by a timeout so the test fails instead of hanging).
    let mut child = spiffe()
        .args(["id", "check", "--jsonl"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn spiffe");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    for (id, valid) in [
        ("spiffe://example.org/a", true),
        ("spiffe://example.org//a", false),
        ("spiffe://example.org", true),
    ] {
        writeln!(stdin, "\"{id}\"").expect("write question");
        stdin.flush().expect("flush question");
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("answer arrives without closing stdin")
            .expect("read answer");
        let answer: Value = serde_json::from_str(&line).expect("JSON answer");
        assert_eq!(answer["input"], id);
        assert_eq!(answer["valid"], valid);
    }
    drop(stdin);
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(1), "one invalid ID was asked about");
}
