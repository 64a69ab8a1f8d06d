//! What the helper writes into `cert_dir`, in spiffe-helper's formats: the X.509-SVID chain,
//! its PKCS#8 key, the bundle (PEM); each JWT-SVID (the token); the JWT bundles (a JSON object
//! from trust domain name to the base64 of its JWKS document).
//!
//! Every file is replaced atomically: a temporary file created exclusively beside it (never
//! following a symlink), given its mode, flushed, renamed over the target
//! (`spiffe_ca::secret_file`). A symlink planted at a target is replaced, not written through.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use spiffe_core::{BundleSet, Certificate, JwtBundle, SpiffeBundle, X509Bundle};
use spiffe_workload::X509Context;

use super::config::{HelperConfig, X509Files};

/// A file that could not be written, or material that cannot be written as configured.
#[derive(Debug)]
pub(super) struct WriteError(pub(super) String);

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Writes `data` to `path` with permission bits `mode`, atomically. Blocking: the helper's
/// single-threaded loop has nothing else to do meanwhile but answer health checks, which wait
/// the few milliseconds of a write and an fsync.
fn write(path: &Path, data: &[u8], mode: u32) -> Result<(), WriteError> {
    spiffe_ca::secret_file::write_with_mode(path, data, mode)
        .map_err(|e| WriteError(format!("writing {}: {e}", path.display())))
}

fn pem(certs: &[&Certificate]) -> String {
    crate::cmd::ca::pem("CERTIFICATE", certs.iter().map(|c| c.der().as_ref()))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What an X.509 write produced, for the log line.
pub(super) struct X509Written {
    pub(super) spiffe_id: String,
    pub(super) serial: String,
    pub(super) files: [PathBuf; 3],
}

/// Writes the SVID chosen by `hint` (the default one when empty), its key and its trust
/// domain's bundle (plus intermediates and federated bundles as configured).
pub(super) fn write_x509(
    config: &HelperConfig,
    names: &X509Files,
    context: &X509Context,
) -> Result<X509Written, WriteError> {
    let entry = if config.hint.is_empty() {
        context.svids.first()
    } else {
        context.svids.iter().find(|e| e.hint == config.hint)
    }
    .ok_or_else(|| {
        WriteError(if config.hint.is_empty() {
            "the Workload API answered no X.509-SVID".to_owned()
        } else {
            format!(
                "no X.509-SVID with hint {:?} in the Workload API's answer",
                config.hint
            )
        })
    })?;
    let svid = &entry.svid;
    let trust_domain = &svid.spiffe_id().trust_domain();
    let own: &X509Bundle = context
        .bundles
        .iter()
        .find(|b| b.trust_domain() == trust_domain)
        .ok_or_else(|| WriteError(format!("no X.509 bundle for trust domain {trust_domain}")))?;

    let mut certs: Vec<&Certificate> = svid.chain().iter().collect();
    let mut bundle: Vec<&Certificate> = own.authorities().iter().collect();
    if config.add_intermediates_to_bundle {
        bundle.extend(certs.drain(1..));
    }
    if config.include_federated_domains {
        for other in context
            .bundles
            .iter()
            .filter(|b| b.trust_domain() != trust_domain)
        {
            bundle.extend(other.authorities().iter());
        }
    }
    if config.omit_expired {
        let now = now_secs();
        bundle.retain(|c| c.not_after().as_secs() >= now);
    }

    let dir = &config.cert_dir;
    let files = [
        dir.join(&names.svid),
        dir.join(&names.key),
        dir.join(&names.bundle),
    ];
    write(&files[0], pem(&certs).as_bytes(), config.cert_file_mode)?;
    let key = crate::cmd::ca::pem("PRIVATE KEY", [svid.private_key().secret_der()]);
    write(&files[1], key.as_bytes(), config.key_file_mode)?;
    write(&files[2], pem(&bundle).as_bytes(), config.cert_file_mode)?;
    Ok(X509Written {
        spiffe_id: svid.spiffe_id().to_string(),
        serial: svid.leaf().serial_hex(),
        files,
    })
}

/// Writes the JWT bundles as spiffe-helper does: `{"<trust domain>": "<base64 of JWKS>"}`.
pub(super) fn write_jwt_bundles(
    config: &HelperConfig,
    name: &str,
    set: &BundleSet,
) -> Result<PathBuf, WriteError> {
    let mut object = serde_json::Map::new();
    for (trust_domain, entry) in set.iter() {
        let Some(jwt) = entry.jwt() else { continue };
        let jwks = jwks(trust_domain, jwt)?;
        object.insert(
            trust_domain.to_string(),
            serde_json::Value::String(STANDARD.encode(jwks)),
        );
    }
    let path = config.cert_dir.join(name);
    let json = serde_json::Value::Object(object).to_string();
    write(&path, json.as_bytes(), config.jwt_bundle_file_mode)?;
    Ok(path)
}

/// The JWKS document of one JWT bundle (a SPIFFE bundle document with JWT authorities only).
fn jwks(trust_domain: &spiffe_core::TrustDomain, jwt: &JwtBundle) -> Result<Vec<u8>, WriteError> {
    SpiffeBundle::from_parts(X509Bundle::new(trust_domain.clone()), jwt.clone())
        .map(|b| b.to_json_compact())
        .map_err(|e| WriteError(format!("JWT bundle of {trust_domain}: {e}")))
}

/// Writes one JWT-SVID token.
pub(super) fn write_jwt_svid(
    config: &HelperConfig,
    name: &str,
    token: &str,
) -> Result<PathBuf, WriteError> {
    let path = config.cert_dir.join(name);
    write(&path, token.as_bytes(), config.jwt_svid_file_mode)?;
    Ok(path)
}
