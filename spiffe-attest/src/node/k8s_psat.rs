//! The `k8s_psat` node attestor: an agent in a Kubernetes pod proves where it runs with its
//! projected service account token (PSAT), and the server has the cluster's API server check
//! it.
//!
//! - Agent: the payload is JSON `{"cluster": "<name>", "token": "<PSAT>"}` (SPIRE's layout),
//!   the token read from `token_path` (default `/var/run/secrets/tokens/spire-agent`) at each
//!   attestation.
//! - Server, for the cluster the payload names: a `TokenReview` with the cluster's audience
//!   (default `spire-server`); the token must be authenticated, its service account
//!   (`system:serviceaccount:<ns>:<sa>`) in `service_account_allow_list` (`<ns>:<sa>`), and it
//!   must be bound to a pod (the `authentication.kubernetes.io/pod-name` and `pod-uid`
//!   extras). The pod is fetched, and must still have that UID (a pod deleted and recreated
//!   under the same name, possibly on another node, is refused); then its node.
//! - Agent ID: `spiffe://<trust domain>/spire/agent/k8s_psat/<cluster>/<node UID>`.
//! - Selectors (type `k8s_psat`): `cluster`, `agent_ns`, `agent_sa`, `agent_pod_name`,
//!   `agent_pod_uid`, `agent_node_ip`, `agent_node_name`, `agent_node_uid`, and
//!   `agent_node_label:<k>:<v>` / `agent_pod_label:<k>:<v>` for the keys in
//!   `allowed_node_label_keys` / `allowed_pod_label_keys`.
//! - The agent may re-attest (a fresh token each time).
//!
//! Tokens are never logged nor part of an error or `Debug` output. Every API response is
//! capped ([`MAX_API_BODY`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use serde::{Deserialize, Serialize};
use spiffe_core::{BoxFuture, SpiffeId, TrustDomain};

use super::{
    check_message_len, AgentAttestation, AttestedNode, NodeAttestorAgent, NodeAttestorServer,
    ServerAttestation, ServerStep,
};
use crate::http_client::{self, Endpoint, HttpError};
use crate::{AttestError, Selector};

/// The plugin name, which is also the type of its selectors.
pub const PLUGIN_NAME: &str = "k8s_psat";

/// SPIRE's default agent `token_path`.
pub const DEFAULT_TOKEN_PATH: &str = "/var/run/secrets/tokens/spire-agent";

/// SPIRE's default audience.
pub const DEFAULT_AUDIENCE: &str = "spire-server";

/// The largest API server response body read: 1 MiB (a pod or node object is a few KiB).
pub const MAX_API_BODY: usize = 1024 * 1024;

/// Why a k8s_psat attestation failed. Never carries the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PsatError {
    /// The payload is not `{"cluster": …, "token": …}` with both set.
    #[error("attestation payload: {0}")]
    Payload(String),
    /// The payload names a cluster this server is not configured for.
    #[error("not configured for cluster {0:?}")]
    UnknownCluster(String),
    /// The API server could not be asked.
    #[error("cluster {cluster:?}: {source}")]
    Api {
        /// The cluster.
        cluster: String,
        /// What failed.
        #[source]
        source: HttpError,
    },
    /// The API server answered with an error status.
    #[error("cluster {cluster:?}: API server answered {status} for {what}")]
    Status {
        /// The cluster.
        cluster: String,
        /// The status.
        status: u16,
        /// Which request.
        what: &'static str,
    },
    /// An API response did not parse or lacks a field.
    #[error("cluster {cluster:?}: {what} response: {reason}")]
    Malformed {
        /// The cluster.
        cluster: String,
        /// Which response.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// TokenReview says the token is not valid (forged, expired, wrong audience, deleted pod).
    #[error("token not authenticated according to TokenReview API for cluster {0:?}")]
    NotAuthenticated(String),
    /// The token's service account is not in the cluster's allow list.
    #[error("{service_account:?} is not an allowed service account for cluster {cluster:?}")]
    NotAllowed {
        /// `<ns>:<sa>`.
        service_account: String,
        /// The cluster.
        cluster: String,
    },
    /// The pod by that name has another UID than the one the token is bound to.
    #[error("pod UID mismatch for pod {pod:?} in cluster {cluster:?}: token bound to pod UID {token_pod_uid:?}")]
    PodMismatch {
        /// The pod name.
        pod: String,
        /// The cluster.
        cluster: String,
        /// The UID in the token.
        token_pod_uid: String,
    },
    /// A value cannot be a selector or an agent ID path segment.
    #[error("{0} cannot be used in a selector or agent ID")]
    Unusable(&'static str),
    /// The agent's token file could not be read.
    #[error("cannot read the service account token {path}: {reason}")]
    Token {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The cluster settings are unusable.
    #[error("cluster {cluster:?}: {reason}")]
    Settings {
        /// The cluster.
        cluster: String,
        /// Why.
        reason: String,
    },
}

fn fail(e: PsatError) -> AttestError {
    AttestError::plugin(PLUGIN_NAME, e)
}

#[derive(Serialize, Deserialize)]
struct Payload {
    cluster: String,
    token: String,
}

// === agent ===

/// The agent half: sends the cluster name and the token of `token_path`.
#[derive(Debug, Clone)]
pub struct PsatAgent {
    cluster: String,
    token_path: PathBuf,
}

impl PsatAgent {
    /// An agent in `cluster` reading its token from `token_path`.
    pub fn new(cluster: impl Into<String>, token_path: impl Into<PathBuf>) -> Self {
        Self {
            cluster: cluster.into(),
            token_path: token_path.into(),
        }
    }
}

struct AgentAttempt(PsatAgent, bool);

impl NodeAttestorAgent for PsatAgent {
    fn name(&self) -> &'static str {
        PLUGIN_NAME
    }

    fn begin(&self) -> Result<Box<dyn AgentAttestation>, AttestError> {
        Ok(Box::new(AgentAttempt(self.clone(), false)))
    }
}

impl AgentAttestation for AgentAttempt {
    fn payload(&mut self) -> Result<Vec<u8>, AttestError> {
        if std::mem::replace(&mut self.1, true) {
            return Err(AttestError::OutOfOrder("a second payload"));
        }
        let token = crate::workload::k8s::read_token(&self.0.token_path).map_err(|e| {
            fail(PsatError::Token {
                path: self.0.token_path.display().to_string(),
                reason: match e {
                    crate::workload::k8s::K8sError::Token { reason, .. } => reason,
                    other => other.to_string(),
                },
            })
        })?;
        serde_json::to_vec(&Payload {
            cluster: self.0.cluster.clone(),
            token,
        })
        .map_err(|e| fail(PsatError::Payload(e.to_string())))
    }

    fn respond(&mut self, _challenge: &[u8]) -> Result<Vec<u8>, AttestError> {
        Err(AttestError::OutOfOrder("k8s_psat has no challenge"))
    }
}

// === server ===

/// How the server reaches one cluster's API server.
#[derive(Clone)]
pub struct ApiServer {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// The PEM CA bundle the API server's certificate must chain to.
    pub ca_pem: Vec<u8>,
    /// The file holding the server's own bearer token (read at each request).
    pub token_path: PathBuf,
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("token_path", &self.token_path)
            .finish_non_exhaustive()
    }
}

impl ApiServer {
    /// The in-cluster API server: `KUBERNETES_SERVICE_HOST` / `KUBERNETES_SERVICE_PORT`, the
    /// service account's CA and token (what SPIRE uses when `kube_config_file` is empty).
    pub fn in_cluster() -> Result<Self, String> {
        let host = std::env::var("KUBERNETES_SERVICE_HOST")
            .map_err(|_| "KUBERNETES_SERVICE_HOST is not set (not in a pod?)".to_owned())?;
        let port = std::env::var("KUBERNETES_SERVICE_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(443);
        let ca_path = crate::workload::k8s::DEFAULT_KUBELET_CA_PATH;
        let ca_pem = std::fs::read(ca_path).map_err(|e| format!("cannot read {ca_path}: {e}"))?;
        Ok(Self {
            host,
            port,
            ca_pem,
            token_path: PathBuf::from(crate::workload::k8s::DEFAULT_TOKEN_PATH),
        })
    }
}

/// One cluster's settings (an entry of SPIRE's `clusters` map).
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// `service_account_allow_list`: `<namespace>:<service account>` entries.
    pub service_account_allow_list: Vec<String>,
    /// `audience` (default `["spire-server"]`).
    pub audience: Vec<String>,
    /// `allowed_node_label_keys`.
    pub allowed_node_label_keys: Vec<String>,
    /// `allowed_pod_label_keys`.
    pub allowed_pod_label_keys: Vec<String>,
    /// The cluster's API server.
    pub api_server: ApiServer,
}

struct Cluster {
    allow: BTreeSet<String>,
    audience: Vec<String>,
    node_labels: BTreeSet<String>,
    pod_labels: BTreeSet<String>,
    endpoint: Endpoint,
    token_path: PathBuf,
}

/// The server half.
#[derive(Clone)]
pub struct PsatServer {
    trust_domain: TrustDomain,
    clusters: Arc<HashMap<String, Cluster>>,
    timeout: Duration,
    max_body: usize,
}

impl std::fmt::Debug for PsatServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.clusters.keys().collect();
        names.sort();
        f.debug_struct("PsatServer")
            .field("trust_domain", &self.trust_domain)
            .field("clusters", &names)
            .finish()
    }
}

impl PsatServer {
    /// A server attesting agents of `trust_domain` from these clusters (by name).
    pub fn new(
        trust_domain: TrustDomain,
        clusters: BTreeMap<String, ClusterConfig>,
    ) -> Result<Self, PsatError> {
        let mut out = HashMap::new();
        for (name, c) in clusters {
            let settings = |reason: String| PsatError::Settings {
                cluster: name.clone(),
                reason,
            };
            if c.service_account_allow_list.is_empty() {
                return Err(settings(
                    "configuration must have at least one service account allowed".to_owned(),
                ));
            }
            let tls = http_client::client_config(Some(&c.api_server.ca_pem)).map_err(settings)?;
            let server_name = rustls_pki_types::ServerName::try_from(c.api_server.host.clone())
                .map_err(|_| settings(format!("{:?} is not a host name", c.api_server.host)))?;
            out.insert(
                name.clone(),
                Cluster {
                    allow: c.service_account_allow_list.into_iter().collect(),
                    audience: c.audience,
                    node_labels: c.allowed_node_label_keys.into_iter().collect(),
                    pod_labels: c.allowed_pod_label_keys.into_iter().collect(),
                    endpoint: Endpoint::Tls {
                        host: c.api_server.host,
                        port: c.api_server.port,
                        server_name,
                        config: Arc::new(tls),
                    },
                    token_path: c.api_server.token_path,
                },
            );
        }
        Ok(Self {
            trust_domain,
            clusters: Arc::new(out),
            timeout: Duration::from_secs(10),
            max_body: MAX_API_BODY,
        })
    }

    /// Lowers the cap on API responses (tests; [`MAX_API_BODY`] by default).
    pub fn with_max_body(mut self, max_body: usize) -> Self {
        self.max_body = max_body.min(MAX_API_BODY);
        self
    }

    /// Sets the deadline of each API request (10 s by default).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Attests one payload.
    pub async fn attest_payload(&self, payload: &[u8]) -> Result<AttestedNode, PsatError> {
        let p: Payload =
            serde_json::from_slice(payload).map_err(|e| PsatError::Payload(e.to_string()))?;
        if p.cluster.is_empty() {
            return Err(PsatError::Payload("missing cluster".to_owned()));
        }
        if p.token.is_empty() {
            return Err(PsatError::Payload("missing token".to_owned()));
        }
        let cluster = self
            .clusters
            .get(&p.cluster)
            .ok_or_else(|| PsatError::UnknownCluster(p.cluster.clone()))?;
        let name = p.cluster.as_str();

        // TokenReview (authentication.k8s.io/v1) with the cluster's audiences.
        let review = serde_json::json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": p.token, "audiences": cluster.audience},
        });
        let body = self
            .call(
                cluster,
                name,
                "TokenReview",
                http::Method::POST,
                "/apis/authentication.k8s.io/v1/tokenreviews",
                Some(review.to_string()),
            )
            .await?;
        let review: TokenReview = parse(name, "TokenReview", &body)?;
        let status = review.status.unwrap_or_default();
        if !status.authenticated {
            return Err(PsatError::NotAuthenticated(name.to_owned()));
        }
        // The API server checks the audience; an answer naming none of ours is refused too.
        if let Some(auds) = &status.audiences {
            if !auds.iter().any(|a| cluster.audience.contains(a)) {
                return Err(PsatError::NotAuthenticated(name.to_owned()));
            }
        }
        let user = status.user.unwrap_or_default();
        let malformed = |reason: &str| PsatError::Malformed {
            cluster: name.to_owned(),
            what: "TokenReview",
            reason: reason.to_owned(),
        };
        let mut parts = user.username.splitn(4, ':');
        let (ns, sa) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("system"), Some("serviceaccount"), Some(ns), Some(sa))
                if !ns.is_empty() && !sa.is_empty() =>
            {
                (ns.to_owned(), sa.to_owned())
            }
            _ => return Err(malformed("username is not system:serviceaccount:<ns>:<sa>")),
        };
        let full = format!("{ns}:{sa}");
        if !cluster.allow.contains(&full) {
            return Err(PsatError::NotAllowed {
                service_account: full,
                cluster: name.to_owned(),
            });
        }
        let extra = |key: &str| {
            user.extra
                .get(key)
                .and_then(|v| v.first())
                .filter(|v| !v.is_empty())
                .cloned()
        };
        let pod_name = extra("authentication.kubernetes.io/pod-name")
            .ok_or_else(|| malformed("the token is not bound to a pod (no pod-name)"))?;
        let pod_uid = extra("authentication.kubernetes.io/pod-uid")
            .ok_or_else(|| malformed("the token is not bound to a pod (no pod-uid)"))?;

        let path = format!(
            "/api/v1/namespaces/{}/pods/{}",
            path_segment(&ns)?,
            path_segment(&pod_name)?
        );
        let body = self
            .call(cluster, name, "pod", http::Method::GET, &path, None)
            .await?;
        let pod: Object = parse(name, "pod", &body)?;
        if pod.metadata.uid != pod_uid {
            return Err(PsatError::PodMismatch {
                pod: pod_name,
                cluster: name.to_owned(),
                token_pod_uid: pod_uid,
            });
        }
        let node_name = pod.spec.node_name.clone();
        if node_name.is_empty() {
            return Err(PsatError::Malformed {
                cluster: name.to_owned(),
                what: "pod",
                reason: "no spec.nodeName".to_owned(),
            });
        }
        let path = format!("/api/v1/nodes/{}", path_segment(&node_name)?);
        let body = self
            .call(cluster, name, "node", http::Method::GET, &path, None)
            .await?;
        let node: Object = parse(name, "node", &body)?;
        let node_uid = node.metadata.uid.clone();
        if node_uid.is_empty() {
            return Err(PsatError::Malformed {
                cluster: name.to_owned(),
                what: "node",
                reason: "node UID is empty".to_owned(),
            });
        }

        let mut values = vec![
            format!("cluster:{name}"),
            format!("agent_ns:{ns}"),
            format!("agent_sa:{sa}"),
            format!("agent_pod_name:{pod_name}"),
            format!("agent_pod_uid:{pod_uid}"),
            format!("agent_node_ip:{}", pod.status.host_ip),
            format!("agent_node_name:{node_name}"),
            format!("agent_node_uid:{node_uid}"),
        ];
        for (k, v) in node.metadata.labels.iter().flatten() {
            if cluster.node_labels.contains(k) {
                values.push(format!("agent_node_label:{k}:{v}"));
            }
        }
        for (k, v) in pod.metadata.labels.iter().flatten() {
            if cluster.pod_labels.contains(k) {
                values.push(format!("agent_pod_label:{k}:{v}"));
            }
        }
        let selectors = values
            .iter()
            .map(|v| Selector::new(PLUGIN_NAME, v).map_err(|_| PsatError::Unusable("a value")))
            .collect::<Result<Vec<_>, _>>()?;
        let agent_id = SpiffeId::from_path(
            &self.trust_domain,
            &format!(
                "/spire/agent/{PLUGIN_NAME}/{}/{}",
                path_segment(name)?,
                path_segment(&node_uid)?
            ),
        )
        .map_err(|_| PsatError::Unusable("the cluster name or node UID"))?;
        Ok(AttestedNode::new(agent_id, selectors).reattestable())
    }

    async fn call(
        &self,
        cluster: &Cluster,
        name: &str,
        what: &'static str,
        method: http::Method,
        path: &str,
        body: Option<String>,
    ) -> Result<Bytes, PsatError> {
        let token = crate::workload::k8s::read_token(&cluster.token_path).map_err(|e| {
            PsatError::Settings {
                cluster: name.to_owned(),
                reason: e.to_string(),
            }
        })?;
        let mut auth = http::HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            PsatError::Settings {
                cluster: name.to_owned(),
                reason: "the API token is not a valid header value".to_owned(),
            }
        })?;
        auth.set_sensitive(true);
        let request = http::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::AUTHORIZATION, auth)
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| PsatError::Settings {
                cluster: name.to_owned(),
                reason: e.to_string(),
            })?;
        let response = cluster
            .endpoint
            .send(request, self.max_body, self.timeout)
            .await
            .map_err(|source| PsatError::Api {
                cluster: name.to_owned(),
                source,
            })?;
        if !response.status.is_success() {
            return Err(PsatError::Status {
                cluster: name.to_owned(),
                status: response.status.as_u16(),
                what,
            });
        }
        Ok(response.body)
    }
}

/// A value usable as one URL path segment (and one SPIFFE ID path segment): no `/`, not `.`
/// or `..`, only the characters Kubernetes names and UIDs use.
fn path_segment(s: &str) -> Result<&str, PsatError> {
    let ok = !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    match ok {
        true => Ok(s),
        false => Err(PsatError::Unusable("a name")),
    }
}

fn parse<'a, T: Deserialize<'a>>(
    cluster: &str,
    what: &'static str,
    body: &'a [u8],
) -> Result<T, PsatError> {
    serde_json::from_slice(body).map_err(|e| PsatError::Malformed {
        cluster: cluster.to_owned(),
        what,
        reason: e.to_string(),
    })
}

#[derive(Deserialize)]
struct TokenReview {
    status: Option<ReviewStatus>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ReviewStatus {
    authenticated: bool,
    user: Option<UserInfo>,
    audiences: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct UserInfo {
    username: String,
    extra: HashMap<String, Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Object {
    metadata: Meta,
    spec: ObjSpec,
    status: ObjStatus,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Meta {
    uid: String,
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ObjSpec {
    node_name: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ObjStatus {
    #[serde(rename = "hostIP")]
    host_ip: String,
}

/// Decodes the three API responses the server reads (TokenReview, pod, node) as it would,
/// for the fuzz target: `Ok` when all three parse.
pub fn decode_api_responses(review: &[u8], pod: &[u8], node: &[u8]) -> Result<(), PsatError> {
    parse::<TokenReview>("fuzz", "TokenReview", review)?;
    parse::<Object>("fuzz", "pod", pod)?;
    parse::<Object>("fuzz", "node", node)?;
    Ok(())
}

struct ServerAttempt {
    server: PsatServer,
    done: bool,
}

impl NodeAttestorServer for PsatServer {
    fn name(&self) -> &'static str {
        PLUGIN_NAME
    }

    fn begin(&self) -> Box<dyn ServerAttestation> {
        Box::new(ServerAttempt {
            server: self.clone(),
            done: false,
        })
    }
}

impl ServerAttestation for ServerAttempt {
    fn step<'a>(&'a mut self, message: &'a [u8]) -> BoxFuture<'a, Result<ServerStep, AttestError>> {
        Box::pin(async move {
            if std::mem::replace(&mut self.done, true) {
                return Err(AttestError::OutOfOrder("k8s_psat takes one payload"));
            }
            check_message_len("payload", message)?;
            self.server
                .attest_payload(message)
                .await
                .map(ServerStep::Attested)
                .map_err(fail)
        })
    }
}
