//! Waiting for SIGTERM or SIGINT, the signals on which SPIRE's daemons stop gracefully.

use std::io;

/// Which signal asked the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGTERM (what `kill`, systemd and Kubernetes send).
    Terminate,
    /// SIGINT (Ctrl-C).
    Interrupt,
}

/// Handlers for SIGTERM and SIGINT, installed when created: from then on those signals no
/// longer kill the process but wake [`recv`](Self::recv).
#[derive(Debug)]
pub struct ShutdownSignal {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    /// Installs the handlers. Needs a tokio runtime.
    pub fn new() -> io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(ShutdownSignal {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(ShutdownSignal {})
        }
    }

    /// Resolves when SIGTERM or SIGINT arrives (each call waits for a new one).
    pub async fn recv(&mut self) -> StopSignal {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => StopSignal::Terminate,
                _ = self.int.recv() => StopSignal::Interrupt,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            StopSignal::Interrupt
        }
    }
}

/// Installs the handlers and waits for the first SIGTERM or SIGINT.
pub async fn shutdown_signal() -> io::Result<StopSignal> {
    let mut signal = ShutdownSignal::new()?;
    Ok(signal.recv().await)
}
