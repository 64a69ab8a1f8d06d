//! The Prometheus listener of `telemetry { Prometheus { host port } }`.

use crate::config::PrometheusConfig;
use crate::listener::{self, respond, Server};
use crate::metrics::Registry;
use ::http::StatusCode;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

/// Prometheus's text format media type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves a [`Registry`] over HTTP. Like SPIRE's exporter, every path answers with the
/// metrics (`/metrics` is what scrapers use).
pub struct MetricsServer {
    server: Server,
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsServer")
            .field("addr", &self.server.local_addr().ok())
            .finish()
    }
}

impl MetricsServer {
    /// Binds `host:port` from the config (port 0 picks a free port).
    pub async fn bind(config: &PrometheusConfig, registry: Arc<Registry>) -> io::Result<Self> {
        let listener = listener::bind(&config.host, config.port).await?;
        if config.host != "localhost" {
            tracing::warn!(
                "Prometheus stats are served to remote network connections; ensure access to this port is tightly controlled"
            );
        }
        let handler: listener::Handler =
            Arc::new(move |_parts| respond(StatusCode::OK, CONTENT_TYPE, registry.encode()));
        Ok(MetricsServer {
            server: Server { listener, handler },
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.server.local_addr()
    }

    /// Serves until `shutdown` resolves.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        tracing::info!(address = %self.local_addr()?, "Starting prometheus exporter");
        self.server.serve(shutdown).await
    }
}
