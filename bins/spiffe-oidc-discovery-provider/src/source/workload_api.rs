//! The agent's Workload API (`FetchJWTBundles`), through `spiffe-workload`'s client, picking
//! the configured trust domain's bundle out of the answer.

use std::path::Path;

use spiffe_core::{JwtBundle, TrustDomain};
use spiffe_workload::{EndpointAddress, WorkloadApiClient};

use super::{KeySource, PollError};

/// A Workload API client for one trust domain's JWT bundle.
#[derive(Clone)]
pub struct WorkloadApiSource {
    client: WorkloadApiClient,
    trust_domain: TrustDomain,
}

impl std::fmt::Debug for WorkloadApiSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkloadApiSource")
            .field("trust_domain", &self.trust_domain)
            .finish_non_exhaustive()
    }
}

impl WorkloadApiSource {
    /// A client that connects on use (the agent may start later). Needs a Tokio runtime.
    pub fn new(socket_path: &Path, trust_domain: TrustDomain) -> Result<Self, PollError> {
        let client =
            WorkloadApiClient::connect_lazy(&EndpointAddress::Unix(socket_path.to_owned()))?;
        Ok(Self {
            client,
            trust_domain,
        })
    }
}

impl KeySource for WorkloadApiSource {
    fn name(&self) -> &'static str {
        "workload_api"
    }

    async fn fetch(&mut self) -> Result<JwtBundle, PollError> {
        let bundles = self.client.fetch_jwt_bundles().await?;
        match bundles.jwt_bundle(self.trust_domain.as_str()) {
            Some(bundle) => Ok((**bundle).clone()),
            None => Err(format!(
                "no bundle for trust domain \"{}\" in the Workload API response",
                self.trust_domain
            )
            .into()),
        }
    }
}
