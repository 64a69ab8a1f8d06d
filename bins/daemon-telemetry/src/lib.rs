#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod config;
mod gofmt;
pub mod health;
mod listener;
pub mod logger_api;
pub mod logging;
pub mod metrics;
mod metrics_server;
mod shutdown;

pub use config::{HealthConfig, PrometheusConfig, TelemetryConfig};
pub use gofmt::grpc_code_name;
pub use health::{Health, HealthCheck, HealthServer, HealthState};
pub use logger_api::LoggerService;
pub use logging::{LogFormat, LogHandle, LogLevel, LogSettings};
pub use metrics::Registry;
pub use metrics_server::{MetricsServer, CONTENT_TYPE as METRICS_CONTENT_TYPE};
pub use shutdown::{shutdown_signal, ShutdownSignal, StopSignal};
