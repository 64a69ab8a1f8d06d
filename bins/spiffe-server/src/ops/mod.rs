//! Operations: metrics, readiness, the audit log, rate limits, and the layers that apply them
//! to every RPC.

mod audit;
mod health;
mod metrics;
mod ratelimit;
mod rpc_layer;

pub use health::{
    register_upstream_health, report_upstream_health, Readiness, UPSTREAM_HEALTH_SERVICE,
};
pub use metrics::{code_name as code_name_of, ServerMetrics, DEFAULT_PREFIX};
pub use ratelimit::{RateLimitLayer, RateLimited, MAX_WAIT};
pub use rpc_layer::{RpcLayer, RpcService};
