//! Federation in the server: the bundle endpoint this trust domain publishes
//! ([`endpoint`]), and the relationships whose bundles it fetches ([`manager`]), both on the
//! library of `spiffe_workload::federation`.
//!
//! Relationships come from the configuration (`federation { federates_with "<td>" { … } }`)
//! and from the TrustDomain API (stored in the datastore); a trust domain in both is fetched
//! as the configuration says, as SPIRE merges them (its configuration source first). Fetched
//! bundles are stored in the bundle store, where the trust bundles of the TLS listener, the
//! agents' sync and `bundle list` read them.

mod convert;
pub mod endpoint;
pub mod manager;

pub use manager::{FederationManager, RefreshError, RefreshStatus};
