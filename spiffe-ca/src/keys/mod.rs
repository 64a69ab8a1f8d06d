//! Keys: the [`Signer`] handle the certificate and JWT builders sign with, and the
//! [`KeyManager`]s that create, keep and delete keys (memory, disk, PKCS#11).
//!
//! Signing is synchronous (microseconds in software; one blocking call into an HSM). Key
//! management is async: the built-in managers run their file I/O, PKCS#11 calls and key
//! generation on Tokio's blocking thread pool, so their futures must be awaited inside a Tokio
//! runtime.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use spiffe_core::{BoxError, BoxFuture};
use thiserror::Error;

mod blocking;
mod disk;
mod memory;
#[cfg(feature = "pkcs11")]
mod pkcs11;
mod software;

pub use disk::DiskKeyManager;
pub use memory::MemoryKeyManager;
#[cfg(feature = "pkcs11")]
pub use pkcs11::{PinSource, Pkcs11Config, Pkcs11KeyManager, Pkcs11Signer};
pub use software::SoftwareSigner;

/// The key types a CA can generate (SPIRE's `ec-p256`, `ec-p384`, `rsa-2048`, `rsa-4096`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyType {
    /// ECDSA on NIST P-256.
    EcP256,
    /// ECDSA on NIST P-384.
    EcP384,
    /// RSA with a 2048-bit modulus.
    Rsa2048,
    /// RSA with a 4096-bit modulus.
    Rsa4096,
}

// === impl KeyType ===

impl KeyType {
    /// Every key type.
    pub const ALL: [Self; 4] = [Self::EcP256, Self::EcP384, Self::Rsa2048, Self::Rsa4096];

    /// SPIRE's name: `ec-p256`, `ec-p384`, `rsa-2048` or `rsa-4096` (also the name in key
    /// files and the `spiffe ca` configuration).
    pub fn name(self) -> &'static str {
        match self {
            Self::EcP256 => "ec-p256",
            Self::EcP384 => "ec-p384",
            Self::Rsa2048 => "rsa-2048",
            Self::Rsa4096 => "rsa-4096",
        }
    }

    /// The key type of SPIRE's name `name` (case-sensitive), if there is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a signature is computed and encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SigningScheme {
    /// ECDSA P-256 with SHA-256, DER `Ecdsa-Sig-Value` (X.509, CSRs).
    EcdsaP256Sha256Asn1,
    /// ECDSA P-256 with SHA-256, fixed-width `r || s` (JWS ES256).
    EcdsaP256Sha256Fixed,
    /// ECDSA P-384 with SHA-384, DER (X.509).
    EcdsaP384Sha384Asn1,
    /// ECDSA P-384 with SHA-384, fixed-width (JWS ES384).
    EcdsaP384Sha384Fixed,
    /// RSA PKCS#1 v1.5 with SHA-256 (X.509 sha256WithRSAEncryption, JWS RS256).
    RsaPkcs1Sha256,
    /// RSA-PSS with SHA-256, MGF1-SHA-256, 32-byte salt (JWS PS256).
    RsaPssSha256,
}

/// A public key as a DER `SubjectPublicKeyInfo` (RFC 5280 §4.1.2.7).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PublicKey {
    key_type: KeyType,
    spki_der: Vec<u8>,
}

impl PublicKey {
    /// A public key of `key_type` from its `SubjectPublicKeyInfo` DER.
    pub fn new(key_type: KeyType, spki_der: Vec<u8>) -> Self {
        Self { key_type, spki_der }
    }

    /// The key type.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The `SubjectPublicKeyInfo` DER.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("key_type", &self.key_type)
            .field("spki_len", &self.spki_der.len())
            .finish()
    }
}

/// A private key that can sign, wherever it lives. Signing is synchronous: a software
/// signature costs microseconds, and an HSM call through PKCS#11 is a blocking library call.
/// `Debug` of an implementation must never print key material.
pub trait Signer: Send + Sync + fmt::Debug {
    /// The key's id in its key manager.
    fn id(&self) -> &str;

    /// The public key.
    fn public_key(&self) -> &PublicKey;

    /// Signs `message` (hashing it as `scheme` says). Fails with [`KeyError::UnsupportedScheme`]
    /// when the scheme does not fit the key type.
    fn sign(&self, scheme: SigningScheme, message: &[u8]) -> Result<Vec<u8>, KeyError>;
}

/// A key's id, type and public key, as listed by a [`KeyManager`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The id the key was generated under.
    pub id: String,
    /// The public key (and with it the key type).
    pub public_key: PublicKey,
}

/// Creates, finds, lists and deletes keys by id.
pub trait KeyManager: Send + Sync + fmt::Debug {
    /// Generates a key of `key_type` under `id`, replacing any key with that id.
    fn generate_key<'a>(
        &'a self,
        id: &'a str,
        key_type: KeyType,
    ) -> BoxFuture<'a, Result<Arc<dyn Signer>, KeyError>>;

    /// The key `id`, if there is one.
    fn get_key<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<dyn Signer>>, KeyError>>;

    /// Every key held.
    fn list_keys(&self) -> BoxFuture<'_, Result<Vec<KeyInfo>, KeyError>>;

    /// Deletes the key `id`; returns whether there was one.
    fn delete_key<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, KeyError>>;
}

/// Why a key operation failed. Never carries key material.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The signing scheme does not fit the key type.
    #[error("signing scheme {scheme:?} cannot be used with a {key_type:?} key")]
    UnsupportedScheme {
        /// The scheme asked for.
        scheme: SigningScheme,
        /// The key's type.
        key_type: KeyType,
    },
    /// Generating a key failed.
    #[error("generating a {key_type:?} key failed")]
    Generate {
        /// The key type asked for.
        key_type: KeyType,
    },
    /// Key material is malformed or not of the expected type.
    #[error("key material is malformed or not a {key_type:?} key")]
    MalformedKey {
        /// The key type expected.
        key_type: KeyType,
    },
    /// The signature operation failed.
    #[error("signing failed")]
    Sign,
    /// A key id is not allowed: ids are 1 to 128 characters from `[A-Za-z0-9._-]` and do not
    /// start with `.` (they name files and token objects).
    #[error("invalid key id: {reason}")]
    InvalidKeyId {
        /// Which rule the id breaks.
        reason: &'static str,
    },
    /// Reading or writing key storage failed.
    #[error("key storage: {operation} failed")]
    Io {
        /// What was being done (e.g. "write key file").
        operation: &'static str,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A stored key file cannot be used: it is truncated, not in the documented format, or
    /// names a different key. It is left in place for an operator to inspect.
    #[error("key file {path:?} is corrupt: {reason}")]
    CorruptKeyFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The key directory is accessible to other users (it must be mode 0700).
    #[error("key directory {path:?} has insecure mode {mode:o} (want 0700)")]
    InsecurePermissions {
        /// The directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The blocking task that ran the operation was cancelled (the Tokio runtime is shutting
    /// down); the operation may or may not have happened.
    #[error("key operation interrupted: its blocking task was cancelled")]
    Interrupted,
    /// The PIN could not be read from its file or environment variable.
    #[error("reading the PKCS#11 PIN failed")]
    PinUnavailable {
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The token rejected the PIN.
    #[error("the PKCS#11 token rejected the PIN")]
    PinIncorrect,
    /// No slot holds a token with this label.
    #[error("no PKCS#11 token labelled {label:?}")]
    TokenNotFound {
        /// The label looked for.
        label: String,
    },
    /// A PKCS#11 call failed.
    #[error("PKCS#11 {operation} failed")]
    Pkcs11 {
        /// What was being done (e.g. "C_GenerateKeyPair").
        operation: &'static str,
        /// The module's error.
        #[source]
        source: BoxError,
    },
}
