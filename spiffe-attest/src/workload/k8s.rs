//! The `k8s` workload attestor: selectors from the kubelet's view of the caller's pod and
//! container.
//!
//! The pod UID and container ID come from the caller's `/proc/<pid>/cgroup`
//! ([`super::cgroup`]); the pod from the kubelet's `GET /pods` on this node, over the secure
//! port (HTTPS, `Authorization: Bearer` with the service account token, the kubelet's
//! certificate checked against `kubelet_ca_path` unless `skip_kubelet_verification`) or the
//! read-only port (plain HTTP). A caller not in a container gets no selectors and no error.
//!
//! A container that has just started may not be in the kubelet's list yet: the list is asked
//! again every `poll_retry_interval`, at most `max_poll_attempts` times (SPIRE's defaults: 60
//! and 500 ms), then attestation fails.
//!
//! Selectors (type `k8s`, SPIRE's names): `sa`, `ns`, `node-name`, `pod-uid`, `pod-name`,
//! `pod-image-count`, `pod-init-image-count`, `pod-image:<image or image ID>` for each
//! container's `image` and `imageID`, `pod-init-image` likewise for init containers,
//! `pod-label:<key>:<value>`, `pod-owner:<kind>:<name>`, `pod-owner-uid:<kind>:<uid>`, and for
//! the caller's container (unless `disable_container_selectors`) `container-name` and
//! `container-image` (its `image` and `imageID`).
//!
//! The token is read from its file for each request (projected tokens rotate) and never
//! logged or formatted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use serde::Deserialize;
use spiffe_core::BoxFuture;

use super::cgroup::{self, CgroupError, ContainerLocation};
use super::{CallerInfo, WorkloadAttestor};
use crate::http_client::{self, Endpoint, HttpError};
use crate::{AttestError, Selector};

/// The plugin name, which is also the type of its selectors.
pub const PLUGIN_NAME: &str = "k8s";

/// SPIRE's default kubelet secure port.
pub const DEFAULT_SECURE_PORT: u16 = 10250;
/// SPIRE's default `token_path`.
pub const DEFAULT_TOKEN_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";
/// SPIRE's default `kubelet_ca_path`.
pub const DEFAULT_KUBELET_CA_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
/// SPIRE's default `max_poll_attempts`.
pub const DEFAULT_MAX_POLL_ATTEMPTS: u32 = 60;
/// SPIRE's default `poll_retry_interval`.
pub const DEFAULT_POLL_RETRY_INTERVAL: Duration = Duration::from_millis(500);

/// The largest kubelet `/pods` body accepted: 64 MiB (a node's pod list with 110 pods is a
/// few MiB).
pub const MAX_PODS_BODY: usize = 64 * 1024 * 1024;

/// The largest token file read.
const MAX_TOKEN_FILE: u64 = 64 * 1024;

/// How to reach the kubelet.
#[derive(Clone)]
pub enum KubeletPort {
    /// `kubelet_read_only_port`: plain HTTP, no authentication.
    ReadOnly(u16),
    /// `kubelet_secure_port`: HTTPS.
    Secure {
        /// The port.
        port: u16,
        /// The PEM CA bundle the kubelet's certificate must chain to; `None` for
        /// `skip_kubelet_verification`.
        ca_pem: Option<Vec<u8>>,
        /// The bearer token file (`token_path`); `None` for `use_anonymous_authentication`.
        token_path: Option<PathBuf>,
    },
}

impl std::fmt::Debug for KubeletPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KubeletPort::ReadOnly(port) => f.debug_tuple("ReadOnly").field(port).finish(),
            KubeletPort::Secure {
                port,
                ca_pem,
                token_path,
            } => f
                .debug_struct("Secure")
                .field("port", port)
                .field("verify", &ca_pem.is_some())
                .field("token_path", token_path)
                .finish(),
        }
    }
}

/// The k8s workload attestor's settings (SPIRE's `plugin_data`).
#[derive(Debug, Clone)]
pub struct K8sConfig {
    /// The kubelet's host: `node_name` (or the `node_name_env` variable), else `127.0.0.1`.
    pub node_name: Option<String>,
    /// Which kubelet port, and how.
    pub port: KubeletPort,
    /// `max_poll_attempts`.
    pub max_poll_attempts: u32,
    /// `poll_retry_interval`.
    pub poll_retry_interval: Duration,
    /// `disable_container_selectors`.
    pub disable_container_selectors: bool,
}

impl K8sConfig {
    /// SPIRE's defaults: the secure port 10250, the service account's CA and token, 60 polls
    /// 500 ms apart.
    pub fn new(node_name: Option<String>) -> Self {
        Self {
            node_name,
            port: KubeletPort::Secure {
                port: DEFAULT_SECURE_PORT,
                ca_pem: None,
                token_path: Some(PathBuf::from(DEFAULT_TOKEN_PATH)),
            },
            max_poll_attempts: DEFAULT_MAX_POLL_ATTEMPTS,
            poll_retry_interval: DEFAULT_POLL_RETRY_INTERVAL,
            disable_container_selectors: false,
        }
    }
}

/// Why the k8s attestor failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum K8sError {
    /// The container could not be located from the caller's cgroups.
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    /// The kubelet could not be asked.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The kubelet answered with an error status (401/403: the token is refused).
    #[error("kubelet answered {0} for /pods")]
    Status(u16),
    /// The pod list is not the kubelet's JSON.
    #[error("kubelet /pods response did not parse: {0}")]
    Malformed(String),
    /// The token file could not be read.
    #[error("cannot read the kubelet token file {path}: {reason}")]
    Token {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The TLS settings are unusable (a CA file without certificates, a bad node name).
    #[error("kubelet client settings: {0}")]
    Settings(String),
    /// The container was not in the pod list after every attempt.
    #[error("no pod with container {container_id} (pod {pod_uid}) after {attempts} kubelet polls")]
    NotFound {
        /// The container.
        container_id: String,
        /// The pod, or `unknown`.
        pod_uid: String,
        /// How many lists were fetched.
        attempts: u32,
    },
}

/// The k8s workload attestor.
#[derive(Debug, Clone)]
pub struct K8sAttestor {
    endpoint: Arc<EndpointDebug>,
    token_path: Option<PathBuf>,
    proc_root: PathBuf,
    max_poll_attempts: u32,
    poll_retry_interval: Duration,
    disable_container_selectors: bool,
    timeout: Duration,
    max_body: usize,
}

struct EndpointDebug(Endpoint);

impl std::fmt::Debug for EndpointDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Endpoint::Tcp { host, port } => write!(f, "http://{host}:{port}"),
            Endpoint::Tls { host, port, .. } => write!(f, "https://{host}:{port}"),
        }
    }
}

// === impl K8sAttestor ===

impl K8sAttestor {
    /// An attestor with these settings, reading processes under `/proc`.
    pub fn new(config: K8sConfig) -> Result<Self, K8sError> {
        let host = config
            .node_name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "127.0.0.1".to_owned());
        let (endpoint, token_path) = match config.port {
            KubeletPort::ReadOnly(port) => (Endpoint::Tcp { host, port }, None),
            KubeletPort::Secure {
                port,
                ca_pem,
                token_path,
            } => {
                let tls =
                    http_client::client_config(ca_pem.as_deref()).map_err(K8sError::Settings)?;
                let server_name = rustls_pki_types::ServerName::try_from(host.clone())
                    .map_err(|_| K8sError::Settings(format!("{host:?} is not a host name")))?;
                (
                    Endpoint::Tls {
                        host,
                        port,
                        server_name,
                        config: Arc::new(tls),
                    },
                    token_path,
                )
            }
        };
        Ok(Self {
            endpoint: Arc::new(EndpointDebug(endpoint)),
            token_path,
            proc_root: PathBuf::from("/proc"),
            max_poll_attempts: config.max_poll_attempts.max(1),
            poll_retry_interval: config.poll_retry_interval,
            disable_container_selectors: config.disable_container_selectors,
            timeout: Duration::from_secs(10),
            max_body: MAX_PODS_BODY,
        })
    }

    /// Reads processes under `proc_root` instead of `/proc`.
    pub fn with_proc_root(mut self, proc_root: impl Into<PathBuf>) -> Self {
        self.proc_root = proc_root.into();
        self
    }

    /// Sets the deadline of each kubelet request (10 s by default).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Lowers the cap on the `/pods` body (tests; [`MAX_PODS_BODY`] by default).
    pub fn with_max_body(mut self, max_body: usize) -> Self {
        self.max_body = max_body.min(MAX_PODS_BODY);
        self
    }

    /// The selectors of `caller`'s pod and container; none when it is not in a container.
    pub async fn attest_caller(&self, caller: &CallerInfo) -> Result<Vec<Selector>, K8sError> {
        let Some(location) = cgroup::locate_caller(&self.proc_root, caller)? else {
            return Ok(Vec::new());
        };
        let mut last_error = None;
        for attempt in 1..=self.max_poll_attempts {
            match self.fetch_pods().await {
                Ok(body) => {
                    if let Some(found) =
                        selectors_for(&body, &location, self.disable_container_selectors)?
                    {
                        return Ok(found);
                    }
                    last_error = None;
                }
                // The token is refused or the list is unreadable: polling again will not help.
                Err(e @ (K8sError::Status(401 | 403) | K8sError::Token { .. })) => return Err(e),
                Err(e) => last_error = Some(e),
            }
            if attempt < self.max_poll_attempts {
                tokio::time::sleep(self.poll_retry_interval).await;
            }
        }
        Err(last_error.unwrap_or(K8sError::NotFound {
            container_id: location.container_id,
            pod_uid: location.pod_uid.unwrap_or_else(|| "unknown".to_owned()),
            attempts: self.max_poll_attempts,
        }))
    }

    async fn fetch_pods(&self) -> Result<Vec<u8>, K8sError> {
        let mut request = http::Request::get("/pods");
        if let Some(path) = &self.token_path {
            let token = read_token(path)?;
            let mut value =
                http::HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                    K8sError::Token {
                        path: path.display().to_string(),
                        reason: "not a valid header value".to_owned(),
                    }
                })?;
            value.set_sensitive(true);
            request = request.header(http::header::AUTHORIZATION, value);
        }
        let request = request
            .body(Full::new(Bytes::new()))
            .map_err(|e| K8sError::Settings(e.to_string()))?;
        let response = self
            .endpoint
            .0
            .send(request, self.max_body, self.timeout)
            .await?;
        if !response.status.is_success() {
            return Err(K8sError::Status(response.status.as_u16()));
        }
        Ok(response.body.to_vec())
    }
}

/// Reads a token file (bounded), trimmed.
pub(crate) fn read_token(path: &std::path::Path) -> Result<String, K8sError> {
    use std::io::Read;
    let err = |reason: String| K8sError::Token {
        path: path.display().to_string(),
        reason,
    };
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_TOKEN_FILE + 1).read_to_string(&mut text))
        .map_err(|e| err(e.kind().to_string()))?;
    if text.len() as u64 > MAX_TOKEN_FILE {
        return Err(err(format!("larger than {MAX_TOKEN_FILE} bytes")));
    }
    let token = text.trim();
    if token.is_empty() {
        return Err(err("empty".to_owned()));
    }
    Ok(token.to_owned())
}

/// The fields of a kubelet `/pods` list (a `PodList`) the attestor reads.
#[derive(Debug, Deserialize)]
pub(crate) struct PodList {
    #[serde(default)]
    pub(crate) items: Vec<Pod>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub(crate) struct Pod {
    pub(crate) metadata: ObjectMeta,
    pub(crate) spec: PodSpec,
    pub(crate) status: PodStatus,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ObjectMeta {
    pub(crate) name: String,
    pub(crate) namespace: String,
    pub(crate) uid: String,
    pub(crate) labels: Option<BTreeMap<String, String>>,
    pub(crate) owner_references: Option<Vec<OwnerReference>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub(crate) struct OwnerReference {
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) uid: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct PodSpec {
    pub(crate) service_account_name: String,
    pub(crate) node_name: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct PodStatus {
    pub(crate) container_statuses: Option<Vec<ContainerStatus>>,
    pub(crate) init_container_statuses: Option<Vec<ContainerStatus>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ContainerStatus {
    pub(crate) name: String,
    pub(crate) image: String,
    #[serde(rename = "imageID")]
    pub(crate) image_id: String,
    #[serde(rename = "containerID")]
    pub(crate) container_id: String,
}

/// The container ID of a status's `containerID` (`containerd://<id>`, `cri-o://<id>`,
/// `docker://<id>`).
fn status_container_id(s: &ContainerStatus) -> Option<&str> {
    s.container_id
        .split_once("://")
        .map(|(_, id)| id)
        .filter(|id| !id.is_empty())
}

/// The selectors for the caller at `location` from one kubelet `/pods` body: `Ok(None)` when
/// its container is not (yet) listed.
pub fn selectors_from_pod_list(
    body: &[u8],
    location: &ContainerLocation,
) -> Result<Option<Vec<Selector>>, K8sError> {
    selectors_for(body, location, false)
}

fn selectors_for(
    body: &[u8],
    location: &ContainerLocation,
    disable_container_selectors: bool,
) -> Result<Option<Vec<Selector>>, K8sError> {
    let list: PodList =
        serde_json::from_slice(body).map_err(|e| K8sError::Malformed(e.to_string()))?;
    for pod in &list.items {
        if let Some(uid) = &location.pod_uid {
            if &pod.metadata.uid != uid {
                continue;
            }
        }
        let containers = pod.status.container_statuses.as_deref().unwrap_or_default();
        let inits = pod
            .status
            .init_container_statuses
            .as_deref()
            .unwrap_or_default();
        let container = containers
            .iter()
            .chain(inits)
            .find(|s| status_container_id(s) == Some(location.container_id.as_str()));
        match container {
            Some(c) => {
                let mut values = pod_values(pod);
                if !disable_container_selectors {
                    values.push(format!("container-name:{}", c.name));
                    for image in image_identifiers(std::slice::from_ref(c)) {
                        values.push(format!("container-image:{image}"));
                    }
                }
                return Ok(Some(to_selectors(values)));
            }
            // The pod is known and container selectors are off: the pod is enough (SPIRE).
            None if disable_container_selectors && location.pod_uid.is_some() => {
                return Ok(Some(to_selectors(pod_values(pod))))
            }
            None => {}
        }
    }
    Ok(None)
}

fn image_identifiers(statuses: &[ContainerStatus]) -> BTreeSet<&str> {
    statuses
        .iter()
        .flat_map(|s| [s.image.as_str(), s.image_id.as_str()])
        .filter(|i| !i.is_empty())
        .collect()
}

fn pod_values(pod: &Pod) -> Vec<String> {
    let containers = pod.status.container_statuses.as_deref().unwrap_or_default();
    let inits = pod
        .status
        .init_container_statuses
        .as_deref()
        .unwrap_or_default();
    let mut values = vec![
        format!("sa:{}", pod.spec.service_account_name),
        format!("ns:{}", pod.metadata.namespace),
        format!("node-name:{}", pod.spec.node_name),
        format!("pod-uid:{}", pod.metadata.uid),
        format!("pod-name:{}", pod.metadata.name),
        format!("pod-image-count:{}", containers.len()),
        format!("pod-init-image-count:{}", inits.len()),
    ];
    for image in image_identifiers(containers) {
        values.push(format!("pod-image:{image}"));
    }
    for image in image_identifiers(inits) {
        values.push(format!("pod-init-image:{image}"));
    }
    for (k, v) in pod.metadata.labels.iter().flatten() {
        values.push(format!("pod-label:{k}:{v}"));
    }
    for owner in pod.metadata.owner_references.iter().flatten() {
        values.push(format!("pod-owner:{}:{}", owner.kind, owner.name));
        values.push(format!("pod-owner-uid:{}:{}", owner.kind, owner.uid));
    }
    values
}

/// Selectors of the values that can be selectors (a value with a control character gives
/// none: fewer selectors match fewer entries).
fn to_selectors(values: Vec<String>) -> Vec<Selector> {
    values
        .iter()
        .filter_map(|v| Selector::new(PLUGIN_NAME, v).ok())
        .collect()
}

impl WorkloadAttestor for K8sAttestor {
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
