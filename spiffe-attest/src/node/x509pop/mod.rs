//! `x509pop` node attestation: the agent proves possession of the private key of a
//! certificate that chains to CA certificates the server is configured with.
//!
//! The exchange, in SPIRE's wire format (see [`parse_payload`] and [`parse_response`]):
//!
//! 1. the agent sends its certificate chain, leaf first;
//! 2. the server validates it (RFC 5280 path to a configured CA; the leaf's keyUsage must
//!    include digitalSignature) and answers with a fresh 32-byte random nonce;
//! 3. the agent signs `SHA-256(server nonce ‖ agent nonce)` with the leaf's key (ECDSA P-256,
//!    ECDSA P-384 or RSA-PSS) and returns its own nonce with the signature;
//! 4. the server checks the signature with the leaf's public key.
//!
//! The agent ID is `spiffe://<td>/spire/agent` followed by the rendered
//! [`AgentPathTemplate`], by default `/x509pop/<SHA-1 fingerprint of the leaf>`. Node
//! selectors (type `x509pop`), as SPIRE gives them: `subject:cn:<CN>` (when the leaf has one),
//! `ca:fingerprint:<SHA-1>` for each CA certificate of the verified path,
//! `serialnumber:<hex>`, and `san:<key>:<value>` for each URI SAN
//! `x509pop://<td>/<key>/<value>` of the leaf. The agent may re-attest with the same
//! certificate.

mod agent;
mod proof;
mod server;
mod template;
mod wire;

pub use agent::X509PopAgent;
pub use server::X509PopServer;
pub use template::AgentPathTemplate;
pub use wire::{parse_payload, parse_response, MAX_CHAIN_LEN};

/// The plugin name, which is also the type of its selectors.
pub const PLUGIN_NAME: &str = "x509pop";

/// Why an x509pop attestation failed. Variants name what failed; none carries key material
/// or nonces.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum X509PopError {
    /// A message is larger than allowed.
    #[error("{what} is {len} bytes, the limit is {max}")]
    TooLarge {
        /// Which message.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A message is not the expected JSON shape.
    #[error("{what} is malformed")]
    MalformedMessage {
        /// Which message.
        what: &'static str,
    },
    /// The payload has no certificate.
    #[error("payload has no certificate")]
    NoCertificates,
    /// The payload has more certificates than allowed.
    #[error("payload has {len} certificates, the limit is {max}")]
    ChainTooLong {
        /// How many.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A certificate of the payload does not parse.
    #[error("certificate {index} of the payload is malformed")]
    MalformedCertificate {
        /// Index in the payload (0 is the leaf).
        index: usize,
    },
    /// The chain does not verify to a configured CA.
    #[error("certificate chain verification failed")]
    Untrusted(#[source] spiffe_core::x509::X509VerifyError),
    /// The leaf's keyUsage lacks digitalSignature (or the extension is absent, as SPIRE
    /// requires it).
    #[error("leaf certificate is not intended for digital signatures")]
    NotForSignatures,
    /// The leaf's key is neither ECDSA P-256/P-384 nor RSA.
    #[error("leaf certificate key type is not supported")]
    UnsupportedKey,
    /// A nonce is not 32 bytes.
    #[error("{what} nonce is not 32 bytes")]
    BadNonce {
        /// Which message.
        what: &'static str,
    },
    /// The signature fields are empty or oversized.
    #[error("challenge response signature is malformed")]
    BadSignatureEncoding,
    /// A response of the other key type (RSA for an ECDSA challenge or the reverse).
    #[error("challenge response is of the wrong kind for the key")]
    WrongProofKind,
    /// The signature does not verify: another key, or an answer to another challenge.
    #[error("challenge response signature verification failed")]
    BadSignature,
    /// A certificate fact cannot be used as a selector or agent ID (control characters,
    /// characters not allowed in a SPIFFE ID path, a template naming an absent CN).
    #[error("certificate {what} cannot be used in the {used_in}")]
    UnusableFact {
        /// Which fact.
        what: &'static str,
        /// Where.
        used_in: &'static str,
    },
    /// The agent path template is invalid.
    #[error("invalid agent path template")]
    BadTemplate,
    /// No CA certificate was configured, or one does not parse.
    #[error("CA certificates: none configured, or one is malformed")]
    BadCaCertificates,
    /// The agent's certificate or key PEM does not load.
    #[error("agent {what} does not load")]
    BadAgentFile {
        /// Which file content.
        what: &'static str,
    },
    /// The agent's private key does not load for the leaf's key type.
    #[error("agent private key does not load for the certificate's key type")]
    BadPrivateKey,
    /// The agent's private key does not belong to its certificate.
    #[error("agent private key does not match the certificate")]
    KeyMismatch,
    /// Signing failed.
    #[error("signing the challenge failed")]
    SigningFailed,
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Random,
}
