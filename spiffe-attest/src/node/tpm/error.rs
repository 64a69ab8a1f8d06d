//! The `tpm` attestor's own error type.

/// Why a `tpm` attestation failed.
///
/// Messages name the structure or check that failed; they never carry the credential secret,
/// the nonce, or key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TpmError {
    /// A message or TPM structure ended early, had trailing bytes, or a field was out of range.
    #[error("malformed {what}")]
    Malformed {
        /// Which structure.
        what: &'static str,
    },
    /// A length field or list exceeds what the attestor accepts.
    #[error("{what} is {len} bytes or entries, the limit is {max}")]
    TooLarge {
        /// Which field.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The message's version byte is not one this implementation speaks.
    #[error("unsupported {what} version {version}")]
    UnsupportedVersion {
        /// Which message.
        what: &'static str,
        /// The version found.
        version: u8,
    },
    /// A key is not of the kind required (algorithm, size, attributes, scheme).
    #[error("{key} rejected: {reason}")]
    KeyRejected {
        /// `endorsement key` or `attestation key`.
        key: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The endorsement key is neither pinned nor certified by a configured manufacturer CA.
    #[error("endorsement key {pub_hash} is not trusted (not pinned, and no valid EK certificate)")]
    UntrustedEk {
        /// The EK public key hash (public information, used as the agent ID).
        pub_hash: String,
    },
    /// The EK certificate does not verify against the configured manufacturer CAs.
    #[error("EK certificate rejected: {reason}")]
    EkCertificate {
        /// Why.
        reason: &'static str,
    },
    /// The EK certificate does not certify the endorsement key sent with it.
    #[error("the EK certificate's public key is not the endorsement key")]
    EkCertificateMismatch,
    /// The answer to the credential activation challenge is wrong: the agent's TPM does not
    /// hold both the endorsement key and the attestation key, or the answer is replayed.
    #[error("credential activation failed: wrong secret")]
    ActivationFailed,
    /// The quote does not verify: bad signature, wrong nonce, wrong PCR selection or digest.
    #[error("quote rejected: {reason}")]
    QuoteRejected {
        /// What did not verify.
        reason: &'static str,
    },
    /// A cryptographic primitive failed (random generation, encryption).
    #[error("cryptographic operation failed: {0}")]
    Crypto(&'static str),
    /// The server configuration is unusable.
    #[error("invalid configuration: {0}")]
    Config(&'static str),
    /// The TPM (or the TSS stack talking to it) failed.
    #[error("TPM operation {operation} failed: {message}")]
    Tpm {
        /// The operation (`create EK`, `ActivateCredential`, ...).
        operation: &'static str,
        /// The TSS error text (response codes, no secrets).
        message: String,
    },
}
