//! Reading a bundle file of any format: SPIFFE bundle JSON, a plain JWK Set (RFC 7517 §5,
//! read by [`JwtBundle::parse_jwks`]), or certificates.

use serde_json::Value;

use super::{BundleError, SpiffeBundle};
use crate::{JwtBundle, TrustDomain, X509Bundle};

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
        let document: Value = serde_json::from_slice(input).map_err(BundleError::json)?;
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
