//! Envoy's Secret Discovery Service (`envoy.service.secret.v3.SecretDiscoveryService`, SDS v3)
//! over an [`IdentityProvider`], served on the Workload API socket beside `SpiffeWorkloadAPI`
//! with the caller attested the same way (its connection's peer credentials).
//!
//! Resource names follow SPIRE's agent: a SPIFFE ID names that X.509-SVID (a `TlsCertificate`
//! secret), `spiffe://<trust domain>` names that trust domain's bundle (a validation context),
//! [`SdsConfig::default_svid_name`] the caller's first SVID, [`SdsConfig::default_bundle_name`]
//! the bundle of the caller's own trust domain and [`SdsConfig::default_all_bundles_name`] one
//! validation context trusting every bundle the caller sees (own and federated). An empty
//! name list asks for everything (the SVIDs under their SPIFFE IDs, every bundle under its
//! trust domain's ID). A name the caller holds nothing for is left out of the answer (SPIRE's
//! agent fails the whole request with INVALID_ARGUMENT instead; xDS lets a server omit what it
//! does not have, and Envoy then waits for it rather than tearing the stream down).
//!
//! Validation contexts carry Envoy's SPIFFE certificate validator
//! (`envoy.tls.cert_validator.spiffe`, one trust domain per bundle) unless SPIFFE validation is
//! disabled (by [`SdsConfig::disable_spiffe_cert_validation`], overridden per Envoy by the node
//! metadata key `disable_spiffe_cert_validation`, or for an Envoy older than 1.18), in which case
//! a bundle is a plain `trusted_ca` and the all-bundles name cannot be served (INTERNAL, as
//! SPIRE).
//!
//! `StreamSecrets` answers the first request once the caller's identities are known, again
//! whenever the requested names change, and pushes a new version on every rotation or bundle
//! change. ACK/NACK as xDS: a request whose `response_nonce` is not the last one sent is stale
//! and ignored; a NACK (`error_detail`, or a `version_info` other than the last sent) is
//! logged and does not resend the same version. `FetchSecrets` answers once, without version or
//! nonce; `DeltaSecrets` is UNIMPLEMENTED (as SPIRE's agent).

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeSet, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use envoy_types::pb::envoy::config::core::v3::TypedExtensionConfig;
use envoy_types::pb::envoy::config::core::v3::{data_source, node, DataSource, Node};
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    secret, spiffe_cert_validator_config, CertificateValidationContext, Secret,
    SpiffeCertValidatorConfig, TlsCertificate,
};
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use envoy_types::pb::envoy::service::secret::v3::secret_discovery_service_server::SecretDiscoveryService;
use envoy_types::pb::google::protobuf::{value, Any};
use prost::{Message, Name};
use spiffe_core::pki_types::PrivateKeyDer;
use spiffe_core::X509Bundle;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::peer::PeerCaller;
use crate::provider::{IdentityProvider, ProviderError, X509Context};
use crate::CallerInfo;

/// The type URL of every SDS resource (and of the requests' `type_url`).
pub const SECRET_TYPE_URL: &str =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";

/// The name of Envoy's SPIFFE certificate validator extension.
pub const SPIFFE_CERT_VALIDATOR: &str = "envoy.tls.cert_validator.spiffe";

/// The node metadata key that turns SPIFFE validation off (or on) for one Envoy.
pub const DISABLE_SPIFFE_CERT_VALIDATION_KEY: &str = "disable_spiffe_cert_validation";

/// SDS settings: SPIRE's agent `sds { … }` block.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SdsConfig {
    /// The name of the caller's default (first) X.509-SVID (SPIRE: `"default"`).
    pub default_svid_name: String,
    /// The name of the bundle of the caller's own trust domain (SPIRE: `"ROOTCA"`).
    pub default_bundle_name: String,
    /// The name of the validation context trusting every bundle (SPIRE: `"ALL"`).
    pub default_all_bundles_name: String,
    /// Serve plain `trusted_ca` validation contexts instead of Envoy's SPIFFE validator.
    pub disable_spiffe_cert_validation: bool,
}

impl Default for SdsConfig {
    fn default() -> Self {
        Self {
            default_svid_name: "default".to_owned(),
            default_bundle_name: "ROOTCA".to_owned(),
            default_all_bundles_name: "ALL".to_owned(),
            disable_spiffe_cert_validation: false,
        }
    }
}

/// The SDS service over a provider.
pub(crate) struct SdsService<P> {
    pub(crate) provider: Arc<P>,
    pub(crate) config: Arc<SdsConfig>,
    pub(crate) shutdown: watch::Receiver<bool>,
}

/// The caller the request's connection was attested as (Envoy sends no security header).
fn caller<T>(request: &Request<T>) -> Result<CallerInfo, Status> {
    match request.extensions().get::<PeerCaller>() {
        Some(PeerCaller::Attested(caller)) => Ok(*caller),
        Some(PeerCaller::Unknown) => Err(Status::permission_denied("caller not attested")),
        Some(PeerCaller::Unavailable) | None => {
            Err(Status::unavailable("workload attestation failed"))
        }
    }
}

/// The caller's identities now; a caller with none gets an empty context (it may be
/// registered later, and its stream then gets the secrets).
async fn context<P: IdentityProvider>(
    provider: &P,
    caller: &CallerInfo,
) -> Result<X509Context, Status> {
    match provider.x509_context(caller).await {
        Ok(context) => Ok(context),
        Err(ProviderError::NoIdentity | ProviderError::NotEntitled { .. }) => {
            Ok(X509Context::default())
        }
        Err(ProviderError::Unavailable) => Err(Status::unavailable("identities not available yet")),
        Err(ProviderError::InvalidJwtSvid(_) | ProviderError::Internal(_)) => {
            Err(Status::internal("identity provider failed"))
        }
    }
}

/// A digest of everything a response is built from, to tell a rotation or bundle change.
fn digest(context: &X509Context) -> u64 {
    let mut hasher = DefaultHasher::new();
    for entry in &context.svids {
        entry.svid.spiffe_id().as_str().hash(&mut hasher);
        for cert in entry.svid.chain() {
            cert.der().as_ref().hash(&mut hasher);
        }
    }
    0xffu8.hash(&mut hasher);
    for bundle in &context.bundles {
        bundle.trust_domain().as_str().hash(&mut hasher);
        bundle.to_der().hash(&mut hasher);
    }
    hasher.finish()
}

fn any<M: Message + Name>(message: &M) -> Any {
    Any {
        type_url: M::type_url(),
        value: message.encode_to_vec(),
    }
}

fn inline(bytes: impl Into<Vec<u8>>) -> Option<DataSource> {
    Some(DataSource {
        watched_directory: None,
        specifier: Some(data_source::Specifier::InlineBytes(bytes.into())),
    })
}

fn pem_block(label: &str, der: &[u8], out: &mut String) {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    let encoded = STANDARD.encode(der);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for line in encoded.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
}

/// Whether this request gets SPIFFE validation: on unless disabled by config or by the node's
/// metadata (a bool, or a string Go's `strconv.ParseBool` accepts), and the Envoy is 1.18 or
/// newer (or does not say).
fn spiffe_validation(config: &SdsConfig, node: Option<&Node>) -> bool {
    let mut disabled = config.disable_spiffe_cert_validation;
    let meta = node
        .and_then(|n| n.metadata.as_ref())
        .and_then(|m| m.fields.get(DISABLE_SPIFFE_CERT_VALIDATION_KEY))
        .and_then(|v| v.kind.as_ref());
    match meta {
        Some(value::Kind::BoolValue(b)) => disabled = *b,
        Some(value::Kind::StringValue(s)) => match s.as_str() {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => disabled = true,
            "0" | "f" | "F" | "false" | "FALSE" | "False" => disabled = false,
            _ => {}
        },
        _ => {}
    }
    let supports = match node.and_then(|n| n.user_agent_version_type.as_ref()) {
        Some(node::UserAgentVersionType::UserAgentBuildVersion(build)) => build
            .version
            .as_ref()
            .is_none_or(|v| (v.major_number == 1 && v.minor_number > 17) || v.major_number > 1),
        _ => true,
    };
    !disabled && supports
}

fn trust_domain_entry(bundle: &X509Bundle) -> spiffe_cert_validator_config::TrustDomain {
    spiffe_cert_validator_config::TrustDomain {
        name: bundle.trust_domain().as_str().to_owned(),
        trust_bundle: inline(bundle.to_pem()),
        ..Default::default()
    }
}

fn validation_secret(name: &str, context: CertificateValidationContext) -> Any {
    any(&Secret {
        name: name.to_owned(),
        r#type: Some(secret::Type::ValidationContext(context)),
    })
}

fn spiffe_validator(
    trust_domains: Vec<spiffe_cert_validator_config::TrustDomain>,
) -> CertificateValidationContext {
    CertificateValidationContext {
        custom_validator_config: Some(TypedExtensionConfig {
            name: SPIFFE_CERT_VALIDATOR.to_owned(),
            typed_config: Some(any(&SpiffeCertValidatorConfig {
                trust_domains,
                trust_bundles: None,
            })),
        }),
        ..Default::default()
    }
}

/// One bundle as a validation context named `name`.
fn bundle_secret(name: &str, bundle: &X509Bundle, spiffe: bool) -> Any {
    let context = if spiffe {
        spiffe_validator(vec![trust_domain_entry(bundle)])
    } else {
        CertificateValidationContext {
            trusted_ca: inline(bundle.to_pem()),
            ..Default::default()
        }
    };
    validation_secret(name, context)
}

/// An SVID as a TLS certificate named `name`: chain and PKCS#8 key, PEM.
fn certificate_secret(name: &str, svid: &spiffe_core::X509Svid) -> Result<Any, Status> {
    let mut chain = String::new();
    for cert in svid.chain() {
        pem_block("CERTIFICATE", cert.der(), &mut chain);
    }
    let PrivateKeyDer::Pkcs8(key) = svid.private_key() else {
        return Err(Status::internal("SVID key is not PKCS#8"));
    };
    let mut key_pem = String::new();
    pem_block("PRIVATE KEY", key.secret_pkcs8_der(), &mut key_pem);
    Ok(any(&Secret {
        name: name.to_owned(),
        r#type: Some(secret::Type::TlsCertificate(TlsCertificate {
            certificate_chain: inline(chain),
            private_key: inline(key_pem),
            ..Default::default()
        })),
    }))
}

/// The secrets `names` asks for (everything when empty) out of `context`, in a stable order:
/// bundles, then SVIDs.
pub(crate) fn secrets(
    config: &SdsConfig,
    names: &[String],
    node: Option<&Node>,
    context: &X509Context,
) -> Result<Vec<Any>, Status> {
    let mut wanted: BTreeSet<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| !n.is_empty())
        .collect();
    let all = wanted.is_empty();
    let spiffe = spiffe_validation(config, node);
    let mut out = Vec::new();
    let own = context
        .svids
        .first()
        .map(|entry| entry.svid.spiffe_id().trust_domain().clone());
    let own_bundle = own
        .as_ref()
        .and_then(|td| context.bundles.iter().find(|b| b.trust_domain() == td));

    // Bundles: `spiffe://<td>` for each, the default name for the own one, the all-bundles name.
    let mut seen = HashSet::new();
    for bundle in &context.bundles {
        let id = bundle.trust_domain().id_str().to_owned();
        if !seen.insert(id.clone()) {
            continue;
        }
        if all || wanted.remove(id.as_str()) {
            out.push(bundle_secret(&id, bundle, spiffe));
        }
    }
    if let Some(bundle) = own_bundle {
        if wanted.remove(config.default_bundle_name.as_str()) {
            out.push(bundle_secret(&config.default_bundle_name, bundle, spiffe));
        }
    }
    if !context.bundles.is_empty() && wanted.remove(config.default_all_bundles_name.as_str()) {
        if !spiffe {
            // As SPIRE: without the SPIFFE validator one context cannot hold several trust
            // domains' roots apart.
            return Err(Status::internal(
                "the all-bundles validation context needs SPIFFE certificate validation",
            ));
        }
        let mut domains: Vec<_> = context
            .bundles
            .iter()
            .map(|b| trust_domain_entry(b))
            .collect();
        domains.sort_by(|a, b| a.name.cmp(&b.name));
        domains.dedup_by(|a, b| a.name == b.name);
        out.push(validation_secret(
            &config.default_all_bundles_name,
            spiffe_validator(domains),
        ));
    }

    // SVIDs: each under its SPIFFE ID, the first also under the default name.
    for (i, entry) in context.svids.iter().enumerate() {
        let id = entry.svid.spiffe_id().as_str();
        if all || wanted.remove(id) {
            out.push(certificate_secret(id, &entry.svid)?);
        } else if i == 0 && wanted.remove(config.default_svid_name.as_str()) {
            out.push(certificate_secret(&config.default_svid_name, &entry.svid)?);
        }
    }
    if !wanted.is_empty() {
        tracing::debug!(names = ?wanted, "SDS names the caller holds nothing for are left out");
    }
    Ok(out)
}

fn response(
    config: &SdsConfig,
    request: &DiscoveryRequest,
    node: Option<&Node>,
    context: &X509Context,
    version_info: String,
    nonce: String,
) -> Result<DiscoveryResponse, Status> {
    Ok(DiscoveryResponse {
        version_info,
        resources: secrets(config, &request.resource_names, node, context)?,
        type_url: if request.type_url.is_empty() {
            SECRET_TYPE_URL.to_owned()
        } else {
            request.type_url.clone()
        },
        nonce,
        ..Default::default()
    })
}

/// Whether two resource name lists differ as sets.
fn names_changed(old: &[String], new: &[String]) -> bool {
    let old: HashSet<&String> = old.iter().collect();
    let new: HashSet<&String> = new.iter().collect();
    old != new
}

/// One `StreamSecrets` stream: requests in, responses out, until the client or the server ends.
struct SecretStream<P> {
    provider: Arc<P>,
    config: Arc<SdsConfig>,
    caller: CallerInfo,
    out: mpsc::Sender<Result<DiscoveryResponse, Status>>,
    version: u64,
    nonce: u64,
    last_nonce: Option<String>,
    last_request: Option<DiscoveryRequest>,
    last_node: Option<Node>,
    context: Option<(X509Context, u64)>,
}

impl<P: IdentityProvider> SecretStream<P> {
    async fn run(
        mut self,
        mut inbound: Streaming<DiscoveryRequest>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut changes = self.provider.changes();
        changes.mark_unchanged();
        if let Err(status) = self.refresh().await {
            let _ = self.out.send(Err(status)).await;
            return;
        }
        let end = loop {
            tokio::select! {
                () = async { let _ = shutdown.wait_for(|stop| *stop).await; } => break None,
                request = inbound.message() => match request {
                    Ok(Some(request)) => {
                        if let Err(status) = self.on_request(request).await {
                            break Some(status);
                        }
                    }
                    Ok(None) | Err(_) => break None,
                },
                changed = changes.changed() => {
                    if changed.is_err() {
                        break None;
                    }
                    match self.refresh().await {
                        Ok(true) if self.last_request.is_some() => {
                            if let Err(status) = self.send().await {
                                break Some(status);
                            }
                        }
                        Ok(_) => {}
                        Err(status) => break Some(status),
                    }
                }
            }
            if self.out.is_closed() {
                break None;
            }
        };
        if let Some(status) = end {
            let _ = self.out.send(Err(status)).await;
        }
    }

    /// Reads the caller's identities; true (and a new version) when they changed.
    async fn refresh(&mut self) -> Result<bool, Status> {
        let context = context(&*self.provider, &self.caller).await?;
        let digest = digest(&context);
        if self.context.as_ref().is_some_and(|(_, d)| *d == digest) {
            return Ok(false);
        }
        self.context = Some((context, digest));
        self.version += 1;
        Ok(true)
    }

    async fn on_request(&mut self, mut request: DiscoveryRequest) -> Result<(), Status> {
        if let Some(error) = &request.error_detail {
            tracing::error!(
                caller = %self.caller,
                names = ?request.resource_names,
                error = %error.message,
                "Envoy reported errors applying secrets"
            );
        }
        if let Some(last_nonce) = &self.last_nonce {
            // xDS: a reply to an older response is stale.
            if *last_nonce != request.response_nonce {
                tracing::debug!(caller = %self.caller, "stale SDS request ignored");
                return Ok(());
            }
            if request.version_info != self.version.to_string() {
                tracing::warn!(
                    caller = %self.caller,
                    version = %request.version_info,
                    expected = self.version,
                    "Envoy rejected the SDS version sent"
                );
            }
            if request.node.is_none() {
                request.node = self.last_node.clone();
            }
        }
        let send = self
            .last_request
            .as_ref()
            .is_none_or(|last| names_changed(&last.resource_names, &request.resource_names));
        if request.node.is_some() {
            self.last_node = request.node.clone();
        }
        self.last_request = Some(request);
        if send {
            self.send().await?;
        }
        Ok(())
    }

    async fn send(&mut self) -> Result<(), Status> {
        let (Some(request), Some((context, _))) = (&self.last_request, &self.context) else {
            return Ok(());
        };
        self.nonce += 1;
        let nonce = format!("{:x}-{}", self.version, self.nonce);
        let response = response(
            &self.config,
            request,
            request.node.as_ref().or(self.last_node.as_ref()),
            context,
            self.version.to_string(),
            nonce.clone(),
        )?;
        self.last_nonce = Some(nonce);
        // A closed channel means the client is gone; the loop notices.
        let _ = self.out.send(Ok(response)).await;
        Ok(())
    }
}

/// The response stream type of the streaming SDS RPCs.
pub(crate) type SdsStream<T> = ReceiverStream<Result<T, Status>>;

#[tonic::async_trait]
impl<P: IdentityProvider> SecretDiscoveryService for SdsService<P> {
    type DeltaSecretsStream = SdsStream<DeltaDiscoveryResponse>;
    type StreamSecretsStream = SdsStream<DiscoveryResponse>;

    async fn delta_secrets(
        &self,
        _request: Request<Streaming<DeltaDiscoveryRequest>>,
    ) -> Result<Response<Self::DeltaSecretsStream>, Status> {
        // As SPIRE's agent: incremental SDS is not served.
        Err(Status::unimplemented("Method is not implemented"))
    }

    async fn stream_secrets(
        &self,
        request: Request<Streaming<DiscoveryRequest>>,
    ) -> Result<Response<Self::StreamSecretsStream>, Status> {
        let caller = caller(&request)?;
        let (tx, rx) = mpsc::channel(2);
        let stream = SecretStream {
            provider: self.provider.clone(),
            config: self.config.clone(),
            caller,
            out: tx,
            version: 0,
            nonce: 0,
            last_nonce: None,
            last_request: None,
            last_node: None,
            context: None,
        };
        tokio::spawn(stream.run(request.into_inner(), self.shutdown.clone()));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn fetch_secrets(
        &self,
        request: Request<DiscoveryRequest>,
    ) -> Result<Response<DiscoveryResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let context = context(&*self.provider, &caller).await?;
        let response = response(
            &self.config,
            &request,
            request.node.as_ref(),
            &context,
            String::new(),
            String::new(),
        )?;
        Ok(Response::new(response))
    }
}
