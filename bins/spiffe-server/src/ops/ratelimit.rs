//! Per-IP rate limits (`ratelimit { attestation signing }`), as SPIRE's middleware sets them:
//! `AttestAgent` at 1 per second per IP, and X.509 and JWT signing (`BatchNewX509SVID`,
//! `NewJWTSVID`, `NewDownstreamX509CA`) at 500 per second per IP, each kind separately.
//!
//! Like SPIRE's (`rate.Limiter.WaitN`), a call over the rate waits for its turn rather than
//! failing; one that would have to wait longer than [`MAX_WAIT`] is refused with
//! RESOURCE_EXHAUSTED. Each call counts one (SPIRE counts each CSR of a batch). Callers on the
//! admin socket have no IP and are not limited.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tonic::body::Body;
use tonic::Status;
use tower::{Layer, Service};

use crate::caller::Caller;
use crate::context::ServerContext;

/// The longest a call waits for its turn before RESOURCE_EXHAUSTED.
pub const MAX_WAIT: Duration = Duration::from_secs(30);
/// Idle buckets are dropped once the table holds this many.
const PRUNE_AT: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Attestation,
    X509Signing,
    JwtSigning,
}

impl Kind {
    fn of(method: &str, ctx: &ServerContext) -> Option<Kind> {
        let kind = match method {
            "/spire.api.server.agent.v1.Agent/AttestAgent" => Kind::Attestation,
            "/spire.api.server.svid.v1.SVID/BatchNewX509SVID"
            | "/spire.api.server.svid.v1.SVID/NewDownstreamX509CA" => Kind::X509Signing,
            "/spire.api.server.svid.v1.SVID/NewJWTSVID" => Kind::JwtSigning,
            _ => return None,
        };
        let enabled = match kind {
            Kind::Attestation => ctx.settings.ratelimit_attestation,
            _ => ctx.settings.ratelimit_signing,
        };
        enabled.then_some(kind)
    }

    /// Calls per second, and the burst (SPIRE's limiters allow a burst of one second's worth).
    fn rate(self) -> f64 {
        match self {
            Kind::Attestation => 1.0,
            Kind::X509Signing | Kind::JwtSigning => 500.0,
        }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets by caller IP and kind of call.
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    buckets: Mutex<HashMap<(IpAddr, Kind), Bucket>>,
}

impl Limiter {
    /// Takes a token; returns how long to wait first, or `None` when the wait is too long.
    fn reserve(&self, ip: IpAddr, kind: Kind, now: Instant) -> Option<Duration> {
        let rate = kind.rate();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= PRUNE_AT {
            buckets.retain(|_, b| now.duration_since(b.last) < Duration::from_secs(60));
        }
        let bucket = buckets.entry((ip, kind)).or_insert(Bucket {
            tokens: rate,
            last: now,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(rate);
        bucket.last = now;
        let wait = if bucket.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - bucket.tokens) / rate)
        };
        if wait > MAX_WAIT {
            return None;
        }
        bucket.tokens -= 1.0;
        Some(wait)
    }
}

/// Applies the rate limits to the wrapped service.
#[derive(Debug, Clone)]
pub struct RateLimitLayer {
    ctx: Arc<ServerContext>,
    limiter: Arc<Limiter>,
}

impl RateLimitLayer {
    /// Limits as `ctx.settings` enables them.
    pub fn new(ctx: Arc<ServerContext>) -> Self {
        Self {
            ctx,
            limiter: Arc::new(Limiter::default()),
        }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimited<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimited {
            inner,
            ctx: self.ctx.clone(),
            limiter: self.limiter.clone(),
        }
    }
}

/// The service [`RateLimitLayer`] produces.
#[derive(Debug, Clone)]
pub struct RateLimited<S> {
    inner: S,
    ctx: Arc<ServerContext>,
    limiter: Arc<Limiter>,
}

impl<S> Service<http::Request<Body>> for RateLimited<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let kind = Kind::of(request.uri().path(), &self.ctx);
        let ip = request
            .extensions()
            .get::<Caller>()
            .and_then(Caller::addr)
            .map(|a| a.ip());
        let limiter = self.limiter.clone();
        Box::pin(async move {
            if let (Some(kind), Some(ip)) = (kind, ip) {
                match limiter.reserve(ip, kind, Instant::now()) {
                    None => {
                        return Ok(Status::resource_exhausted("rate limit exceeded").into_http())
                    }
                    Some(wait) if !wait.is_zero() => tokio::time::sleep(wait).await,
                    Some(_) => {}
                }
            }
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attestation_waits_a_second_per_call_per_ip() {
        let limiter = Limiter::default();
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        let other: IpAddr = "192.0.2.2".parse().expect("ip");
        let t0 = Instant::now();
        assert_eq!(
            limiter.reserve(ip, Kind::Attestation, t0),
            Some(Duration::ZERO)
        );
        let wait = limiter.reserve(ip, Kind::Attestation, t0).expect("queued");
        assert!((wait.as_secs_f64() - 1.0).abs() < 1e-6, "{wait:?}");
        assert_eq!(
            limiter.reserve(other, Kind::Attestation, t0),
            Some(Duration::ZERO)
        );
        // 30 more calls at once would wait past the limit.
        let mut refused = false;
        for _ in 0..40 {
            refused |= limiter.reserve(ip, Kind::Attestation, t0).is_none();
        }
        assert!(refused);
    }

    #[test]
    fn signing_allows_a_burst_of_500() {
        let limiter = Limiter::default();
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        let t0 = Instant::now();
        for _ in 0..500 {
            assert_eq!(
                limiter.reserve(ip, Kind::X509Signing, t0),
                Some(Duration::ZERO)
            );
        }
        assert!(limiter
            .reserve(ip, Kind::X509Signing, t0)
            .is_some_and(|w| !w.is_zero()));
        assert_eq!(
            limiter.reserve(ip, Kind::JwtSigning, t0),
            Some(Duration::ZERO)
        );
    }
}
