//! The bundle endpoint of this trust domain (`federation { bundle_endpoint { … } }`): serves
//! the stored bundle of this trust domain (every server's authorities, with its sequence
//! number) and the configured `refresh_hint`, as `https_spiffe` with the server's own
//! X.509-SVID (rotating with it, FED-23) or as `https_web` with a certificate from files.
//!
//! The document is re-read from the datastore every 5 s, and this server's own current
//! authorities are always added, so a key the CA prepares is published before anything is
//! signed with it (FED-2).

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use spiffe_core::SpiffeBundle;
use spiffe_workload::federation::{
    default_crypto_provider, BundleEndpointServer, FederationError, ServingCert,
};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::convert;
use crate::ca::ServerSvid;
use crate::config::{BundleEndpointConfig, ServingProfile};
use crate::context::ServerContext;
use crate::endpoints::stopped;

/// How often the served document is re-read from the datastore.
const RELOAD_INTERVAL: Duration = Duration::from_secs(5);

/// Binds the bundle endpoint and starts serving it in `tasks`; returns its address.
pub async fn start(
    config: &BundleEndpointConfig,
    ctx: Arc<ServerContext>,
    svid: Arc<ServerSvid>,
    tasks: &mut JoinSet<()>,
    stop: watch::Receiver<bool>,
) -> Result<SocketAddr, FederationError> {
    let provider = default_crypto_provider();
    let cert = match &config.profile {
        ServingProfile::HttpsSpiffe => ServingCert::Svid(svid),
        ServingProfile::ServingCertFile {
            cert_file_path,
            key_file_path,
            ..
        } => {
            let read = |path: &str| {
                std::fs::read(path).map_err(|e| FederationError::ServingCert {
                    reason: format!("unable to read {path}: {e}"),
                })
            };
            ServingCert::from_pem(&read(cert_file_path)?, &read(key_file_path)?, &provider)?
        }
        _ => {
            return Err(FederationError::ServingCert {
                reason: "the ACME bundle endpoint profile is not supported".into(),
            })
        }
    };
    let address = config.address.trim_start_matches('[').trim_end_matches(']');
    let ip = address
        .parse::<std::net::IpAddr>()
        .map_err(|_| FederationError::ServingCert {
            reason: format!("bundle_endpoint address {address:?} is not an IP address"),
        })?;

    let document: Arc<RwLock<Option<SpiffeBundle>>> = Arc::new(RwLock::new(None));
    let refresh_hint = config.refresh_hint;
    reload(&ctx, &document, refresh_hint).await;
    let source = {
        let document = document.clone();
        move || document.read().unwrap_or_else(|p| p.into_inner()).clone()
    };
    let server =
        BundleEndpointServer::bind(SocketAddr::new(ip, config.port), cert, source, provider)
            .await?;
    let addr = server.local_addr()?;
    tracing::info!(
        addr = %addr,
        refresh_hint = ?refresh_hint,
        profile = match config.profile { ServingProfile::HttpsSpiffe => "https_spiffe", _ => "https_web" },
        "Serving bundle endpoint"
    );
    let serve_stop = stop.clone();
    tasks.spawn(async move {
        if let Err(e) = server.serve(stopped(serve_stop)).await {
            tracing::error!(error = %e, "Bundle endpoint stopped");
        }
    });
    tasks.spawn(async move {
        let stopping = stopped(stop);
        tokio::pin!(stopping);
        loop {
            tokio::select! {
                () = &mut stopping => return,
                () = tokio::time::sleep(RELOAD_INTERVAL) => reload(&ctx, &document, refresh_hint).await,
            }
        }
    });
    Ok(addr)
}

/// Re-reads the document: the stored bundle plus this server's current authorities.
async fn reload(
    ctx: &ServerContext,
    document: &RwLock<Option<SpiffeBundle>>,
    refresh_hint: Duration,
) {
    let td = &ctx.settings.trust_domain;
    let stored = match ctx.datastore.get_bundle(td).await {
        Ok(stored) => stored,
        Err(e) => {
            tracing::warn!(error = %crate::api::status::chain(&e), "Unable to read the bundle to serve");
            return;
        }
    };
    let own = ctx.ca.bundle();
    let mut bundle = match stored.as_ref().map(convert::to_spiffe) {
        Some(Ok(bundle)) => bundle,
        _ => (*own).clone(),
    };
    let mut x509 = bundle.x509_authorities().clone();
    for authority in own.x509_authorities().authorities() {
        x509.add_authority(authority.clone());
    }
    if bundle.set_x509_authorities(x509).is_err() {
        return;
    }
    bundle.set_refresh_hint(Some(refresh_hint));
    *document.write().unwrap_or_else(|p| p.into_inner()) = Some(bundle);
}
