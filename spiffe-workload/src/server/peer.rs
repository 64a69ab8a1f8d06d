//! Unix-socket connections attested once, when they are accepted.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UnixStream;
use tonic::transport::server::Connected;

use crate::provider::CallerInfo;

/// An accepted Unix-socket connection with the kernel's account of its peer (SO_PEERCRED,
/// WEP-12) and the peer's process start time, both read at accept, before the caller sends a
/// byte. The start time lets an attestor tell the caller from a later process that reuses its
/// pid.
pub(crate) struct AttestedUnixStream {
    inner: UnixStream,
    caller: Option<CallerInfo>,
}

/// What a request on an [`AttestedUnixStream`] carries in its extensions.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PeerCaller(pub(crate) Option<CallerInfo>);

// === impl AttestedUnixStream ===

impl AttestedUnixStream {
    pub(crate) fn accept(inner: UnixStream) -> Self {
        let caller = inner.peer_cred().ok().map(|cred| {
            let caller = CallerInfo::new(cred.pid(), cred.uid(), cred.gid());
            // A process that already exited has no start time; attestors then refuse it.
            match cred
                .pid()
                .and_then(|pid| spiffe_attest::workload::unix::process_start_time(pid).ok())
            {
                Some(start_time) => caller.with_start_time(start_time),
                None => caller,
            }
        });
        Self { inner, caller }
    }
}

impl Connected for AttestedUnixStream {
    type ConnectInfo = PeerCaller;

    fn connect_info(&self) -> Self::ConnectInfo {
        PeerCaller(self.caller)
    }
}

impl AsyncRead for AttestedUnixStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for AttestedUnixStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
