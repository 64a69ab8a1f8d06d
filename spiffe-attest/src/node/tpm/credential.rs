//! `TPM2_MakeCredential` in software (TPM 2.0 Part 1 §24 "Credential Protection", Part 3
//! §12.6): wraps a secret so that only the TPM holding a given endorsement key, with the named
//! attestation key loaded, can recover it through `TPM2_ActivateCredential`.
//!
//! - a random seed is RSA-OAEP-encrypted (SHA-256, label `IDENTITY\0`) to the EK;
//! - `KDFa(seed, "STORAGE", name(AK))` gives an AES-128 key; the secret, as a `TPM2B_DIGEST`,
//!   is encrypted with it in CFB mode with a zero IV;
//! - `KDFa(seed, "INTEGRITY")` gives an HMAC-SHA256 key over `encIdentity || name(AK)`.

use aws_lc_rs::cipher::{EncryptingKey, EncryptionContext, UnboundCipherKey, AES_128};
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::rsa::{OaepPublicEncryptingKey, PublicEncryptingKey, OAEP_SHA256_MGF1SHA256};
use aws_lc_rs::{hmac, rand};

use super::structures::RsaPublic;
use super::TpmError;

/// The OAEP label of credential protection, with its terminating NUL (Part 1 §24.4).
const IDENTITY_LABEL: &[u8] = b"IDENTITY\0";
/// SHA-256's output size: the seed size and the HMAC size.
const DIGEST_LEN: usize = 32;

/// The two halves of a credential, as `TPM2_ActivateCredential` takes them.
#[derive(Debug, Clone)]
pub(crate) struct Credential {
    /// The contents of a `TPM2B_ID_OBJECT`: `TPM2B_DIGEST integrityHMAC || encIdentity`.
    pub(crate) id_object: Vec<u8>,
    /// The contents of a `TPM2B_ENCRYPTED_SECRET`: the OAEP-encrypted seed.
    pub(crate) encrypted_secret: Vec<u8>,
}

/// Wraps `secret` (at most 32 bytes) for the TPM with endorsement key `ek` and an object
/// named `ak_name` (a SHA-256 name). The EK must use SHA-256 as its name algorithm and
/// AES-128-CFB as its symmetric algorithm (the server checks this before calling).
pub(crate) fn make_credential(
    ek: &RsaPublic,
    ak_name: &[u8],
    secret: &[u8],
) -> Result<Credential, TpmError> {
    if secret.len() > DIGEST_LEN {
        return Err(TpmError::Crypto("credential secret too long"));
    }
    let mut seed = [0u8; DIGEST_LEN];
    rand::fill(&mut seed).map_err(|_| TpmError::Crypto("random seed"))?;
    let encrypted_secret = oaep_encrypt(ek, &seed)?;

    let sym_key = kdfa(&seed, b"STORAGE", ak_name, &[], 128);
    let mut enc_identity = Vec::with_capacity(2 + secret.len());
    enc_identity.extend_from_slice(&(secret.len() as u16).to_be_bytes());
    enc_identity.extend_from_slice(secret);
    let key = UnboundCipherKey::new(&AES_128, &sym_key)
        .and_then(EncryptingKey::cfb128)
        .map_err(|_| TpmError::Crypto("AES key"))?;
    key.less_safe_encrypt(
        &mut enc_identity,
        EncryptionContext::Iv128(FixedLength::from([0u8; 16])),
    )
    .map_err(|_| TpmError::Crypto("AES-CFB"))?;

    let hmac_key = kdfa(&seed, b"INTEGRITY", &[], &[], DIGEST_LEN as u32 * 8);
    let mut ctx = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, &hmac_key));
    ctx.update(&enc_identity);
    ctx.update(ak_name);
    let integrity = ctx.sign();

    let mut id_object = Vec::with_capacity(2 + DIGEST_LEN + enc_identity.len());
    id_object.extend_from_slice(&(DIGEST_LEN as u16).to_be_bytes());
    id_object.extend_from_slice(integrity.as_ref());
    id_object.extend_from_slice(&enc_identity);
    Ok(Credential {
        id_object,
        encrypted_secret,
    })
}

fn oaep_encrypt(ek: &RsaPublic, seed: &[u8]) -> Result<Vec<u8>, TpmError> {
    let key = PublicEncryptingKey::from_der(&ek.spki_der())
        .and_then(|k| OaepPublicEncryptingKey::new(k).map_err(Into::into))
        .map_err(|_| TpmError::KeyRejected {
            key: "endorsement key",
            reason: "not a usable RSA encryption key",
        })?;
    let mut out = vec![0u8; key.ciphertext_size()];
    let len = key
        .encrypt(
            &OAEP_SHA256_MGF1SHA256,
            seed,
            &mut out,
            Some(IDENTITY_LABEL),
        )
        .map_err(|_| TpmError::Crypto("RSA-OAEP"))?
        .len();
    out.truncate(len);
    Ok(out)
}

/// `KDFa` with HMAC-SHA256 (Part 1 §11.4.10.2): counter mode, the label NUL-terminated, the
/// output size in bits as the last input of every block.
pub(crate) fn kdfa(
    key: &[u8],
    label: &[u8],
    context_u: &[u8],
    context_v: &[u8],
    bits: u32,
) -> Vec<u8> {
    let bytes = (bits as usize).div_ceil(8);
    let hkey = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut out = Vec::with_capacity(bytes + DIGEST_LEN);
    let mut counter: u32 = 1;
    while out.len() < bytes {
        let mut ctx = hmac::Context::with_key(&hkey);
        ctx.update(&counter.to_be_bytes());
        ctx.update(label);
        ctx.update(&[0]);
        ctx.update(context_u);
        ctx.update(context_v);
        ctx.update(&bits.to_be_bytes());
        out.extend_from_slice(ctx.sign().as_ref());
        counter += 1;
    }
    out.truncate(bytes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kdfa_sizes_and_determinism() {
        let a = kdfa(b"seed", b"STORAGE", b"name", &[], 128);
        assert_eq!(a.len(), 16);
        assert_eq!(a, kdfa(b"seed", b"STORAGE", b"name", &[], 128));
        assert_ne!(a, kdfa(b"seed", b"STORAGE", b"other", &[], 128));
        // The size is an input: the 128-bit output is not a prefix of the 256-bit one.
        let b = kdfa(b"seed", b"STORAGE", b"name", &[], 256);
        assert_eq!(b.len(), 32);
        assert_ne!(&b[..16], &a[..]);
        assert_eq!(kdfa(b"k", b"L", &[], &[], 520).len(), 65);
    }
}
