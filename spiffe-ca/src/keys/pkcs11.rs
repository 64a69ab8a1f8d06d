//! Keys held in a PKCS#11 token (an HSM, or SoftHSM2 in tests), through the `cryptoki` crate.
//!
//! Private keys are generated on the token as sensitive, non-extractable token objects labelled
//! `<prefix><id>`, and never leave it. Hashing is done in software (aws-lc-rs) and the token
//! signs the digest with the bare mechanisms (`CKM_ECDSA`, `CKM_RSA_PKCS` over a `DigestInfo`,
//! `CKM_RSA_PKCS_PSS`), which every token has, rather than the hash-and-sign ones some lack.
//!
//! The module is loaded and `C_Initialize`d once per process per module path and never
//! finalised (other managers in the process may share it). Each manager keeps one logged-in
//! session open (PKCS#11 logins are per application and token, shared by all its sessions)
//! and a small pool of sessions for operations.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use aws_lc_rs::digest;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

use super::blocking::{blocking_key_manager, validate_id, BlockingKeyManager};
use super::{KeyError, KeyInfo, KeyType, PublicKey, Signer, SigningScheme};

mod der;
mod public_key;

use public_key::{curve_oid, public_key};

/// Sessions kept open for reuse beyond the logged-in one.
const MAX_POOLED_SESSIONS: usize = 8;

/// Where the token's user PIN comes from. Never a literal: a PIN on a command line or in a
/// config file ends up in process listings and backups.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PinSource {
    /// The first line of this file (a trailing newline is ignored).
    File(PathBuf),
    /// This environment variable.
    Env(String),
}

/// How to reach a PKCS#11 token.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Pkcs11Config {
    /// The PKCS#11 module (e.g. `/usr/lib/softhsm/libsofthsm2.so`).
    pub module: PathBuf,
    /// The token's label (slot numbers are not stable; labels are).
    pub token_label: String,
    /// The user PIN.
    pub pin: PinSource,
    /// Prepended to a key's id to form its `CKA_LABEL`, so several CAs can share a token.
    pub key_label_prefix: String,
}

/// A [`KeyManager`](super::KeyManager) over a PKCS#11 token. Its operations are blocking
/// library calls and run on Tokio's blocking thread pool, so its futures must be awaited inside
/// a Tokio runtime.
pub struct Pkcs11KeyManager {
    keys: Arc<Pkcs11Keys>,
}

/// The token and configuration of a [`Pkcs11KeyManager`], shared with its blocking tasks.
struct Pkcs11Keys {
    token: Arc<Token>,
    config: Pkcs11Config,
}

/// A key on a PKCS#11 token; signs through the token. `Send + Sync`: each signature borrows a
/// session from the manager's pool.
pub struct Pkcs11Signer {
    id: String,
    public_key: PublicKey,
    handle: ObjectHandle,
    token: Arc<Token>,
}

/// An initialised module, the token's slot, the logged-in session and the session pool.
struct Token {
    ctx: Pkcs11,
    slot: Slot,
    pool: Mutex<Vec<Session>>,
    /// Keeps the login alive: a token logs out when an application's last session closes.
    _login: Mutex<Session>,
}

// === impl Pkcs11Config ===

impl Pkcs11Config {
    /// A configuration with an empty key label prefix.
    pub fn new(module: impl Into<PathBuf>, token_label: impl Into<String>, pin: PinSource) -> Self {
        Self {
            module: module.into(),
            token_label: token_label.into(),
            pin,
            key_label_prefix: String::new(),
        }
    }

    /// Sets the prefix of the keys' `CKA_LABEL`s.
    pub fn with_key_label_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_label_prefix = prefix.into();
        self
    }
}

// === impl PinSource ===

impl PinSource {
    fn read(&self) -> Result<AuthPin, KeyError> {
        let unavailable = |source| KeyError::PinUnavailable { source };
        let pin = match self {
            Self::File(path) => fs::read_to_string(path).map_err(unavailable)?,
            Self::Env(var) => std::env::var(var).map_err(|_| {
                unavailable(io::Error::new(
                    io::ErrorKind::NotFound,
                    "PIN environment variable not set or not UTF-8",
                ))
            })?,
        };
        let pin = pin.lines().next().unwrap_or_default();
        if pin.is_empty() {
            return Err(unavailable(io::Error::new(
                io::ErrorKind::InvalidData,
                "empty PIN",
            )));
        }
        Ok(AuthPin::from(pin.to_owned()))
    }
}

// === impl Pkcs11KeyManager ===

impl Pkcs11KeyManager {
    /// Loads the module (once per process), finds the token by label and logs in.
    pub fn open(config: Pkcs11Config) -> Result<Self, KeyError> {
        let keys = Arc::new(Pkcs11Keys::open(config)?);
        Ok(Self { keys })
    }
}

blocking_key_manager!(Pkcs11KeyManager, keys);

impl fmt::Debug for Pkcs11KeyManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.keys, f)
    }
}

// === impl Pkcs11Keys ===

impl Pkcs11Keys {
    fn open(config: Pkcs11Config) -> Result<Self, KeyError> {
        let pin = config.pin.read()?;
        let ctx = context(&config.module)?;
        let slot = find_slot(&ctx, &config.token_label)?;
        let login = ctx.open_rw_session(slot).map_err(p11("C_OpenSession"))?;
        match login.login(UserType::User, Some(&pin)) {
            Ok(()) | Err(P11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(P11Error::Pkcs11(RvError::PinIncorrect | RvError::PinLenRange, _)) => {
                return Err(KeyError::PinIncorrect)
            }
            Err(e) => return Err(p11("C_Login")(e)),
        }
        let token = Arc::new(Token {
            ctx,
            slot,
            pool: Mutex::new(Vec::new()),
            _login: Mutex::new(login),
        });
        Ok(Self { token, config })
    }

    fn label(&self, id: &str) -> Vec<u8> {
        format!("{}{id}", self.config.key_label_prefix).into_bytes()
    }

    fn signer(&self, id: &str, handle: ObjectHandle) -> Result<Pkcs11Signer, KeyError> {
        let label = self.label(id);
        let public_key = self.token.with_session(|session| {
            let public = session
                .find_objects(&[
                    Attribute::Class(ObjectClass::PUBLIC_KEY),
                    Attribute::Token(true),
                    Attribute::Label(label),
                ])
                .map_err(p11("C_FindObjects"))?;
            let public = *public.first().ok_or(unsupported("public key missing"))?;
            public_key(session, public)
        })?;
        Ok(Pkcs11Signer {
            id: id.to_owned(),
            public_key,
            handle,
            token: self.token.clone(),
        })
    }

    fn find_private(&self, id: &str) -> Result<Option<ObjectHandle>, KeyError> {
        let label = self.label(id);
        self.token.with_session(|session| {
            let found = session
                .find_objects(&[
                    Attribute::Class(ObjectClass::PRIVATE_KEY),
                    Attribute::Token(true),
                    Attribute::Label(label),
                ])
                .map_err(p11("C_FindObjects"))?;
            Ok(found.first().copied())
        })
    }
}

impl BlockingKeyManager for Pkcs11Keys {
    fn generate(&self, id: &str, key_type: KeyType) -> Result<Arc<dyn Signer>, KeyError> {
        validate_id(id)?;
        let label = self.label(id);
        let common = [
            Attribute::Token(true),
            Attribute::Label(label.clone()),
            Attribute::Id(label.clone()),
        ];
        let (mechanism, mut public, mut private) = match key_type {
            KeyType::EcP256 | KeyType::EcP384 => (
                Mechanism::EccKeyPairGen,
                vec![
                    Attribute::EcParams(curve_oid(key_type).to_vec()),
                    Attribute::Verify(true),
                ],
                vec![],
            ),
            KeyType::Rsa2048 | KeyType::Rsa4096 => {
                let bits: u64 = if key_type == KeyType::Rsa2048 {
                    2048
                } else {
                    4096
                };
                (
                    Mechanism::RsaPkcsKeyPairGen,
                    vec![
                        Attribute::ModulusBits(bits.into()),
                        Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
                        Attribute::Verify(true),
                    ],
                    vec![],
                )
            }
        };
        public.extend_from_slice(&common);
        public.push(Attribute::Private(false));
        private.extend_from_slice(&common);
        private.extend([
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
        ]);

        let handle = self.token.with_session(|session| {
            // Replace any key under this id, once the new one exists.
            let old = session
                .find_objects(&[Attribute::Token(true), Attribute::Label(label.clone())])
                .map_err(p11("C_FindObjects"))?;
            let (_, private) = session
                .generate_key_pair(&mechanism, &public, &private)
                .map_err(|_| KeyError::Generate { key_type })?;
            for handle in old {
                session
                    .destroy_object(handle)
                    .map_err(p11("C_DestroyObject"))?;
            }
            Ok(private)
        })?;
        Ok(Arc::new(self.signer(id, handle)?))
    }

    /// The signer for the private key `handle`, reading its public half from the token.
    fn get(&self, id: &str) -> Result<Option<Arc<dyn Signer>>, KeyError> {
        validate_id(id)?;
        match self.find_private(id)? {
            Some(handle) => Ok(Some(Arc::new(self.signer(id, handle)?))),
            None => Ok(None),
        }
    }

    fn list(&self) -> Result<Vec<KeyInfo>, KeyError> {
        let prefix = self.config.key_label_prefix.as_bytes();
        let labelled = self.token.with_session(|session| {
            let handles = session
                .find_objects(&[
                    Attribute::Class(ObjectClass::PRIVATE_KEY),
                    Attribute::Token(true),
                ])
                .map_err(p11("C_FindObjects"))?;
            let mut out = Vec::new();
            for handle in handles {
                let attrs = session
                    .get_attributes(handle, &[AttributeType::Label])
                    .map_err(p11("C_GetAttributeValue"))?;
                if let Some(Attribute::Label(label)) = attrs.into_iter().next() {
                    out.push((label, handle));
                }
            }
            Ok(out)
        })?;
        let mut keys = Vec::new();
        for (label, handle) in labelled {
            // Keys of other prefixes, or not named by us, are not ours to list.
            let Some(id) = label.strip_prefix(prefix) else {
                continue;
            };
            let Ok(id) = std::str::from_utf8(id) else {
                continue;
            };
            if validate_id(id).is_err() {
                continue;
            }
            let signer = self.signer(id, handle)?;
            keys.push(KeyInfo {
                id: signer.id,
                public_key: signer.public_key,
            });
        }
        keys.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(keys)
    }

    fn delete(&self, id: &str) -> Result<bool, KeyError> {
        validate_id(id)?;
        let label = self.label(id);
        self.token.with_session(|session| {
            let found = session
                .find_objects(&[Attribute::Token(true), Attribute::Label(label)])
                .map_err(p11("C_FindObjects"))?;
            for &handle in &found {
                session
                    .destroy_object(handle)
                    .map_err(p11("C_DestroyObject"))?;
            }
            Ok(!found.is_empty())
        })
    }
}

impl fmt::Debug for Pkcs11Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11KeyManager")
            .field("module", &self.config.module)
            .field("token_label", &self.config.token_label)
            .field("key_label_prefix", &self.config.key_label_prefix)
            .finish_non_exhaustive()
    }
}

// === impl Pkcs11Signer ===

impl Signer for Pkcs11Signer {
    fn id(&self) -> &str {
        &self.id
    }

    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    fn sign(&self, scheme: SigningScheme, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        use SigningScheme as S;
        let key_type = self.public_key.key_type();
        let (mechanism, input, ec_len) = match (key_type, scheme) {
            (KeyType::EcP256, S::EcdsaP256Sha256Asn1 | S::EcdsaP256Sha256Fixed) => {
                let d = digest::digest(&digest::SHA256, message);
                (Mechanism::Ecdsa, d.as_ref().to_vec(), Some(64))
            }
            (KeyType::EcP384, S::EcdsaP384Sha384Asn1 | S::EcdsaP384Sha384Fixed) => {
                let d = digest::digest(&digest::SHA384, message);
                (Mechanism::Ecdsa, d.as_ref().to_vec(), Some(96))
            }
            (KeyType::Rsa2048 | KeyType::Rsa4096, S::RsaPkcs1Sha256) => {
                let d = digest::digest(&digest::SHA256, message);
                let info = [der::SHA256_DIGEST_INFO_PREFIX, d.as_ref()].concat();
                (Mechanism::RsaPkcs, info, None)
            }
            (KeyType::Rsa2048 | KeyType::Rsa4096, S::RsaPssSha256) => {
                let d = digest::digest(&digest::SHA256, message);
                let params = PkcsPssParams {
                    hash_alg: MechanismType::SHA256,
                    mgf: PkcsMgfType::MGF1_SHA256,
                    s_len: 32u64.into(),
                };
                (Mechanism::RsaPkcsPss(params), d.as_ref().to_vec(), None)
            }
            _ => return Err(KeyError::UnsupportedScheme { scheme, key_type }),
        };
        let signature = self.token.with_session(|session| {
            session
                .sign(&mechanism, self.handle, &input)
                .map_err(|_| KeyError::Sign)
        })?;
        match ec_len {
            Some(len) if signature.len() != len => Err(KeyError::Sign),
            Some(_) if matches!(scheme, S::EcdsaP256Sha256Asn1 | S::EcdsaP384Sha384Asn1) => {
                Ok(der::ecdsa_sig_der(&signature))
            }
            _ => Ok(signature),
        }
    }
}

impl fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Signer")
            .field("id", &self.id)
            .field("key_type", &self.public_key.key_type())
            .finish_non_exhaustive()
    }
}

// === impl Token ===

impl Token {
    /// Runs `f` on a pooled session (opening one if none is free).
    fn with_session<R>(
        &self,
        f: impl FnOnce(&Session) -> Result<R, KeyError>,
    ) -> Result<R, KeyError> {
        let pooled = self
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let session = match pooled {
            Some(session) => session,
            None => self
                .ctx
                .open_rw_session(self.slot)
                .map_err(p11("C_OpenSession"))?,
        };
        let result = f(&session);
        // A session whose operation failed may be in a bad state: close it rather than reuse it.
        if result.is_ok() {
            let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
            if pool.len() < MAX_POOLED_SESSIONS {
                pool.push(session);
            }
        }
        result
    }
}

/// The process-wide context for `module`, initialised on first use.
fn context(module: &std::path::Path) -> Result<Pkcs11, KeyError> {
    static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut contexts = CONTEXTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(ctx) = contexts.get(module) {
        return Ok(ctx.clone());
    }
    let ctx = Pkcs11::new(module).map_err(p11("loading the module"))?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(P11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(p11("C_Initialize")(e)),
    }
    contexts.insert(module.to_owned(), ctx.clone());
    Ok(ctx)
}

fn find_slot(ctx: &Pkcs11, label: &str) -> Result<Slot, KeyError> {
    for slot in ctx.get_slots_with_token().map_err(p11("C_GetSlotList"))? {
        let info = ctx.get_token_info(slot).map_err(p11("C_GetTokenInfo"))?;
        if info.label().trim_end() == label {
            return Ok(slot);
        }
    }
    Err(KeyError::TokenNotFound {
        label: label.to_owned(),
    })
}

pub(super) fn p11(operation: &'static str) -> impl Fn(P11Error) -> KeyError {
    move |e| KeyError::Pkcs11 {
        operation,
        source: Box::new(e),
    }
}

pub(super) fn unsupported(what: &'static str) -> KeyError {
    KeyError::Pkcs11 {
        operation: "reading a key",
        source: what.into(),
    }
}
