//! The examples as processes: one running in the background whose output lines the test
//! reads, or one run to completion; every wait bounded by [`LIMIT`].

use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// Every step is bounded: a hung process fails the test instead of stalling the suite.
pub const LIMIT: Duration = Duration::from_secs(30);

/// A program running in the background; killed when dropped.
pub struct Background {
    pub child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    /// Everything it printed so far (stdout, and stderr lines prefixed `stderr: `).
    seen: Arc<Mutex<Vec<String>>>,
}

impl Background {
    /// Starts `command` with its stdout and stderr piped to the test.
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the example starts");
        let (tx, lines) = mpsc::unbounded_channel();
        let seen = Arc::new(Mutex::new(Vec::new()));
        forward(child.stdout.take().unwrap(), "", tx.clone(), seen.clone());
        forward(child.stderr.take().unwrap(), "stderr: ", tx, seen.clone());
        Self { child, lines, seen }
    }

    /// The next line it prints.
    pub async fn next_line(&mut self) -> String {
        match tokio::time::timeout(LIMIT, self.lines.recv()).await {
            Ok(Some(line)) => line,
            _ => panic!("no next line; so far:\n{}", self.output()),
        }
    }

    /// The next line it prints that contains `text`.
    pub async fn line_with(&mut self, text: &str) -> String {
        let wait = async {
            loop {
                match self.lines.recv().await {
                    Some(line) if line.contains(text) => return Some(line),
                    Some(_) => {}
                    None => return None,
                }
            }
        };
        match tokio::time::timeout(LIMIT, wait).await {
            Ok(Some(line)) => line,
            _ => panic!("no line with {text:?}; so far:\n{}", self.output()),
        }
    }

    /// Everything printed so far.
    pub fn output(&self) -> String {
        self.seen.lock().unwrap().join("\n")
    }

    /// Waits for it to exit by itself.
    pub async fn wait(&mut self) -> std::process::ExitStatus {
        match tokio::time::timeout(LIMIT, self.child.wait()).await {
            Ok(status) => status.unwrap(),
            Err(_) => panic!("did not exit in time; so far:\n{}", self.output()),
        }
    }

    /// Kills it and waits for it.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(LIMIT, self.child.wait()).await;
    }
}

fn forward(
    from: impl AsyncRead + Unpin + Send + 'static,
    prefix: &'static str,
    tx: mpsc::UnboundedSender<String>,
    seen: Arc<Mutex<Vec<String>>>,
) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(from).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            let line = format!("{prefix}{line}");
            seen.lock().unwrap().push(line.clone());
            let _ = tx.send(line);
        }
    });
}

/// Runs `command` to completion.
pub async fn run(mut command: Command) -> Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the example starts");
    tokio::time::timeout(LIMIT, child.wait_with_output())
        .await
        .expect("the example finishes in time")
        .unwrap()
}

/// Lossy UTF-8.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `command`'s stdout, asserting it succeeded.
pub fn succeeded(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed ({}):\n{}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// `command`'s stderr, asserting it failed.
pub fn failed(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "succeeded:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stderr)
}
