//! A SPIFFE bundle document on disk (SPIRE's `file` source), read at every poll.

use std::path::{Path, PathBuf};

use spiffe_core::{JwtBundle, SpiffeBundle, TrustDomain};

use super::{KeySource, PollError};

/// The bundle file.
#[derive(Debug, Clone)]
pub struct FileSource {
    path: PathBuf,
}

impl FileSource {
    /// Reads `path` at each poll.
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
        }
    }
}

/// A bundle document does not name its trust domain (BUNDLE-1) and the JWKS does not need one.
const UNNAMED: &str = "bundle-file.invalid";

impl KeySource for FileSource {
    fn name(&self) -> &'static str {
        "file"
    }

    async fn fetch(&mut self) -> Result<JwtBundle, PollError> {
        let bytes = tokio::fs::read(&self.path)
            .await
            .map_err(|e| format!("reading {}: {e}", self.path.display()))?;
        let trust_domain = TrustDomain::new(UNNAMED)?;
        let bundle = SpiffeBundle::parse(trust_domain, &bytes)
            .map_err(|e| format!("parsing {}: {e}", self.path.display()))?;
        Ok(bundle.jwt_authorities().clone())
    }
}
