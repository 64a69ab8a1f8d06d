//! The server's background loops, each stopping when the runtime is told to stop:
//!
//! | loop | every | does |
//! |---|---|---|
//! | rotation | 10 s (SPIRE's) | rotates the CA, appends its bundle to the datastore, prunes expired authorities from it, re-mints the server SVID at half-life |
//! | cache | `cache_reload_interval` (5 s) | follows the change log (other servers' writes), re-reads the trust bundles, updates the entry/agent gauges |
//! | readiness | 5 s | pings the datastore and checks the CA; feeds `/ready` and `grpc.health.v1` |
//! | pruning | 1 min | deletes expired join tokens; change-log entries older than 12 h (SPIRE's `prune_events_older_than`) |

use std::sync::Arc;
use std::time::Duration;

use spiffe_core::pki_types::UnixTime;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;

use crate::api::status::chain;
use crate::ca::{self, ServerSvid, TrustBundles};
use crate::context::ServerContext;
use crate::endpoints::stopped;
use crate::ops::Readiness;

/// SPIRE's CA rotation check interval.
pub(crate) const ROTATION_INTERVAL: Duration = Duration::from_secs(10);
const READINESS_INTERVAL: Duration = Duration::from_secs(5);
const PRUNE_INTERVAL: Duration = Duration::from_secs(60);
const CHANGE_LOG_RETENTION: Duration = Duration::from_secs(12 * 3600);

/// What the loops work on.
pub(super) struct Loops {
    pub(super) ctx: Arc<ServerContext>,
    pub(super) svid: Arc<ServerSvid>,
    pub(super) bundles: Arc<TrustBundles>,
    pub(super) readiness: Arc<Readiness>,
    pub(super) health: HealthReporter,
    pub(super) cache_reload_interval: Duration,
}

/// Runs `tick` every `period` (the first after one period) until `stop`.
fn every<F, Fut>(
    tasks: &mut JoinSet<()>,
    period: Duration,
    stop: watch::Receiver<bool>,
    mut tick: F,
) where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tasks.spawn(async move {
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let stopping = stopped(stop);
        tokio::pin!(stopping);
        loop {
            tokio::select! {
                () = &mut stopping => return,
                _ = interval.tick() => tick().await,
            }
        }
    });
}

fn now(ctx: &ServerContext) -> UnixTime {
    ctx.clock.now()
}

pub(super) fn spawn(tasks: &mut JoinSet<()>, loops: Loops, stop: watch::Receiver<bool>) {
    let Loops {
        ctx,
        svid,
        bundles,
        readiness,
        health,
        cache_reload_interval,
    } = loops;

    let (c, s) = (ctx.clone(), svid);
    every(tasks, ROTATION_INTERVAL, stop.clone(), move || {
        let (ctx, svid) = (c.clone(), s.clone());
        async move {
            match ctx.ca.rotate().await {
                Ok(true) => tracing::info!(
                    x509_authority = %ctx.ca.x509_svid_issuer().authority_id(),
                    jwt_key = %ctx.ca.jwt_svid_issuer().kid(),
                    "CA rotated"
                ),
                Ok(false) => {}
                Err(e) => tracing::error!(error = %chain(&e), "CA rotation failed"),
            }
            if let Err(e) = ca::publish(&ctx.ca, ctx.datastore.as_ref()).await {
                tracing::error!(error = %chain(&e), "Unable to publish the CA bundle");
            }
            let td = &ctx.settings.trust_domain;
            match ca::prune_expired(ctx.datastore.as_ref(), td, now(&ctx)).await {
                Ok(true) => tracing::info!("Pruned expired authorities from the bundle"),
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %chain(&e), "Unable to prune the bundle"),
            }
            match svid.rotate_if_due(now(&ctx)) {
                Ok(true) => tracing::debug!("Server SVID rotated"),
                Ok(false) => {}
                Err(e) => tracing::error!(error = %chain(&e), "Unable to rotate the server SVID"),
            }
        }
    });

    let (c, b) = (ctx.clone(), bundles);
    every(tasks, cache_reload_interval, stop.clone(), move || {
        let (ctx, bundles) = (c.clone(), b.clone());
        async move {
            if let Err(e) = ctx.cache.refresh().await {
                tracing::warn!(error = %chain(&e), "Entry cache refresh failed");
            }
            ctx.metrics
                .set_counts(ctx.cache.entry_count(), ctx.cache.node_count());
            if let Err(e) = bundles.refresh(ctx.datastore.as_ref()).await {
                tracing::warn!(error = %chain(&e), "Trust bundle refresh failed");
            }
        }
    });

    let c = ctx.clone();
    every(tasks, READINESS_INTERVAL, stop.clone(), move || {
        let (ctx, readiness, health) = (c.clone(), readiness.clone(), health.clone());
        async move {
            let ping = tokio::time::timeout(READINESS_INTERVAL, ctx.datastore.ping()).await;
            let datastore_ok = matches!(ping, Ok(Ok(())));
            let ca_ok = ctx.ca.x509_svid_issuer().not_after().as_secs() > now(&ctx).as_secs();
            let was = readiness.ready();
            readiness.set_datastore(datastore_ok);
            readiness.set_ca(ca_ok);
            let ready = readiness.ready();
            if ready != was {
                tracing::warn!(datastore_ok, ca_ok, ready, "Server readiness changed");
                let status = if ready {
                    ServingStatus::Serving
                } else {
                    ServingStatus::NotServing
                };
                health.set_service_status("", status).await;
            }
        }
    });

    let c = ctx;
    every(tasks, PRUNE_INTERVAL, stop, move || {
        let ctx = c.clone();
        async move {
            let now = now(&ctx);
            match ctx.datastore.prune_join_tokens(now).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(count = n, "Pruned expired join tokens"),
                Err(e) => tracing::warn!(error = %chain(&e), "Unable to prune join tokens"),
            }
            let before = UnixTime::since_unix_epoch(Duration::from_secs(
                now.as_secs().saturating_sub(CHANGE_LOG_RETENTION.as_secs()),
            ));
            if let Err(e) = ctx.datastore.prune_changes(before).await {
                tracing::warn!(error = %chain(&e), "Unable to prune the change log");
            }
        }
    });
}
