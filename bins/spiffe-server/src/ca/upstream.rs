//! `UpstreamAuthority "disk"`: an existing CA's certificate and key on disk, with its roots in
//! `bundle_file_path` when the certificate is not self-signed.

use std::path::Path;

use spiffe_ca::x509::DiskUpstreamAuthority;
use spiffe_ca::CaError;

use super::CaSetupError;
use crate::config::DiskUpstreamSettings;

/// Loads the upstream CA.
pub(super) fn load(settings: &DiskUpstreamSettings) -> Result<DiskUpstreamAuthority, CaSetupError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| CaSetupError::Upstream {
            path: path.to_owned(),
            source: CaError::Io {
                path: path.to_owned(),
                source,
            },
        })
    };
    let mut chain = read(&settings.cert_file_path)?;
    if let Some(bundle) = &settings.bundle_file_path {
        // The chain must end at a root: the upstream's roots follow its certificates.
        chain.push(b'\n');
        chain.extend(read(bundle)?);
    }
    let key = read(&settings.key_file_path)?;
    DiskUpstreamAuthority::from_pem(&chain, &key).map_err(|source| CaSetupError::Upstream {
        path: settings.cert_file_path.clone(),
        source,
    })
}
