//! The health endpoints of `health_checks`: a minimal HTTP/1.1 listener (spiffe-helper's
//! paths and status codes).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::config;

/// The health endpoints: `liveness_path` answers 200 while the helper runs, `readiness_path`
/// 200 after the first complete write and 503 before; anything else 404. Minimal HTTP/1.1.
pub(super) async fn serve_health(
    listener: tokio::net::TcpListener,
    config: config::HealthConfig,
    ready: Arc<AtomicBool>,
) {
    let config = Arc::new(config);
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let (config, ready) = (config.clone(), ready.clone());
        tokio::spawn(async move {
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            let read = tokio::time::timeout(Duration::from_secs(5), async {
                while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 8192 {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
            })
            .await;
            if read.is_err() {
                return;
            }
            let line = String::from_utf8_lossy(&request);
            let path = line.split_whitespace().nth(1).unwrap_or("");
            let path = path.split('?').next().unwrap_or("");
            let (status, body) = if path == config.liveness_path {
                ("200 OK", r#"{"status":"OK"}"#)
            } else if path == config.readiness_path {
                if ready.load(Ordering::SeqCst) {
                    ("200 OK", r#"{"status":"OK"}"#)
                } else {
                    (
                        "503 Service Unavailable",
                        r#"{"status":"Service Unavailable"}"#,
                    )
                }
            } else {
                ("404 Not Found", r#"{"status":"Not Found"}"#)
            };
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}
