//! `:authority` normalization for Unix-socket connections, below h2.
//!
//! gRPC clients disagree on what `:authority` means on a Unix socket: grpc-go sends
//! `localhost`, grpc-core (Python, C++, Ruby, PHP) the percent-encoded socket path
//! (`tmp%2Fdir%2Fapi.sock`), grpc-java the raw path (`/tmp/dir/api.sock`), and others other
//! things. h2 (under hyper and tonic) validates the value as a URI authority and resets the
//! stream with PROTOCOL_ERROR when it is not one, so those clients' every call fails, and h2
//! has no option to relax that one check (hyperium/h2#487 is unmerged).
//!
//! On a Unix socket the authority carries no information: the socket is the server. So the
//! server kit rewrites it before h2 sees it, and keeps every other check of h2:
//!
//! - [`RewritingStream`] wraps the accepted socket. Writes (server to client) pass through.
//!   Reads (client to server) go through a [`FrameRewriter`]: the preface and every frame that
//!   is not HEADERS or CONTINUATION pass through byte for byte (DATA payloads are never even
//!   buffered); each header block is collected across its frames, decoded with an HPACK
//!   decoder that mirrors the client's dynamic table, every `:authority` value is replaced with
//!   `localhost`, and the block is written back as literals "without indexing" (never-indexed
//!   fields stay never-indexed) in HEADERS/CONTINUATION frames of at most the 16 KiB maximum
//!   frame size, with the original flags and priority and without padding.
//! - Because the re-encoded blocks never add to h2's dynamic table and never reference it, h2's
//!   decoder stays consistent with what it reads, whatever the client's encoder did.
//! - The rewriter checks only what it must to re-frame safely (the preface, frame sizes,
//!   CONTINUATION order, HPACK validity, bounded sizes) and ends the connection on a violation,
//!   as h2 would; everything else (pseudo-header rules, stream states, flow control, settings)
//!   is still h2's to enforce.
//!
//! TCP connections are not rewritten ([`Mode::Observe`]): there the authority keeps its
//! meaning and h2's validation applies unchanged. Both modes report when the client has sent
//! its preface, for the server's handshake timeout.

mod frames;
pub(crate) mod fuzzing;
mod hpack;
mod huffman;
mod static_table;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;

pub(crate) use frames::{FrameRewriter, Mode, MAX_FRAME_SIZE};

/// A server-side connection whose client-to-server bytes go through a [`FrameRewriter`].
///
/// It holds no read buffer of its own: bytes are read straight into the consumer's (h2's)
/// buffer; those that pass unchanged stay there, the others are handed to the rewriter and
/// taken back out, and what the rewriter produces is queued in `out` until h2 reads it. `out`
/// is released once drained, so an idle connection keeps no buffer here (the server serves
/// many mostly idle connections: a fixed 16 KiB read chunk per connection was a large part of
/// its memory).
pub(crate) struct RewritingStream<IO> {
    inner: IO,
    rewriter: FrameRewriter,
    out: Vec<u8>,
    out_pos: usize,
    /// Fired once the client's preface and first SETTINGS frame have arrived.
    handshake: Option<oneshot::Sender<()>>,
}

// === impl RewritingStream ===

impl<IO> RewritingStream<IO> {
    /// Wraps `inner`; `handshake` fires when the client has sent its HTTP/2 preface.
    pub(crate) fn new(inner: IO, mode: Mode, handshake: oneshot::Sender<()>) -> Self {
        Self {
            inner,
            rewriter: FrameRewriter::new(mode),
            out: Vec::new(),
            out_pos: 0,
            handshake: Some(handshake),
        }
    }

    fn note_handshake(&mut self) {
        if self.rewriter.handshake_done() {
            if let Some(handshake) = self.handshake.take() {
                let _ = handshake.send(());
            }
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for RewritingStream<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.out_pos < this.out.len() {
                let n = (this.out.len() - this.out_pos).min(buf.remaining());
                buf.put_slice(&this.out[this.out_pos..this.out_pos + n]);
                this.out_pos += n;
                if this.out_pos == this.out.len() {
                    // Drained: give the memory back (a header block's worth, per request).
                    this.out = Vec::new();
                    this.out_pos = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            // Read into the consumer's buffer: no copy for bytes that pass unchanged, and no
            // buffer of our own (nor any zeroing of the consumer's: its buffer is handed on).
            let before = buf.filled().len();
            std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
            let after = buf.filled().len();
            if after == before {
                // End of stream: h2 sees it (and any unfinished frame) as the client's close.
                return Poll::Ready(Ok(()));
            }
            let direct = this.rewriter.passthrough_len().min(after - before);
            this.rewriter.passed_through(direct);
            let kept = before + direct;
            if kept < after {
                // The rest is not payload passing through: the rewriter takes it (it may end
                // up in `out`, rewritten) and it leaves the consumer's buffer again.
                let fed = this
                    .rewriter
                    .feed(&buf.filled()[kept..after], &mut this.out);
                buf.set_filled(kept);
                fed.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            }
            this.note_handshake();
            if direct > 0 {
                return Poll::Ready(Ok(()));
            }
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for RewritingStream<IO> {
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
