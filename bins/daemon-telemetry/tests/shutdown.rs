//! SIGTERM and SIGINT resolve the shutdown signal instead of killing the process.
#![cfg(unix)]

use daemon_telemetry::{ShutdownSignal, StopSignal};
use std::process::Command;
use std::time::Duration;

fn send(signal: &str) {
    let status = Command::new("kill")
        .args([signal, &std::process::id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

#[tokio::test]
async fn sigterm_then_sigint() {
    let mut signal = ShutdownSignal::new().expect("handlers install");
    send("-TERM");
    let got = tokio::time::timeout(Duration::from_secs(10), signal.recv())
        .await
        .expect("SIGTERM within 10s");
    assert_eq!(got, StopSignal::Terminate);
    send("-INT");
    let got = tokio::time::timeout(Duration::from_secs(10), signal.recv())
        .await
        .expect("SIGINT within 10s");
    assert_eq!(got, StopSignal::Interrupt);
}
