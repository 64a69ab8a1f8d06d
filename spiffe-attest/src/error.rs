/// Why an attestation failed.
///
/// Messages name what failed and never include secret material (tokens, nonces, keys). Each
/// plugin keeps its own detailed error type and reports it through [`AttestError::Plugin`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttestError {
    /// A message from the other side is larger than the exchange allows.
    #[error("{what} is {len} bytes, the limit is {max}")]
    TooLarge {
        /// Which message.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The exchange was driven out of order (a response after the attestation completed, a
    /// second payload, ...).
    #[error("attestation step out of order: {0}")]
    OutOfOrder(&'static str),
    /// A plugin rejected the attestation or could not run.
    #[error("{plugin} attestation failed")]
    Plugin {
        /// The plugin's name (`join_token`, `x509pop`, `tpm`, `unix`).
        plugin: &'static str,
        /// The plugin's own error.
        #[source]
        source: spiffe_core::BoxError,
    },
}

impl AttestError {
    /// Wraps a plugin's own error.
    pub fn plugin(
        plugin: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Plugin {
            plugin,
            source: Box::new(source),
        }
    }
}
