//! The program the helper looks after: waiting for `cmd`, its exit status, and signals to it or
//! to the process named by `pid_file_name`.

use super::config::RenewSignal;

pub(super) async fn wait_child(
    child: &mut Option<tokio::process::Child>,
) -> std::io::Result<std::process::ExitStatus> {
    match child {
        Some(child) => child.wait().await,
        None => std::future::pending().await,
    }
}

/// The helper's exit status for the child's: its code, or 128 + the signal that ended it.
pub(super) fn exit_code(status: std::io::Result<std::process::ExitStatus>) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => u8::try_from(code).unwrap_or(1),
            (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(1),
            _ => 1,
        },
        Err(_) => 1,
    }
}

pub(super) fn send(pid: u32, signal: rustix::process::Signal, what: &str) {
    let Some(target) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    if let Err(e) = rustix::process::kill_process(target, signal) {
        log!("warning: signalling {what} (pid {pid}): {e}");
    }
}

/// Sends `signal` to the pid on the first line of `path`, re-read every time (a restarted
/// program writes a new one); a missing or unreadable file is a warning, as in spiffe-helper.
pub(super) fn signal_pid_file(path: &std::path::Path, signal: RenewSignal) {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            log!(
                "warning: pid_file_name {}: {e}; not signalled",
                path.display()
            );
            return;
        }
    };
    match text.lines().next().map(str::trim).map(str::parse::<u32>) {
        Some(Ok(pid)) if pid > 0 => {
            send(pid, signal.signal, &path.display().to_string());
            log!("sent {} to pid {pid} from {}", signal.name, path.display());
        }
        _ => log!(
            "warning: pid_file_name {}: no process ID on its first line; not signalled",
            path.display()
        ),
    }
}
