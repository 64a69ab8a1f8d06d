//! Plain JWK Sets (RFC 7517 §5) as JWT bundles, and reading a bundle file of any format.

use std::collections::HashMap;

use serde_json::Value;

use super::strict_json;
use super::{BundleError, SpiffeBundle};
use crate::{JwtAuthority, JwtBundle, TrustDomain, X509Bundle};

/// The format [`SpiffeBundle::parse_any`] recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BundleFormat {
    /// A SPIFFE bundle document (JWK Set with `use` members, BUNDLE-3).
    SpiffeBundle,
    /// A plain JWK Set without `use` members, as the Workload API sends JWT bundles (trap 6).
    Jwks,
    /// PEM or DER certificates.
    Certificates,
}

// === impl JwtBundle ===

impl JwtBundle {
    /// Reads a plain JWK Set, such as a JWT bundle from the Workload API (trap 6: no `use`
    /// and no `spiffe_*` members), keyed by `kid`.
    ///
    /// `keys` is required. A key is skipped when it has no `kid`, a `kty` other than `EC` or
    /// `RSA` (JWT-4), unusable key members, or a `use` other than `jwt-svid` or `sig` (so the
    /// x509-svid entries of a SPIFFE bundle are never taken as JWT keys). Two keys with one
    /// `kid` are an error (JWT-16).
    pub fn parse_jwks(trust_domain: TrustDomain, json: &[u8]) -> Result<Self, BundleError> {
        let checked = strict_json::parse(json)?;
        if checked.duplicate.is_some() {
            return Err(BundleError::DuplicateMember { in_key: None });
        }
        let Value::Object(document) = checked.value else {
            return Err(BundleError::NotAnObject);
        };
        let keys = match document.get("keys") {
            Some(Value::Array(keys)) => keys,
            Some(_) => return Err(BundleError::KeysNotAnArray),
            None => return Err(BundleError::MissingKeys),
        };
        let mut bundle = Self::new(trust_domain);
        let mut kids: HashMap<&str, usize> = HashMap::new();
        for (index, key) in keys.iter().enumerate() {
            let Value::Object(jwk) = key else {
                return Err(BundleError::KeyNotAnObject { index });
            };
            let use_ok = match jwk.get("use") {
                None => true,
                Some(Value::String(use_)) => use_ == "jwt-svid" || use_ == "sig",
                Some(_) => false,
            };
            let kty_ok = matches!(jwk.get("kty").and_then(Value::as_str), Some("EC" | "RSA"));
            let kid = match jwk.get("kid") {
                Some(Value::String(kid)) if !kid.is_empty() => kid.as_str(),
                _ => continue,
            };
            if !use_ok || !kty_ok {
                continue;
            }
            if let Some(&first_index) = kids.get(kid) {
                return Err(BundleError::DuplicateKid { index, first_index });
            }
            kids.insert(kid, index);
            let mut key = jwk.clone();
            key.remove("use");
            if let Ok(authority) = JwtAuthority::from_jwk(&key) {
                bundle.insert(authority);
            }
        }
        Ok(bundle)
    }
}

// === impl SpiffeBundle ===

impl SpiffeBundle {
    /// Reads a trust-bundle file of any common format: a SPIFFE bundle document, a plain JWK
    /// Set (its keys become JWT authorities), or PEM/DER certificates (X.509 authorities).
    ///
    /// JSON input (starting with `{`) whose keys carry no `use` member and that has no
    /// `spiffe_` members is a plain JWK Set; other JSON is a SPIFFE bundle.
    pub fn parse_any(
        trust_domain: TrustDomain,
        input: &[u8],
    ) -> Result<(Self, BundleFormat), BundleError> {
        if !input.trim_ascii_start().starts_with(b"{") {
            let x509 = X509Bundle::parse_pem(trust_domain.clone(), input)?;
            let bundle = Self::from_parts(x509, JwtBundle::new(trust_domain))?;
            return Ok((bundle, BundleFormat::Certificates));
        }
        let document: Value = serde_json::from_slice(input)?;
        let has_spiffe_members = document
            .as_object()
            .is_some_and(|d| d.keys().any(|k| k.starts_with("spiffe_")));
        let keys = document.get("keys").and_then(Value::as_array);
        let is_jwks = !has_spiffe_members
            && keys.is_some_and(|keys| {
                !keys.is_empty() && keys.iter().all(|k| k.get("use").is_none())
            });
        if is_jwks {
            let jwt = JwtBundle::parse_jwks(trust_domain.clone(), input)?;
            let bundle = Self::from_parts(X509Bundle::new(trust_domain), jwt)?;
            return Ok((bundle, BundleFormat::Jwks));
        }
        Ok((
            Self::parse(trust_domain, input)?,
            BundleFormat::SpiffeBundle,
        ))
    }
}
