//! The server's resource bounds, their defaults, and the descriptor budget they must fit in.

use std::time::Duration;

/// The default bound on concurrently open streams (RPCs in flight, streaming or not, all
/// connections together). An idle stream costs the server well under 16 KiB (see
/// `docs/performance.md`), so the bound caps stream memory at roughly 256 MiB.
pub const DEFAULT_MAX_STREAMS: usize = 16 * 1024;

/// The share of the stream and connection bounds one caller (one uid) may hold unless told
/// otherwise: a quarter (at least 1), so that one workload cannot take every slot.
pub const DEFAULT_CALLER_SHARE_DIVISOR: usize = 4;

/// The default bound on concurrently open streams of one connection, advertised to the client
/// as HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS`. A client opening more waits for a slot (it is
/// not refused); workloads normally open a handful of streams on one connection.
pub const DEFAULT_MAX_STREAMS_PER_CONNECTION: u32 = 1024;

/// The default bound on open connections (further lowered to fit the process's descriptor
/// limit, see [`WorkloadApiServer::with_max_connections`](super::WorkloadApiServer::with_max_connections)).
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// How long a client may take, from accept, to send the HTTP/2 preface and its first SETTINGS
/// frame; a connection that has not is closed.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a connection may stay open with no stream; then it is closed gracefully (GOAWAY),
/// and gRPC clients reconnect on their next call.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Every bound of one server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_streams: usize,
    /// `None`: a quarter of `max_streams`.
    pub(crate) max_streams_per_caller: Option<usize>,
    pub(crate) max_streams_per_connection: u32,
    pub(crate) max_connections: usize,
    /// `None`: a quarter of `max_connections` (after fitting).
    pub(crate) max_connections_per_caller: Option<usize>,
    pub(crate) handshake_timeout: Duration,
    pub(crate) idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_streams: DEFAULT_MAX_STREAMS,
            max_streams_per_caller: None,
            max_streams_per_connection: DEFAULT_MAX_STREAMS_PER_CONNECTION,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_caller: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

impl Limits {
    /// These limits with the connection bound lowered to what `descriptors` (the soft
    /// `RLIMIT_NOFILE`) leaves after a reserve for everything else the process opens (the
    /// listener, `/proc` reads of attestors, provider files, connections being refused): a
    /// quarter of the limit, at least 32. The per-caller shares are resolved too.
    pub(crate) fn fitted_to(mut self, descriptors: Option<u64>) -> Fitted {
        if let Some(limit) = descriptors {
            let reserve = (limit / 4).max(32);
            let budget = usize::try_from(limit.saturating_sub(reserve))
                .unwrap_or(usize::MAX)
                .max(1);
            self.max_connections = self.max_connections.min(budget);
        }
        let max_connections = self.max_connections.max(1);
        let max_streams = self.max_streams;
        Fitted {
            max_connections,
            max_connections_per_caller: self
                .max_connections_per_caller
                .unwrap_or(max_connections / DEFAULT_CALLER_SHARE_DIVISOR)
                .clamp(1, max_connections),
            max_streams,
            max_streams_per_caller: self
                .max_streams_per_caller
                .unwrap_or((max_streams / DEFAULT_CALLER_SHARE_DIVISOR).max(1))
                .min(max_streams),
        }
    }
}

/// [`Limits`] resolved for one run of the server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fitted {
    pub(crate) max_connections: usize,
    pub(crate) max_connections_per_caller: usize,
    pub(crate) max_streams: usize,
    pub(crate) max_streams_per_caller: usize,
}

/// The soft limit on open descriptors (`RLIMIT_NOFILE`), from `/proc/self/limits`; `None` where
/// it cannot be read or is unlimited.
pub(crate) fn descriptor_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_descriptor_limit(&limits)
}

fn parse_descriptor_limit(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_limit_parses_and_fits() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \n\
                    Max cpu time              unlimited            unlimited            seconds   \n\
                    Max open files            64                   524288               files     \n";
        assert_eq!(parse_descriptor_limit(text), Some(64));
        assert_eq!(
            parse_descriptor_limit("Max open files  unlimited  unlimited files"),
            None
        );
        let fitted = Limits::default().fitted_to(Some(64));
        assert_eq!(fitted.max_connections, 32);
        assert_eq!(fitted.max_connections_per_caller, 8);
        let fitted = Limits::default().fitted_to(Some(1024));
        assert_eq!(fitted.max_connections, 768);
        assert_eq!(fitted.max_connections_per_caller, 192);
        let fitted = Limits::default().fitted_to(Some(1 << 20));
        assert_eq!(fitted.max_connections, DEFAULT_MAX_CONNECTIONS);
        assert_eq!(
            fitted.max_connections_per_caller,
            DEFAULT_MAX_CONNECTIONS / 4
        );
        assert_eq!(fitted.max_streams_per_caller, DEFAULT_MAX_STREAMS / 4);
        let explicit = Limits {
            max_connections_per_caller: Some(1000),
            max_streams_per_caller: Some(1 << 30),
            ..Limits::default()
        }
        .fitted_to(Some(64));
        assert_eq!(explicit.max_connections_per_caller, 32);
        assert_eq!(explicit.max_streams_per_caller, DEFAULT_MAX_STREAMS);
        assert!(descriptor_limit().is_some(), "this machine's limit reads");
    }
}
