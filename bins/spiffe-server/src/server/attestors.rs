//! The configured node attestors, built from `spiffe-attest`'s server halves.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use spiffe_attest::node::join_token::JoinTokenServer;
use spiffe_attest::node::tpm::TpmServer;
use spiffe_attest::node::x509pop::{AgentPathTemplate, X509PopServer};
use spiffe_attest::node::NodeAttestorServer;
use spiffe_core::pki_types::CertificateDer;
use spiffe_core::TrustDomain;

use super::StartError;
use crate::config::{NodeAttestorConfig, TpmSettings, X509PopSettings};
use crate::datastore::{DataStore, DataStoreJoinTokens};

/// The attestors by plugin name.
pub(super) fn build(
    configs: &[NodeAttestorConfig],
    trust_domain: &TrustDomain,
    datastore: Arc<dyn DataStore>,
) -> Result<HashMap<String, Arc<dyn NodeAttestorServer>>, StartError> {
    let mut attestors: HashMap<String, Arc<dyn NodeAttestorServer>> = HashMap::new();
    for config in configs {
        let attestor: Arc<dyn NodeAttestorServer> = match config {
            NodeAttestorConfig::JoinToken => Arc::new(JoinTokenServer::new(
                trust_domain.clone(),
                Arc::new(DataStoreJoinTokens::new(datastore.clone())),
            )),
            NodeAttestorConfig::X509Pop(settings) => Arc::new(x509pop(settings, trust_domain)?),
            NodeAttestorConfig::Tpm(settings) => Arc::new(tpm(settings, trust_domain)?),
            NodeAttestorConfig::K8sPsat(clusters) => Arc::new(k8s_psat(clusters, trust_domain)?),
        };
        attestors.insert(config.name().to_owned(), attestor);
    }
    Ok(attestors)
}

/// The k8s_psat server half, every cluster's API server the in-cluster one.
fn k8s_psat(
    clusters: &[crate::config::K8sPsatCluster],
    trust_domain: &TrustDomain,
) -> Result<spiffe_attest::node::k8s_psat::PsatServer, StartError> {
    use spiffe_attest::node::k8s_psat::{ApiServer, ClusterConfig, PsatServer};
    let api = ApiServer::in_cluster().map_err(|e| failed("k8s_psat", e))?;
    let configs = clusters
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                ClusterConfig {
                    service_account_allow_list: c.service_account_allow_list.clone(),
                    audience: c.audience.clone(),
                    allowed_node_label_keys: c.allowed_node_label_keys.clone(),
                    allowed_pod_label_keys: c.allowed_pod_label_keys.clone(),
                    api_server: api.clone(),
                },
            )
        })
        .collect();
    PsatServer::new(trust_domain.clone(), configs).map_err(|e| failed("k8s_psat", e.to_string()))
}

fn failed(plugin: &'static str, reason: impl Into<String>) -> StartError {
    StartError::Attestor {
        plugin,
        reason: reason.into(),
    }
}

fn read(plugin: &'static str, path: &Path) -> Result<Vec<u8>, StartError> {
    std::fs::read(path)
        .map_err(|e| failed(plugin, format!("unable to read {}: {e}", path.display())))
}

fn x509pop(
    settings: &X509PopSettings,
    trust_domain: &TrustDomain,
) -> Result<X509PopServer, StartError> {
    let mut cas = Vec::new();
    for path in &settings.ca_bundle_paths {
        let pem = read("x509pop", path)?;
        let certs = spiffe_core::x509::parse_certificates(&pem).map_err(|e| {
            failed(
                "x509pop",
                format!("unable to load trust bundle {}: {e}", path.display()),
            )
        })?;
        cas.extend(certs);
    }
    let mut attestor = X509PopServer::new(trust_domain.clone(), cas)
        .map_err(|e| failed("x509pop", e.to_string()))?;
    if let Some(template) = &settings.agent_path_template {
        // SPIRE's templates are written without the leading slash.
        let template = if template.starts_with('/') {
            template.clone()
        } else {
            format!("/{template}")
        };
        let parsed = AgentPathTemplate::parse(&template)
            .map_err(|e| failed("x509pop", format!("agent_path_template: {e}")))?;
        attestor = attestor.with_agent_path_template(parsed);
    }
    Ok(attestor)
}

fn files_in(plugin: &'static str, dir: &Path) -> Result<Vec<PathBuf>, StartError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| failed(plugin, format!("unable to read {}: {e}", dir.display())))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| failed(plugin, e.to_string()))?;
        if entry.path().is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

fn tpm(settings: &TpmSettings, trust_domain: &TrustDomain) -> Result<TpmServer, StartError> {
    let mut server = TpmServer::new(trust_domain.clone());
    if let Some(dir) = &settings.ca_path {
        for path in files_in("tpm", dir)? {
            let bytes = read("tpm", &path)?;
            let ders: Vec<CertificateDer<'static>> =
                match spiffe_core::x509::parse_certificates(&bytes) {
                    Ok(certs) => certs.into_iter().map(|c| c.der().clone()).collect(),
                    Err(_) => vec![CertificateDer::from(bytes)],
                };
            for der in ders {
                server = server
                    .with_manufacturer_ca(der)
                    .map_err(|e| failed("tpm", format!("{}: {e}", path.display())))?;
            }
        }
    }
    if let Some(dir) = &settings.hash_path {
        for path in files_in("tpm", dir)? {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            server = server
                .with_pinned_ek_hash(name)
                .map_err(|e| failed("tpm", format!("{}: {e}", path.display())))?;
        }
    }
    Ok(server)
}
