//! OpenSSL as an independent peer over loopback: `openssl s_server` against our client and
//! `openssl s_client` against our server, TLS 1.2 and 1.3, with SVIDs minted by the test.
//! Skipped (with a note) when the `openssl` CLI is missing.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use base64::Engine;
use common::*;
use rustls::version::{TLS12, TLS13};
use rustls::SupportedProtocolVersion;
use spiffe_core::X509Svid;
use spiffe_tls::{peer_spiffe_id, Authorizer, ClientConfigBuilder, ServerConfigBuilder};

const OURS: &str = "spiffe://a.test/rustls";
const THEIRS: &str = "spiffe://a.test/openssl";

fn openssl_available() -> bool {
    let found = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("openssl CLI not found: interop test skipped");
    }
    found
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A fresh directory holding OpenSSL's SVID (`svid.pem`, `key.pem`) and the bundle
/// (`bundle.pem`); removed on drop.
struct Files(PathBuf);

impl Files {
    fn write(ca: &Ca, svid: &X509Svid) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "spiffe-tls-openssl-{}-{}",
            std::process::id(),
            svid.leaf().serial_hex()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let chain: String = svid
            .chain()
            .iter()
            .map(|c| pem("CERTIFICATE", c.der()))
            .collect();
        std::fs::write(dir.join("svid.pem"), chain).unwrap();
        let key = pem("PRIVATE KEY", svid.private_key().secret_der());
        std::fs::write(dir.join("key.pem"), key).unwrap();
        let anchor = ca.authority.trust_anchor();
        std::fs::write(dir.join("bundle.pem"), pem("CERTIFICATE", anchor.der())).unwrap();
        Self(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Kills the OpenSSL process this test started, whatever happens.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn version_flag(version: &SupportedProtocolVersion) -> &'static str {
    if version.version == rustls::ProtocolVersion::TLSv1_2 {
        "-tls1_2"
    } else {
        "-tls1_3"
    }
}

fn files_args<'a>(files: &'a Files, cert_flag: &'a str) -> Vec<std::ffi::OsString> {
    let p = |n: &str| files.path(n).into_os_string();
    vec![
        cert_flag.into(),
        p("svid.pem"),
        "-key".into(),
        p("key.pem"),
        "-CAfile".into(),
        p("bundle.pem"),
    ]
}

/// Our mTLS client against `openssl s_server -rev` (which answers each line reversed).
fn our_client_to_openssl_server(version: &'static SupportedProtocolVersion) {
    if !openssl_available() {
        return;
    }
    let ca = Ca::new("a.test");
    let files = Files::write(&ca, &ca.svid(THEIRS));
    let mut server = Peer(
        Command::new("openssl")
            .args([
                "s_server",
                "-accept",
                "127.0.0.1:0",
                "-naccept",
                "1",
                "-rev",
            ])
            .args([
                "-Verify",
                "1",
                "-verify_return_error",
                version_flag(version),
            ])
            .args(files_args(&files, "-cert"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Wait for the event: s_server prints `ACCEPT <addr>:<port>` once it listens.
    let mut out = BufReader::new(server.0.stdout.take().unwrap());
    let mut line = String::new();
    let port = loop {
        line.clear();
        assert_ne!(
            out.read_line(&mut line).unwrap(),
            0,
            "s_server exited early"
        );
        if let Some(addr) = line.trim().strip_prefix("ACCEPT ") {
            break addr.rsplit(':').next().unwrap().parse::<u16>().unwrap();
        }
    };

    let config = ClientConfigBuilder::new(provider())
        .with_protocol_versions(&[version])
        .verify_server(bundles(&[&ca]), Authorizer::exact(id(THEIRS)))
        .with_svid(ca.svid(OURS))
        .unwrap();
    let conn =
        rustls::ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap()).unwrap();
    let sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    tls.write_all(b"spiffe\n").unwrap();
    let mut reply = [0u8; 7];
    tls.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"effips\n");
    assert_eq!(tls.conn.protocol_version(), Some(version.version));
    assert_eq!(peer_spiffe_id(&tls.conn), Some(id(THEIRS)));
}

/// `openssl s_client` with an SVID against our mTLS echo server.
fn openssl_client_to_our_server(version: &'static SupportedProtocolVersion) {
    if !openssl_available() {
        return;
    }
    let ca = Ca::new("a.test");
    let files = Files::write(&ca, &ca.svid(THEIRS));
    let config = ServerConfigBuilder::new(provider())
        .with_protocol_versions(&[version])
        .verify_clients(bundles(&[&ca]), Authorizer::exact(id(THEIRS)))
        .with_svid(ca.svid(OURS))
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        let conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, sock);
        let mut line = String::new();
        BufReader::new(&mut tls).read_line(&mut line).unwrap();
        tls.write_all(format!("echo: {line}").as_bytes()).unwrap();
        tls.conn.send_close_notify();
        tls.flush().unwrap();
        (peer_spiffe_id(&tls.conn), tls.conn.protocol_version())
    });

    let mut client = Peer(
        Command::new("openssl")
            .arg("s_client")
            .args(["-connect", &format!("127.0.0.1:{port}")])
            .args(["-verify_return_error", "-ign_eof", version_flag(version)])
            .args(files_args(&files, "-cert"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    client
        .0
        .stdin
        .take()
        .unwrap()
        .write_all(b"hello from openssl\n")
        .unwrap();
    let mut stdout = String::new();
    client
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let (peer, negotiated) = server.join().unwrap();
    assert_eq!(peer, Some(id(THEIRS)));
    assert_eq!(negotiated, Some(version.version));
    assert!(stdout.contains("echo: hello from openssl"), "{stdout}");
    // OpenSSL verified our SVID against the bundle.
    assert!(stdout.contains("Verify return code: 0 (ok)"), "{stdout}");
}

#[test]
fn rustls_client_openssl_server_tls13() {
    our_client_to_openssl_server(&TLS13);
}

#[test]
fn rustls_client_openssl_server_tls12() {
    our_client_to_openssl_server(&TLS12);
}

#[test]
fn openssl_client_rustls_server_tls13() {
    openssl_client_to_our_server(&TLS13);
}

#[test]
fn openssl_client_rustls_server_tls12() {
    openssl_client_to_our_server(&TLS12);
}

#[test]
fn openssl_client_with_unauthorized_id_is_refused() {
    if !openssl_available() {
        return;
    }
    let ca = Ca::new("a.test");
    let files = Files::write(&ca, &ca.svid("spiffe://a.test/stranger"));
    let config = ServerConfigBuilder::new(provider())
        .verify_clients(bundles(&[&ca]), Authorizer::exact(id(THEIRS)))
        .with_svid(ca.svid(OURS))
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        let conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, sock);
        let mut line = String::new();
        BufReader::new(&mut tls).read_line(&mut line).unwrap_err()
    });
    let mut client = Peer(
        Command::new("openssl")
            .arg("s_client")
            .args(["-connect", &format!("127.0.0.1:{port}")])
            .args(files_args(&files, "-cert"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let _ = client.0.stdin.take().unwrap().write_all(b"let me in\n");
    let error = server.join().unwrap();
    let tls_error = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
        .unwrap_or_else(|| panic!("not a TLS error: {error:?}"));
    assert_eq!(
        spiffe_tls::PeerRejected::from_rustls(tls_error),
        Some(&spiffe_tls::PeerRejected::Unauthorized {
            spiffe_id: id("spiffe://a.test/stranger")
        })
    );
}
