//! Following the upstream server's bundle, for a server under `UpstreamAuthority "spire"`.
//!
//! Every [`POLL_INTERVAL`] (SPIRE's `spire` plugin polls its upstream's bundle every 5 s) the
//! follower:
//!
//! 1. reads the upstream's bundle (`GetBundle` over the same mTLS channel the CA is minted on);
//! 2. publishes each JWT key of this server's CA that the upstream bundle lacks
//!    (`PublishJWTAuthority`), so JWT-SVIDs minted here validate in the whole trust domain;
//! 3. makes this server's stored bundle the upstream's X.509 roots and JWT keys, plus this
//!    server's own authorities (which are the upstream's too, once published), carrying the
//!    upstream's taint marks. The agents of this server sync that bundle as any other, so a
//!    root the upstream prepares reaches workloads here before it signs anything. An
//!    authority the upstream removed (expired, revoked) leaves this bundle too.
//!
//! While the upstream is unreachable the stored bundle is left as it is (this server goes on
//! serving), failures are logged with the next retry time, counted in
//! `<prefix>_upstream_authority_failures` and shown by `<prefix>_upstream_authority_reachable`
//! (0 or 1) and `healthcheck -verbose`; retries back off from 5 s to 1 min.

use std::sync::Arc;
use std::time::Duration;

use daemon_telemetry::metrics::{Counter, Gauge};
use spiffe_ca::CaError;
use spire_api_proto::server::bundle::v1::{GetBundleRequest, PublishJwtAuthorityRequest};
use spire_api_proto::types;
use tokio::sync::watch;

use super::{to_datastore_bundle, SpireUpstream};
use crate::api::bundle::convert::bundle_from_request;
use crate::api::status::chain;
use crate::context::ServerContext;
use crate::datastore::{Bundle, BundleMask};
use crate::endpoints::stopped;

/// How often the upstream bundle is read while the upstream answers (SPIRE's 5 s).
pub const POLL_INTERVAL: Duration = Duration::from_secs(5);
/// The longest wait between retries while it does not.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The follower's metrics.
struct FollowerMetrics {
    failures: Counter,
    reachable: Gauge,
}

/// Reads the upstream bundle once, publishes this server's missing JWT keys, and stores the
/// merged bundle. Errors leave the stored bundle as it was.
pub async fn sync_once(ctx: &ServerContext, upstream: &SpireUpstream) -> Result<bool, CaError> {
    let fail = |what: &str, status: tonic::Status| {
        CaError::UpstreamUnavailable(
            format!(
                "{what} at upstream server {}: {}: {}",
                upstream.authority(),
                status.code(),
                status.message()
            )
            .into(),
        )
    };
    let mut client = upstream.bundle_client().await?;
    let mut remote = client
        .get_bundle(GetBundleRequest::default())
        .await
        .map_err(|s| fail("GetBundle failed", s))?
        .into_inner();
    let own = to_datastore_bundle(&ctx.ca);
    for key in &own.jwt_authorities {
        if remote
            .jwt_authorities
            .iter()
            .any(|k| k.key_id == key.key_id)
        {
            continue;
        }
        let request = PublishJwtAuthorityRequest {
            jwt_authority: Some(types::JwtKey {
                public_key: key.public_key.clone(),
                key_id: key.key_id.clone(),
                expires_at: key
                    .expires_at
                    .map_or(0, |t| i64::try_from(t.as_secs()).unwrap_or(i64::MAX)),
                tainted: key.tainted,
            }),
        };
        let answer = client
            .publish_jwt_authority(request)
            .await
            .map_err(|s| fail("PublishJWTAuthority failed", s))?
            .into_inner();
        tracing::info!(key_id = %key.key_id, "Published JWT authority to the upstream server");
        remote.jwt_authorities = answer.jwt_authorities;
    }
    let remote = bundle_from_request(&remote).map_err(|e| {
        CaError::UpstreamUnavailable(format!("upstream bundle is invalid: {e}").into())
    })?;
    if remote.trust_domain != ctx.settings.trust_domain {
        return Err(CaError::UpstreamUnavailable(
            format!(
                "upstream bundle is for trust domain {:?}, not {:?}",
                remote.trust_domain.as_str(),
                ctx.settings.trust_domain.as_str()
            )
            .into(),
        ));
    }
    // The CA may change here (a new authority replacing one under a tainted root): read this
    // server's own authorities again afterwards.
    let own = if follow_upstream_taints(ctx, &remote).await {
        to_datastore_bundle(&ctx.ca)
    } else {
        own
    };
    store_merged(ctx, remote, own).await
}

/// Follows the upstream's taints and revocations of the roots this server's CA chains to, as
/// SPIRE's downstream servers do: a root the upstream marks tainted is tainted here too (if
/// the active authority chains to it, a new one is signed by the upstream and activated at
/// once, so this server's agents can re-sign their SVIDs under a good root before the old
/// one is revoked); a tainted root the upstream's bundle no longer holds is revoked here.
/// Failures are logged and retried at the next poll. Returns whether the CA changed.
async fn follow_upstream_taints(ctx: &ServerContext, remote: &Bundle) -> bool {
    let remote_roots: Vec<(String, bool)> = remote
        .x509_authorities
        .iter()
        .filter_map(|a| {
            let certificate = spiffe_core::Certificate::from_der(a.der.clone().into()).ok()?;
            Some((hex(certificate.subject_key_id()?), a.tainted))
        })
        .collect();
    let mut changed = false;
    for held in ctx.ca.x509_upstream_authorities() {
        let upstream_state = remote_roots
            .iter()
            .find(|(id, _)| *id == held.id)
            .map(|(_, tainted)| *tainted);
        match upstream_state {
            Some(true) if !held.tainted => match ctx.ca.taint_x509_upstream(&held.id).await {
                Ok(_) => {
                    changed = true;
                    tracing::info!(
                        subject_key_id = %held.id,
                        "Upstream authority tainted by the upstream server; X.509 authorities under it are tainted and replaced"
                    );
                }
                Err(e) => tracing::warn!(
                    subject_key_id = %held.id,
                    error = %chain(&e),
                    "Could not follow the upstream server's taint of an upstream authority; will retry"
                ),
            },
            None if held.tainted => match ctx.ca.revoke_x509_upstream(&held.id).await {
                Ok(_) => {
                    changed = true;
                    tracing::info!(
                        subject_key_id = %held.id,
                        "Upstream authority revoked by the upstream server; X.509 authorities under it are removed"
                    );
                }
                Err(e) => tracing::warn!(
                    subject_key_id = %held.id,
                    error = %chain(&e),
                    "Could not follow the upstream server's revocation of an upstream authority; will retry"
                ),
            },
            _ => {}
        }
    }
    changed
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Stores `remote` plus this server's `own` authorities as the trust domain's bundle, if that
/// changes it; returns whether it did.
async fn store_merged(ctx: &ServerContext, remote: Bundle, own: Bundle) -> Result<bool, CaError> {
    let mut merged = remote;
    for authority in own.x509_authorities {
        if !merged
            .x509_authorities
            .iter()
            .any(|a| a.der == authority.der)
        {
            merged.x509_authorities.push(authority);
        }
    }
    for key in own.jwt_authorities {
        if !merged
            .jwt_authorities
            .iter()
            .any(|k| k.key_id == key.key_id)
        {
            merged.jwt_authorities.push(key);
        }
    }
    let datastore_err =
        |e: crate::datastore::DataStoreError| CaError::UpstreamUnavailable(Box::new(e));
    let stored = ctx
        .datastore
        .get_bundle(&ctx.settings.trust_domain)
        .await
        .map_err(datastore_err)?;
    let Some(stored) = stored else {
        ctx.datastore
            .append_bundle(merged)
            .await
            .map_err(datastore_err)?;
        return Ok(true);
    };
    if stored.x509_authorities == merged.x509_authorities
        && stored.jwt_authorities == merged.jwt_authorities
    {
        return Ok(false);
    }
    merged.sequence_number = stored.sequence_number + 1;
    merged.refresh_hint = stored.refresh_hint;
    let mask = BundleMask {
        x509_authorities: true,
        jwt_authorities: true,
        sequence_number: true,
        ..BundleMask::default()
    };
    ctx.datastore
        .update_bundle(merged, mask)
        .await
        .map_err(datastore_err)?;
    Ok(true)
}

/// Runs the follower until `stop`.
pub async fn follow(
    ctx: Arc<ServerContext>,
    upstream: Arc<SpireUpstream>,
    stop: watch::Receiver<bool>,
) {
    let prefix = ctx.metrics.prefix().to_owned();
    let registry = ctx.metrics.registry();
    let metrics = FollowerMetrics {
        failures: registry
            .counter(
                &format!("{prefix}_upstream_authority_failures"),
                "Failed calls to the upstream server (nested servers)",
            )
            .ok()
            .unwrap_or_default(),
        reachable: registry
            .gauge(
                &format!("{prefix}_upstream_authority_reachable"),
                "1 while the upstream server answers, 0 while it does not",
            )
            .ok()
            .unwrap_or_default(),
    };
    let stopping = stopped(stop);
    tokio::pin!(stopping);
    let mut wait = POLL_INTERVAL;
    loop {
        tokio::select! {
            () = &mut stopping => return,
            () = tokio::time::sleep(wait) => {}
        }
        match sync_once(&ctx, &upstream).await {
            Ok(changed) => {
                upstream.health().succeeded();
                metrics.reachable.set(1.0);
                if changed {
                    tracing::info!("Bundle updated from the upstream server");
                }
                wait = POLL_INTERVAL;
            }
            Err(e) => {
                let why = chain(&e);
                upstream.health().failed(&why);
                metrics.failures.inc();
                metrics.reachable.set(0.0);
                wait = (wait * 2).min(MAX_BACKOFF);
                let ca_expires = ctx.ca.x509_svid_issuer().not_after().as_secs();
                tracing::warn!(
                    upstream = %upstream.authority(),
                    error = %why,
                    retry_in_secs = wait.as_secs(),
                    ca_expires_at = ca_expires,
                    "Upstream server unreachable; serving with the current CA until it can be reached"
                );
            }
        }
    }
}
