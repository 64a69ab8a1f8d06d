//! One line of a conformance report: a check, its requirement id, the verdict and the evidence.

use std::io::{self, Write};

use serde::Serialize;

use crate::output::Answer;

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Verdict {
    /// The requirement was observed to hold.
    Pass,
    /// The requirement was observed to be broken (exit status 1).
    Fail,
    /// The requirement could not be observed from outside (e.g. a rotation within `--watch`,
    /// or a check that depends on an answer that failed).
    NotObservable,
}

impl Verdict {
    fn label(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "FAIL",
            Self::NotObservable => "not-observable",
        }
    }
}

/// One check's outcome: `{"valid", "requirement", "check", "verdict", "evidence"}` in JSON,
/// `VERDICT  REQUIREMENT  check: evidence` for people.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CheckLine {
    /// False only for a failure.
    pub(crate) valid: bool,
    /// The requirement id of `SPIFFE-CONFORMANCE.md`, e.g. `WAPI-7`.
    pub(crate) requirement: &'static str,
    /// The check's stable name, e.g. `first-message-at-once`.
    pub(crate) check: &'static str,
    /// How it ended.
    pub(crate) verdict: Verdict,
    /// What was observed (never a token or a key).
    pub(crate) evidence: String,
}

impl CheckLine {
    pub(crate) fn new(
        requirement: &'static str,
        check: &'static str,
        verdict: Verdict,
        evidence: impl Into<String>,
    ) -> Self {
        Self {
            valid: verdict != Verdict::Fail,
            requirement,
            check,
            verdict,
            evidence: evidence.into(),
        }
    }
}

impl Answer for CheckLine {
    fn is_valid(&self) -> bool {
        self.valid
    }

    fn write_human(&self, w: &mut dyn Write) -> io::Result<()> {
        write!(
            w,
            "{:<14} {:<10} {}: {}",
            self.verdict.label(),
            self.requirement,
            self.check,
            self.evidence
        )
    }
}

/// The checks of one run, in order.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) lines: Vec<CheckLine>,
}

impl Report {
    pub(crate) fn pass(
        &mut self,
        req: &'static str,
        check: &'static str,
        evidence: impl Into<String>,
    ) {
        self.lines
            .push(CheckLine::new(req, check, Verdict::Pass, evidence));
    }

    pub(crate) fn fail(
        &mut self,
        req: &'static str,
        check: &'static str,
        evidence: impl Into<String>,
    ) {
        self.lines
            .push(CheckLine::new(req, check, Verdict::Fail, evidence));
    }

    pub(crate) fn unobservable(
        &mut self,
        req: &'static str,
        check: &'static str,
        evidence: impl Into<String>,
    ) {
        self.lines
            .push(CheckLine::new(req, check, Verdict::NotObservable, evidence));
    }

    /// Pass with `ok` as evidence when `problems` is empty, else fail listing them.
    pub(crate) fn expect_none(
        &mut self,
        req: &'static str,
        check: &'static str,
        problems: Vec<String>,
        ok: impl Into<String>,
    ) {
        if problems.is_empty() {
            self.pass(req, check, ok);
        } else {
            self.fail(req, check, problems.join("; "));
        }
    }
}
