//! The client-to-server HTTP/2 byte stream, cut into frames; header blocks re-encoded with a
//! normalized `:authority`, every other byte passed through unchanged.
//!
//! The input is untrusted. Limits, checked before anything is buffered: a HEADERS or
//! CONTINUATION frame is at most [`MAX_FRAME_SIZE`] (what the server advertises), a header block
//! across its frames at most [`MAX_HEADER_BLOCK`], its decoded header list at most
//! [`MAX_HEADER_LIST`]; other frames are never buffered, only counted through. A violation is
//! an error that ends the connection, as the same violation does in h2 (RFC 9113 §4.3, §6.10).

use super::hpack::{self, Decoder, HpackError};

/// The client connection preface (RFC 9113 §3.4).
pub(crate) const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The largest frame payload the server accepts: the initial `SETTINGS_MAX_FRAME_SIZE`, which
/// the server keeps (it sets `max_frame_size` to this value).
pub(crate) const MAX_FRAME_SIZE: usize = 16_384;

/// The largest header block (all its frames' fragments together).
pub(crate) const MAX_HEADER_BLOCK: usize = 64 * 1024;

/// The largest decoded header list (name + value + 32 per field), above the 16 KiB
/// `SETTINGS_MAX_HEADER_LIST_SIZE` the server advertises, so h2 still answers requests between
/// the two with its own error.
pub(crate) const MAX_HEADER_LIST: usize = 64 * 1024;

/// The client's HPACK table size: the protocol's initial `SETTINGS_HEADER_TABLE_SIZE`, which
/// the server does not change.
pub(crate) const HEADER_TABLE_SIZE: usize = 4096;

/// What `:authority` becomes on a Unix socket.
pub(crate) const UNIX_AUTHORITY: &[u8] = b"localhost";

const FRAME_HEADER_LEN: usize = 9;
const HEADERS: u8 = 0x1;
const PUSH_PROMISE: u8 = 0x5;
const SETTINGS: u8 = 0x4;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

/// What the rewriter does with the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Re-encode every header block with `:authority` replaced by [`UNIX_AUTHORITY`].
    Rewrite,
    /// Only watch for the end of the client preface, then pass everything through (TCP).
    Observe,
}

/// Why the client's byte stream was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum RewriteError {
    /// The connection does not start with the HTTP/2 preface and a SETTINGS frame.
    #[error("not an HTTP/2 client preface")]
    BadPreface,
    /// A HEADERS or CONTINUATION frame over the advertised maximum frame size.
    #[error("header frame of {len} bytes exceeds the maximum frame size")]
    FrameTooLarge {
        /// The frame's payload length.
        len: usize,
    },
    /// A header block over [`MAX_HEADER_BLOCK`].
    #[error("header block exceeds {MAX_HEADER_BLOCK} bytes")]
    HeaderBlockTooLarge,
    /// Padding longer than the frame.
    #[error("HEADERS padding exceeds the frame")]
    BadPadding,
    /// A frame other than CONTINUATION of the same stream inside a header block.
    #[error("expected a CONTINUATION frame")]
    ExpectedContinuation,
    /// A CONTINUATION frame outside a header block.
    #[error("CONTINUATION frame outside a header block")]
    UnexpectedContinuation,
    /// A client sent PUSH_PROMISE, which only servers may send.
    #[error("client sent PUSH_PROMISE")]
    PushPromise,
    /// A header block did not decode.
    #[error("header block does not decode")]
    Hpack(#[source] HpackError),
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Reading the 24-byte preface; how much of it has been seen.
    Preface(usize),
    /// Reading a 9-byte frame header.
    Head,
    /// Passing `remaining` bytes of a frame's payload through.
    Passthrough(usize),
    /// Collecting a HEADERS or CONTINUATION payload.
    HeaderPayload {
        kind: u8,
        flags: u8,
        stream: u32,
        remaining: usize,
    },
    /// Everything passes through (observe mode after the preface).
    Transparent,
}

/// A header block whose END_HEADERS has not arrived.
#[derive(Debug)]
struct PendingBlock {
    stream: u32,
    end_stream: bool,
    priority: Option<[u8; 5]>,
    fragment: Vec<u8>,
}

/// The state of one connection's client-to-server direction.
#[derive(Debug)]
pub(crate) struct FrameRewriter {
    mode: Mode,
    state: State,
    head: [u8; FRAME_HEADER_LEN],
    head_len: usize,
    /// The preface and the first frame (SETTINGS) have been received.
    handshake_done: bool,
    payload: Vec<u8>,
    pending: Option<PendingBlock>,
    decoder: Decoder,
}

// === impl FrameRewriter ===

impl FrameRewriter {
    pub(crate) fn new(mode: Mode) -> Self {
        Self {
            mode,
            state: State::Preface(0),
            head: [0; FRAME_HEADER_LEN],
            head_len: 0,
            handshake_done: false,
            payload: Vec::new(),
            pending: None,
            decoder: Decoder::new(HEADER_TABLE_SIZE),
        }
    }

    /// Whether the client's preface and first SETTINGS frame have arrived (RFC 9113 §3.4).
    pub(crate) fn handshake_done(&self) -> bool {
        self.handshake_done
    }

    /// How many of the next input bytes pass through unchanged whatever they are (the rest of
    /// a non-header frame's payload), so they may be read straight into the consumer's buffer.
    pub(crate) fn passthrough_len(&self) -> usize {
        match self.state {
            State::Passthrough(remaining) => remaining,
            State::Transparent => usize::MAX,
            _ => 0,
        }
    }

    /// Records that `n` bytes (at most [`Self::passthrough_len`]) went through directly.
    pub(crate) fn passed_through(&mut self, n: usize) {
        if let State::Passthrough(remaining) = self.state {
            let remaining = remaining - n.min(remaining);
            if remaining == 0 {
                self.frame_done();
            } else {
                self.state = State::Passthrough(remaining);
            }
        }
    }

    /// Consumes all of `input`, appending what the server should read to `out`.
    pub(crate) fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), RewriteError> {
        while !input.is_empty() {
            match self.state {
                State::Preface(seen) => {
                    let n = (PREFACE.len() - seen).min(input.len());
                    let (bytes, rest) = input.split_at(n);
                    if self.mode == Mode::Rewrite && bytes != &PREFACE[seen..seen + n] {
                        return Err(RewriteError::BadPreface);
                    }
                    out.extend_from_slice(bytes);
                    input = rest;
                    self.state = if seen + n == PREFACE.len() {
                        State::Head
                    } else {
                        State::Preface(seen + n)
                    };
                }
                State::Head => {
                    let n = (FRAME_HEADER_LEN - self.head_len).min(input.len());
                    self.head[self.head_len..self.head_len + n].copy_from_slice(&input[..n]);
                    self.head_len += n;
                    input = &input[n..];
                    if self.head_len == FRAME_HEADER_LEN {
                        self.head_len = 0;
                        self.start_frame(out)?;
                    }
                }
                State::Passthrough(remaining) => {
                    let n = remaining.min(input.len());
                    out.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    self.passed_through(n);
                }
                State::HeaderPayload {
                    kind,
                    flags,
                    stream,
                    remaining,
                } => {
                    let n = remaining.min(input.len());
                    self.payload.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    if n == remaining {
                        let payload = std::mem::take(&mut self.payload);
                        self.header_frame(kind, flags, stream, &payload, out)?;
                        self.payload = payload;
                        self.payload.clear();
                        self.frame_done();
                    } else {
                        self.state = State::HeaderPayload {
                            kind,
                            flags,
                            stream,
                            remaining: remaining - n,
                        };
                    }
                }
                State::Transparent => {
                    out.extend_from_slice(input);
                    input = &[];
                }
            }
        }
        Ok(())
    }

    /// A frame header is complete: decide what to do with its payload.
    fn start_frame(&mut self, out: &mut Vec<u8>) -> Result<(), RewriteError> {
        let head = self.head;
        let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
        let (kind, flags) = (head[3], head[4]);
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        if self.mode == Mode::Observe {
            out.extend_from_slice(&head);
            self.state = State::Passthrough(len);
            if len == 0 {
                self.frame_done();
            }
            return Ok(());
        }
        // RFC 9113 §3.4: the preface ends with a SETTINGS frame.
        if !self.handshake_done && kind != SETTINGS {
            return Err(RewriteError::BadPreface);
        }
        // RFC 9113 §6.10: nothing may come between the frames of one header block.
        if let Some(pending) = &self.pending {
            if kind != CONTINUATION || stream != pending.stream {
                return Err(RewriteError::ExpectedContinuation);
            }
        }
        match kind {
            HEADERS | CONTINUATION => {
                if kind == CONTINUATION && self.pending.is_none() {
                    return Err(RewriteError::UnexpectedContinuation);
                }
                if len > MAX_FRAME_SIZE {
                    return Err(RewriteError::FrameTooLarge { len });
                }
                self.payload.reserve(len);
                self.state = State::HeaderPayload {
                    kind,
                    flags,
                    stream,
                    remaining: len,
                };
                if len == 0 {
                    let payload = std::mem::take(&mut self.payload);
                    self.header_frame(kind, flags, stream, &payload, out)?;
                    self.frame_done();
                }
            }
            // RFC 9113 §8.4: a client cannot push.
            PUSH_PROMISE => return Err(RewriteError::PushPromise),
            _ => {
                out.extend_from_slice(&head);
                self.state = State::Passthrough(len);
                if len == 0 {
                    self.frame_done();
                }
            }
        }
        Ok(())
    }

    fn frame_done(&mut self) {
        self.handshake_done = true;
        self.state = match self.mode {
            Mode::Observe => State::Transparent,
            Mode::Rewrite => State::Head,
        };
    }

    /// A whole HEADERS or CONTINUATION frame: add its fragment; at END_HEADERS, re-encode.
    fn header_frame(
        &mut self,
        kind: u8,
        flags: u8,
        stream: u32,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), RewriteError> {
        if kind == HEADERS {
            let mut fragment = payload;
            let mut pad = 0;
            if flags & PADDED != 0 {
                let (&len, rest) = fragment.split_first().ok_or(RewriteError::BadPadding)?;
                pad = usize::from(len);
                fragment = rest;
            }
            let mut priority = None;
            if flags & PRIORITY != 0 {
                if fragment.len() < 5 {
                    return Err(RewriteError::BadPadding);
                }
                let (fields, rest) = fragment.split_at(5);
                priority = Some([fields[0], fields[1], fields[2], fields[3], fields[4]]);
                fragment = rest;
            }
            // RFC 9113 §6.2: padding as long as the rest of the payload is an error.
            if pad > fragment.len() {
                return Err(RewriteError::BadPadding);
            }
            let fragment = &fragment[..fragment.len() - pad];
            self.pending = Some(PendingBlock {
                stream,
                end_stream: flags & END_STREAM != 0,
                priority,
                fragment: fragment.to_vec(),
            });
        } else if let Some(pending) = &mut self.pending {
            if pending.fragment.len() + payload.len() > MAX_HEADER_BLOCK {
                return Err(RewriteError::HeaderBlockTooLarge);
            }
            pending.fragment.extend_from_slice(payload);
        }
        if flags & END_HEADERS != 0 {
            if let Some(block) = self.pending.take() {
                self.rewrite_block(&block, out)?;
            }
        }
        Ok(())
    }

    /// Decodes a whole header block, replaces `:authority`, and writes it back as HEADERS and
    /// CONTINUATION frames of at most [`MAX_FRAME_SIZE`], padding dropped.
    fn rewrite_block(
        &mut self,
        block: &PendingBlock,
        out: &mut Vec<u8>,
    ) -> Result<(), RewriteError> {
        let fields = self
            .decoder
            .decode(&block.fragment, MAX_HEADER_LIST)
            .map_err(RewriteError::Hpack)?;
        let mut encoded = Vec::with_capacity(block.fragment.len() + 64);
        for mut field in fields {
            if field.name == b":authority" {
                field.value = UNIX_AUTHORITY.to_vec();
            }
            hpack::encode_literal(&field, &mut encoded);
        }
        let priority_len = if block.priority.is_some() { 5 } else { 0 };
        let first_len = encoded.len().min(MAX_FRAME_SIZE - priority_len);
        let (first, mut rest) = encoded.split_at(first_len);
        let mut flags = if rest.is_empty() { END_HEADERS } else { 0 };
        if block.end_stream {
            flags |= END_STREAM;
        }
        if block.priority.is_some() {
            flags |= PRIORITY;
        }
        frame_header(
            first.len() + priority_len,
            HEADERS,
            flags,
            block.stream,
            out,
        );
        if let Some(priority) = block.priority {
            out.extend_from_slice(&priority);
        }
        out.extend_from_slice(first);
        while !rest.is_empty() {
            let (chunk, tail) = rest.split_at(rest.len().min(MAX_FRAME_SIZE));
            let flags = if tail.is_empty() { END_HEADERS } else { 0 };
            frame_header(chunk.len(), CONTINUATION, flags, block.stream, out);
            out.extend_from_slice(chunk);
            rest = tail;
        }
        Ok(())
    }
}

fn frame_header(len: usize, kind: u8, flags: u8, stream: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
}
