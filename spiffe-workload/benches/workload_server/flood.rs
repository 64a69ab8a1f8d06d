//! (e) A well-behaved client's FetchX509SVID latency while another local process (same uid)
//! floods the server: this binary re-executed with `--flood-child SOCKET N` and a raised
//! descriptor limit keeps N idle connections open (more than the server's descriptor limit
//! allows it to hold), replacing 5 of them every 5 ms, plus 5 slow-loris connections sending
//! the HTTP/2 preface one byte every 200 ms. Target: p99 under the flood within 2x of quiet.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;

/// The flooding process: runs until its stdin closes.
pub(crate) fn flood_child(socket: &Path, n: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let socket = socket.to_path_buf();
    runtime.block_on(async move {
        let mut open = VecDeque::new();
        while open.len() < n {
            open.push_back(UnixStream::connect(&socket).await.unwrap());
        }
        for _ in 0..5 {
            let socket = socket.clone();
            tokio::spawn(async move {
                loop {
                    let Ok(mut stream) = UnixStream::connect(&socket).await else {
                        continue;
                    };
                    for byte in b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" {
                        if stream.write_all(&[*byte]).await.is_err() {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            });
        }
        println!("flooding");
        std::io::stdout().flush().unwrap();
        let stdin_closed = tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        });
        tokio::pin!(stdin_closed);
        let mut made = n;
        loop {
            tokio::select! {
                _ = &mut stdin_closed => break,
                () = tokio::time::sleep(Duration::from_millis(5)) => {
                    for _ in 0..5 {
                        open.pop_front();
                        if let Ok(stream) = UnixStream::connect(&socket).await {
                            open.push_back(stream);
                            made += 1;
                        }
                    }
                }
            }
        }
        eprintln!("flood child: {made} connections made");
    });
}

/// A running flood against `socket`.
pub(crate) struct Flood {
    child: Child,
}

impl Flood {
    pub(crate) fn start(socket: &Path, n: usize) -> Self {
        let exe = std::env::current_exe().unwrap();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"ulimit -n "$3" && exec "$0" --flood-child "$1" "$2""#)
            .arg(exe)
            .arg(socket)
            .arg(n.to_string())
            .arg((n + 256).to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "flooding");
        Self { child }
    }

    pub(crate) fn stop(mut self) {
        drop(self.child.stdin.take());
        let status = self.child.wait().unwrap();
        assert!(status.success());
    }
}
