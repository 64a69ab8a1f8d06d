//! The entries of a SPIFFE bundle's `keys`, one JWK at a time (BUNDLE-8..13, X509-27..31,
//! JWT-16/17).
//!
//! Each JWK is looked at as a `serde_json` object, never through a strict JOSE type, so one
//! JWK this profile cannot use is ignored instead of failing the document (trap 8). Members we
//! do not interpret are kept per authority so that writing the bundle back loses nothing.

use std::collections::{BTreeMap, HashMap};

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use rustls_pki_types::CertificateDer;
use serde_json::{Map, Value};

use super::spki::jwk_key_members;
use super::{BundleError, KeyDiagnostic, KeyIssue};
use crate::{Certificate, JwtAuthority, JwtBundle, TrustDomain, X509Bundle};

pub(super) const USE_X509_SVID: &str = "x509-svid";
pub(super) const USE_JWT_SVID: &str = "jwt-svid";

/// `x5c` is standard base64 (RFC 7517 §4.7); padding is not what X509-28 is about, so both
/// padded and unpadded input are read. base64url's `-` and `_` are rejected.
const X5C_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Extra JWK members of the authorities, keyed by certificate DER and by `kid`.
pub(super) type X509Members = BTreeMap<Vec<u8>, Map<String, Value>>;
pub(super) type JwtMembers = BTreeMap<String, Map<String, Value>>;

/// What the entries of `keys` amount to.
pub(super) struct Keys {
    pub(super) x509: X509Bundle,
    pub(super) jwt: JwtBundle,
    pub(super) x509_members: X509Members,
    pub(super) jwt_members: JwtMembers,
    pub(super) other_keys: Vec<Map<String, Value>>,
    pub(super) diagnostics: Vec<KeyDiagnostic>,
}

/// Reads every entry of `keys`.
pub(super) fn read_keys(trust_domain: &TrustDomain, keys: &[Value]) -> Result<Keys, BundleError> {
    let mut out = Keys {
        x509: X509Bundle::new(trust_domain.clone()),
        jwt: JwtBundle::new(trust_domain.clone()),
        x509_members: BTreeMap::new(),
        jwt_members: BTreeMap::new(),
        other_keys: Vec::new(),
        diagnostics: Vec::new(),
    };
    let mut kids: HashMap<&str, usize> = HashMap::new();
    for (index, key) in keys.iter().enumerate() {
        let Value::Object(jwk) = key else {
            return Err(BundleError::KeyNotAnObject { index });
        };
        let mut note = |issue| out.diagnostics.push(KeyDiagnostic { index, issue });

        // BUNDLE-13: `use` must be set; matching is case-sensitive; unknown means ignore.
        let use_ = match jwk.get("use") {
            Some(Value::String(use_)) => use_.as_str(),
            _ => {
                note(KeyIssue::MissingUse);
                continue;
            }
        };
        if use_ != USE_X509_SVID && use_ != USE_JWT_SVID {
            // BUNDLE-8: someone else's key (e.g. `wit-svid`); ignored, kept for writing back.
            note(KeyIssue::UnknownUse);
            out.other_keys.push(jwk.clone());
            continue;
        }

        // BUNDLE-12: `kty` must be set; a type this profile cannot use means ignore the JWK.
        let kty = match jwk.get("kty") {
            Some(Value::String(kty)) => kty.as_str(),
            _ => {
                note(KeyIssue::MissingKty);
                continue;
            }
        };
        let kty_known = match use_ {
            USE_X509_SVID => matches!(kty, "EC" | "RSA" | "OKP"),
            // JWT-4: only RSA and EC algorithms are allowed, so only those keys can verify.
            _ => matches!(kty, "EC" | "RSA"),
        };
        if !kty_known {
            note(KeyIssue::UnknownKty);
            continue;
        }

        if use_ == USE_X509_SVID {
            read_x509_entry(jwk, &mut out, index);
            continue;
        }

        // JWT-16: a jwt-svid key must carry a `kid`; without one no token can select it.
        let kid = match jwk.get("kid") {
            Some(Value::String(kid)) if !kid.is_empty() => kid.as_str(),
            _ => {
                note(KeyIssue::MissingKid);
                continue;
            }
        };
        // JWT-16 (vector #110): two keys under one `kid` make the lookup ambiguous.
        if let Some(&first_index) = kids.get(kid) {
            return Err(BundleError::DuplicateKid { index, first_index });
        }
        kids.insert(kid, index);
        // `use` is consumed here; the authority is the key alone.
        let mut key = jwk.clone();
        key.remove("use");
        let Ok(authority) = JwtAuthority::from_jwk_map(&key) else {
            note(KeyIssue::InvalidJwtKey);
            continue;
        };
        let members = extra_members(jwk, authority.jwk().as_map(), &["use", "kid"]);
        if !members.is_empty() {
            out.jwt_members.insert(authority.kid().to_owned(), members);
        }
        out.jwt.insert(authority);
    }
    Ok(out)
}

/// An x509-svid entry (X509-27..31).
fn read_x509_entry(jwk: &Map<String, Value>, out: &mut Keys, index: usize) {
    let mut note = |issue| out.diagnostics.push(KeyDiagnostic { index, issue });
    // X509-27: `kid` must not be set; a consumer ignores it.
    if jwk.contains_key("kid") {
        note(KeyIssue::KidOnX509Ignored);
    }
    // X509-29: missing or empty `x5c` means ignore the entry.
    let x5c = match jwk.get("x5c") {
        None => return note(KeyIssue::MissingX5c),
        Some(Value::Array(x5c)) if x5c.is_empty() => return note(KeyIssue::EmptyX5c),
        Some(Value::Array(x5c)) => x5c,
        Some(_) => return note(KeyIssue::MalformedX5c),
    };
    // X509-30: only the first element counts.
    let Value::String(first) = &x5c[0] else {
        return note(KeyIssue::MalformedX5c);
    };
    // X509-28: standard base64; a base64url entry is rejected (and so ignored, vector #69).
    let Ok(der) = X5C_BASE64.decode(first) else {
        return note(KeyIssue::X5cNotStandardBase64);
    };
    if x5c.len() > 1 {
        note(KeyIssue::ExtraX5cIgnored);
    }
    let Ok(certificate) = Certificate::from_der(CertificateDer::from(der)) else {
        return note(KeyIssue::X5cNotACertificate);
    };
    let der = certificate.der().to_vec();
    let members = extra_members(
        jwk,
        &jwk_key_members(&certificate).unwrap_or_default(),
        &["use", "kid", "x5c"],
    );
    // X509-31: the authorities are the union of the entries.
    if out.x509.add_authority(certificate) {
        if !members.is_empty() {
            out.x509_members.insert(der, members);
        }
    } else {
        note(KeyIssue::DuplicateAuthority);
    }
}

/// The members of `jwk` that are neither in `derived` (written back from the parsed key) nor
/// among `handled` (written back by us).
fn extra_members(
    jwk: &Map<String, Value>,
    derived: &Map<String, Value>,
    handled: &[&str],
) -> Map<String, Value> {
    jwk.iter()
        .filter(|(name, _)| !derived.contains_key(*name) && !handled.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// Whether the key of `authority` has JWK members (a `kty`) to write.
pub(super) fn has_key_members(authority: &Certificate) -> bool {
    jwk_key_members(authority).is_some()
}

/// The JWK of an X.509 authority: `use`, the key members derived from the certificate, one
/// `x5c` certificate in standard base64 (X509-27/28), and any members kept from parsing.
pub(super) fn x509_jwk(authority: &Certificate, members: &X509Members) -> Value {
    let der = authority.der();
    let mut jwk = jwk_key_members(authority).unwrap_or_default();
    jwk.insert("use".into(), USE_X509_SVID.into());
    jwk.insert(
        "x5c".into(),
        Value::Array(vec![STANDARD.encode(der).into()]),
    );
    if let Some(extra) = members.get(der.as_ref()) {
        for (name, value) in extra {
            jwk.entry(name.clone()).or_insert_with(|| value.clone());
        }
    }
    Value::Object(jwk)
}

/// The JWK of a JWT authority: the key's own members, `use` and `kid` (JWT-16), and any
/// members kept from parsing.
pub(super) fn jwt_jwk(authority: &JwtAuthority, members: &JwtMembers) -> Value {
    let mut jwk = authority.to_jwk().into_map();
    jwk.insert("use".into(), USE_JWT_SVID.into());
    jwk.insert("kid".into(), authority.kid().into());
    if let Some(extra) = members.get(authority.kid()) {
        for (name, value) in extra {
            jwk.entry(name.clone()).or_insert_with(|| value.clone());
        }
    }
    Value::Object(jwk)
}
