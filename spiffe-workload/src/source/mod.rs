//! Rotating sources: [`X509Source`], [`JwtSource`] and [`BundleSource`] hold the newest
//! material from the Workload API, implement `spiffe-core`'s source traits, and publish each
//! update on a `tokio::sync::watch` channel.
//!
//! Each source waits for its first update when built, then keeps its stream open in a
//! background task that re-opens it with backoff after failures and agent restarts (WAPI-5).
//! When the agent redacts the caller's identity (PERMISSION_DENIED, WAPI-16) the source drops
//! what it held. Closing the source or dropping its last clone stops the task.
//!
//! The three share one [`SourceBuilder`] (client, first-update timeout, socket wait) and one
//! private holder, [`Latest`], of the newest snapshot and the task that refreshes it.

mod builder;
mod bundle;
mod error;
mod jwt;
mod jwt_cache;
mod latest;
mod x509;

use std::time::Duration;

pub use builder::SourceBuilder;
pub use bundle::BundleSource;
pub use error::SourceError;
pub use jwt::JwtSource;
pub use x509::X509Source;

use latest::Latest;

/// How long a source waits for its first update unless told otherwise.
pub const DEFAULT_INITIAL_TIMEOUT: Duration = Duration::from_secs(30);
