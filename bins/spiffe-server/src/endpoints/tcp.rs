//! The TCP listener: TLS connections whose [`Caller`] is the peer's address and, when it
//! presented one, its verified X.509-SVID's SPIFFE ID, serial number (decimal, as SPIRE
//! stores agents' serials) and expiry.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use spiffe_core::pki_types::CertificateDer;
use spiffe_core::Certificate;
use spiffe_tls::hyper::ServerTlsStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::transport::server::Connected;

use crate::caller::Caller;

/// An accepted TLS connection, with its caller worked out once, at the handshake.
pub(crate) struct TcpConnection {
    stream: ServerTlsStream,
    caller: Caller,
}

impl TcpConnection {
    pub(crate) fn new(stream: ServerTlsStream) -> Self {
        let identity = stream.peer_identity();
        let addr = identity
            .remote_addr()
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        let spiffe_id = identity.spiffe_id().cloned();
        let leaf = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|certs| certs.first())
            .and_then(|der| Certificate::from_der(CertificateDer::from(der.to_vec())).ok());
        let (serial, not_after) = match (&spiffe_id, leaf) {
            (Some(_), Some(leaf)) => (
                Some(decimal(leaf.serial())),
                Some(leaf.not_after().as_secs()),
            ),
            _ => (None, None),
        };
        let caller = Caller::Tls {
            addr,
            spiffe_id,
            serial,
            not_after,
        };
        Self { stream, caller }
    }
}

impl Connected for TcpConnection {
    type ConnectInfo = Caller;

    fn connect_info(&self) -> Caller {
        self.caller.clone()
    }
}

impl AsyncRead for TcpConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TcpConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// A big-endian unsigned integer (a certificate serial) in decimal, as Go's `big.Int.String`.
pub fn decimal(be: &[u8]) -> String {
    let mut digits = Vec::new();
    let mut n: Vec<u8> = be.iter().copied().skip_while(|b| *b == 0).collect();
    while !n.is_empty() {
        let mut rem = 0u32;
        let mut next = Vec::with_capacity(n.len());
        for &byte in &n {
            let acc = rem * 256 + u32::from(byte);
            let q = acc / 10;
            rem = acc % 10;
            if !(next.is_empty() && q == 0) {
                next.push(q as u8);
            }
        }
        digits.push(b'0' + rem as u8);
        n = next;
    }
    if digits.is_empty() {
        return "0".to_owned();
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::decimal;

    #[test]
    fn serials_in_decimal() {
        assert_eq!(decimal(&[]), "0");
        assert_eq!(decimal(&[0, 0]), "0");
        assert_eq!(decimal(&[0x01, 0x00]), "256");
        assert_eq!(decimal(&[0xff; 8]), u64::MAX.to_string());
        assert_eq!(
            decimal(&[0x01, 0, 0, 0, 0, 0, 0, 0, 0]),
            "18446744073709551616"
        );
    }
}
