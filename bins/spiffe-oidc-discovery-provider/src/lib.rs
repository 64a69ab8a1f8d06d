//! `spiffe-oidc-discovery-provider`: an OpenID Connect discovery provider for JWT-SVIDs, a
//! drop-in for SPIRE's `oidc-discovery-provider`.
//!
//! It serves `/.well-known/openid-configuration` and `/keys` (the JWKS of the trust domain's JWT
//! authorities), so that anything speaking OIDC discovery (cloud IAM, Vault, JWT libraries
//! with JWKS clients) validates JWT-SVIDs. The keys come from the server's Bundle API on its
//! admin socket, the agent's Workload API, or a bundle file, polled so rotations show.
//!
//! Composition: [`config::Settings`] (SPIRE's HCL keys) → a [`source`] poller filling
//! [`jwks::SharedKeys`] → the [`handler::Handler`] behind the [`serve`] listeners. The user
//! guide is `docs/oidc.md`.

#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod domain;
pub mod handler;
mod httpdate;
pub mod jwks;
pub mod serve;
pub mod source;
pub mod tls;

use std::future::Future;
use std::io;

use thiserror::Error;
use tokio::sync::watch;

use config::{ListenerSettings, Settings};
use handler::{health_threshold, Handler, HealthHandler};
use jwks::SharedKeys;

/// Why the provider could not run.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RunError {
    /// A listener could not be bound.
    #[error("unable to listen on {what}")]
    Bind {
        /// Which listener and where.
        what: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The serving certificate could not be loaded.
    #[error(transparent)]
    Cert(#[from] tls::CertError),
    /// rustls refused the TLS configuration.
    #[error("unable to configure TLS")]
    Tls(#[source] rustls::Error),
    /// The key source could not be set up.
    #[error("unable to set up the key source: {0}")]
    Source(source::PollError),
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Runs the provider with `settings` until `shutdown` completes.
pub async fn run(settings: Settings, shutdown: impl Future<Output = ()>) -> Result<(), RunError> {
    if settings.allow_insecure_scheme {
        tracing::warn!("allow_insecure_scheme is enabled. JWKS keys will be served over HTTP. Only enable this when the network path to the provider is trusted end-to-end (for example, when TLS is terminated at a trusted reverse proxy or load balancer on a private network)");
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let keys = SharedKeys::new();

    // The source client is made before anything listens, so a bad source fails the start.
    let source_settings = settings.source.clone();
    let source_keys = keys.clone();
    let (source_ready_tx, source_ready_rx) = tokio::sync::oneshot::channel();
    let source_stop = stopped(stop_rx.clone());
    let source_task = tokio::spawn(async move {
        let result = source::run(&source_settings, source_keys, source_stop).await;
        if let Err(error) = result {
            let _ = source_ready_tx.send(error);
        }
    });

    let mut tasks = Vec::new();
    if let Some(health) = &settings.health_checks {
        let what = format!(
            "{}:{} (health_checks)",
            health.bind_address, health.bind_port
        );
        let listener =
            tokio::net::TcpListener::bind((health.bind_address.as_str(), health.bind_port))
                .await
                .map_err(|source| RunError::Bind {
                    what: what.clone(),
                    source,
                })?;
        let handler = HealthHandler::new(
            keys.clone(),
            health.live_path.clone(),
            health.ready_path.clone(),
            health_threshold(settings.source.poll_interval()),
        );
        tracing::info!(address = %what, "Serving health checks");
        tasks.push(tokio::spawn(serve::serve_health(
            listener,
            handler,
            stopped(stop_rx.clone()),
        )));
    }

    let handler = Handler::new(&settings, keys);
    let mut cert_watch = None;
    let server = match &settings.listener {
        ListenerSettings::Insecure { addr } => {
            let listener = serve::bind_tcp(addr)
                .await
                .map_err(|source| RunError::Bind {
                    what: format!("{addr} (insecure_addr)"),
                    source,
                })?;
            let local = listener
                .local_addr()
                .map_or_else(|_| addr.clone(), |a| a.to_string());
            tracing::warn!(address = %local, "Serving HTTP (insecure)");
            tokio::spawn(serve::serve_tcp(
                listener,
                handler,
                stopped(stop_rx.clone()),
            ))
        }
        ListenerSettings::UnixSocket { path } => {
            let listener = serve::bind_unix(path).map_err(|source| RunError::Bind {
                what: format!("{} (listen_socket_path)", path.display()),
                source,
            })?;
            tracing::info!(network = "unix", address = %path.display(), "Serving HTTP");
            tokio::spawn(serve::serve_unix(
                listener,
                handler,
                stopped(stop_rx.clone()),
            ))
        }
        ListenerSettings::ServingCertFile(files) => {
            let cert = tls::ReloadingCert::load(&files.cert_file_path, &files.key_file_path)?;
            let config = cert.server_config().map_err(RunError::Tls)?;
            cert_watch = Some(tokio::spawn(cert.watch(files.file_sync_interval)));
            let listener = tokio::net::TcpListener::bind(files.addr)
                .await
                .map_err(|source| RunError::Bind {
                    what: format!("{} (serving_cert_file)", files.addr),
                    source,
                })?;
            let local = listener.local_addr().unwrap_or(files.addr);
            tracing::info!(
                cert_file_path = %files.cert_file_path.display(),
                address = %local,
                "Serving HTTPS using certificate loaded from disk"
            );
            let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
            tokio::spawn(serve::serve_tls(
                listener,
                acceptor,
                handler,
                stopped(stop_rx.clone()),
            ))
        }
    };
    tasks.push(server);

    let outcome = tokio::select! {
        () = shutdown => Ok(()),
        Ok(error) = source_ready_rx => Err(RunError::Source(error)),
    };
    let _ = stop_tx.send(true);
    for task in tasks {
        let _ = task.await;
    }
    let _ = source_task.await;
    if let Some(watch) = cert_watch {
        watch.abort();
    }
    outcome
}
