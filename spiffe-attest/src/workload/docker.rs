//! The `docker` workload attestor: selectors from the Docker Engine's view of the caller's
//! container.
//!
//! The container ID comes from the caller's `/proc/<pid>/cgroup` ([`super::cgroup`]); the
//! container's configuration from the Engine API's `GET /containers/{id}/json` over its Unix
//! socket (`/var/run/docker.sock` by default). A caller that is not in a container gets no
//! selectors and no error, as in SPIRE.
//!
//! Selectors (type `docker`, SPIRE's names):
//! - `label:<key>:<value>` for each container label,
//! - `env:<NAME>=<value>` for each environment variable of the container's configuration,
//! - `image_id:<image>`: the image the container was created from, as given (`Config.Image`,
//!   a name like `nginx:1.25` or an image ID).
//!
//! A value that cannot be a selector (a control character in a label or variable) produces no
//! selector: a missing selector can only make fewer entries match.
//!
//! The inspect request is retried (3 more times, 100 ms doubling) when the Engine is
//! unreachable or answers 404 or 5xx, as SPIRE's retryer does for a container that has just
//! started. The response body is capped ([`MAX_INSPECT_BODY`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use spiffe_core::BoxFuture;

use super::cgroup::{self, CgroupError};
use super::{CallerInfo, WorkloadAttestor};
use crate::http_client::{self, HttpError};
use crate::{AttestError, Selector};

/// The plugin name, which is also the type of its selectors.
pub const PLUGIN_NAME: &str = "docker";

/// SPIRE's default `docker_socket_path` (as a path; SPIRE's value is a `unix://` URL).
pub const DEFAULT_SOCKET_PATH: &str = "/var/run/docker.sock";

/// The largest `/containers/{id}/json` body accepted: 4 MiB (a container with many labels and
/// variables is a few tens of KiB).
pub const MAX_INSPECT_BODY: usize = 4 * 1024 * 1024;

const RETRIES: u32 = 3;
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);

/// The docker workload attestor.
#[derive(Debug, Clone)]
pub struct DockerAttestor {
    socket: PathBuf,
    proc_root: PathBuf,
    api_version: Option<String>,
    timeout: Duration,
}

/// Why the docker attestor failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DockerError {
    /// The container could not be located from the caller's cgroups.
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    /// The Engine could not be asked.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The Engine answered with an error status.
    #[error("docker engine answered {status} for container {container_id}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The container.
        container_id: String,
    },
    /// The inspect response is not the Engine's container JSON.
    #[error("docker engine's container inspect response did not parse: {0}")]
    Malformed(String),
    /// The configured API version is not `<major>.<minor>`.
    #[error("docker_version {0:?} is not an API version like 1.41")]
    BadApiVersion(String),
}

// === impl DockerAttestor ===

impl DockerAttestor {
    /// An attestor asking the Engine at `socket`, reading processes under `/proc`.
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        Self {
            socket: socket.into(),
            proc_root: PathBuf::from("/proc"),
            api_version: None,
            timeout: Duration::from_secs(10),
        }
    }

    /// Reads processes under `proc_root` instead of `/proc`.
    pub fn with_proc_root(mut self, proc_root: impl Into<PathBuf>) -> Self {
        self.proc_root = proc_root.into();
        self
    }

    /// Pins the Engine API version (`docker_version`, e.g. `1.41`): requests go to
    /// `/v1.41/containers/…`. Without it the Engine's own version answers.
    pub fn with_api_version(mut self, version: &str) -> Result<Self, DockerError> {
        let ok = version.split_once('.').is_some_and(|(a, b)| {
            !a.is_empty() && !b.is_empty() && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit())
        });
        if !ok {
            return Err(DockerError::BadApiVersion(version.to_owned()));
        }
        self.api_version = Some(version.to_owned());
        Ok(self)
    }

    /// Sets the deadline of each request to the Engine (10 s by default).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The selectors of `caller`'s container; none when it is not in a container.
    pub async fn attest_caller(&self, caller: &CallerInfo) -> Result<Vec<Selector>, DockerError> {
        let Some(location) = cgroup::locate_caller(&self.proc_root, caller)? else {
            return Ok(Vec::new());
        };
        let id = &location.container_id;
        let path = match &self.api_version {
            Some(v) => format!("/v{v}/containers/{id}/json"),
            None => format!("/containers/{id}/json"),
        };
        let mut backoff = INITIAL_BACKOFF;
        let mut attempt = 0;
        let body = loop {
            let result =
                http_client::unix_get(&self.socket, &path, MAX_INSPECT_BODY, self.timeout).await;
            let retryable = match &result {
                Ok(r) if r.status.is_success() => break r.body.clone(),
                Ok(r) => r.status == ::http::StatusCode::NOT_FOUND || r.status.is_server_error(),
                Err(HttpError::Unreachable { .. } | HttpError::Timeout { .. }) => true,
                Err(_) => false,
            };
            if !retryable || attempt == RETRIES {
                return Err(match result {
                    Ok(r) => DockerError::Status {
                        status: r.status.as_u16(),
                        container_id: id.clone(),
                    },
                    Err(e) => e.into(),
                });
            }
            attempt += 1;
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        };
        selectors_from_inspect(&body)
    }
}

/// The selectors of one `GET /containers/{id}/json` response body.
pub fn selectors_from_inspect(body: &[u8]) -> Result<Vec<Selector>, DockerError> {
    #[derive(Deserialize)]
    struct Inspect {
        #[serde(rename = "Config")]
        config: Option<Config>,
    }
    #[derive(Deserialize)]
    struct Config {
        #[serde(rename = "Labels", default)]
        labels: Option<BTreeMap<String, String>>,
        #[serde(rename = "Env", default)]
        env: Option<Vec<String>>,
        #[serde(rename = "Image", default)]
        image: Option<String>,
    }
    let inspect: Inspect =
        serde_json::from_slice(body).map_err(|e| DockerError::Malformed(e.to_string()))?;
    let config = inspect
        .config
        .ok_or_else(|| DockerError::Malformed("no Config object".to_owned()))?;
    let mut values = Vec::new();
    for (key, value) in config.labels.unwrap_or_default() {
        values.push(format!("label:{key}:{value}"));
    }
    for var in config.env.unwrap_or_default() {
        values.push(format!("env:{var}"));
    }
    if let Some(image) = config.image.filter(|i| !i.is_empty()) {
        values.push(format!("image_id:{image}"));
    }
    Ok(values
        .iter()
        .filter_map(|v| Selector::new(PLUGIN_NAME, v).ok())
        .collect())
}

impl WorkloadAttestor for DockerAttestor {
    fn name(&self) -> &'static str {
        PLUGIN_NAME
    }

    fn attest<'a>(
        &'a self,
        caller: &'a CallerInfo,
    ) -> BoxFuture<'a, Result<Vec<Selector>, AttestError>> {
        Box::pin(async move {
            self.attest_caller(caller)
                .await
                .map_err(|e| AttestError::plugin(PLUGIN_NAME, e))
        })
    }
}
