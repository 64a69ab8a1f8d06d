//! Reading a trust-bundle file of any format in one pass: a SPIFFE bundle document, a plain JWK
//! Set, PEM or DER certificates, or a Bundle Map. The format is recognised once
//! ([`BundleFormat`]) and the input parsed once, with the diagnostics of the SPIFFE bundle
//! reader.

use std::time::Duration;

use serde_json::Value;

use super::strict_json;
use super::{BundleError, BundleMap, KeyDiagnostic, SpiffeBundle};
use crate::{Certificate, JwtAuthority, JwtBundle, TrustDomain, X509Bundle};

/// The format of a trust-bundle file, as [`BundleFile::parse`] recognised it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BundleFormat {
    /// A SPIFFE bundle document: a JWK Set whose keys carry `use` members (BUNDLE-3).
    SpiffeBundle,
    /// A plain JWK Set without `use` members, as the Workload API sends JWT bundles (trap 6).
    Jwks,
    /// PEM `CERTIFICATE` blocks.
    Pem,
    /// One or more concatenated DER certificates.
    Der,
    /// A Bundle Map, `{"trust_domains": {...}}` (BUNDLE-14).
    BundleMap,
}

/// A trust-bundle file of any format, parsed once ([`BundleFile::parse`]).
///
/// A bundle does not name its own trust domain (BUNDLE-1). A single bundle's trust domain is
/// the one the caller gives or, without one, the trust domain every X.509 authority names in
/// its SPIFFE ID; when neither is known the bundle can still be inspected (authorities,
/// sequence, diagnostics) but not taken as a [`SpiffeBundle`].
///
/// ```
/// use spiffe_core::bundle::{BundleFile, BundleFormat};
///
/// let file = BundleFile::parse(br#"{"keys": [], "spiffe_sequence": 2}"#, None)?;
/// assert_eq!(file.format(), BundleFormat::SpiffeBundle);
/// assert_eq!(file.trust_domain(), None); // nothing names it
/// assert_eq!(file.sequence(), Some(2));
///
/// let td = spiffe_core::TrustDomain::new("example.org")?;
/// let bundle = BundleFile::parse(br#"{"keys": []}"#, Some(&td))?.into_bundle()?;
/// assert_eq!(bundle.trust_domain(), &td);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleFile {
    format: BundleFormat,
    contents: Contents,
    diagnostics: Vec<KeyDiagnostic>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Contents {
    /// One bundle; `named` is false when its trust domain is unknown, and then the bundle's
    /// label is [`UNNAMED`], which never leaves this module.
    Bundle {
        bundle: SpiffeBundle,
        named: bool,
    },
    Map(BundleMap),
}

/// The label of a bundle whose trust domain is unknown while it is read (`.invalid` is a
/// reserved name, RFC 2606); [`BundleFile`] never hands such a bundle out.
const UNNAMED: &str = "unnamed.invalid";

// === impl BundleFile ===

impl BundleFile {
    /// Recognises the format of `input` and parses it once.
    ///
    /// JSON input (starting with `{`) with `trust_domains` and no `keys` is a Bundle Map; one
    /// whose `keys` all lack `use` and that has no `spiffe_` members is a plain JWK Set; other
    /// JSON is a SPIFFE bundle document. Input starting with `-----BEGIN` is PEM; anything else
    /// is read as DER certificates.
    ///
    /// `trust_domain` labels a single bundle; it is ignored for a Bundle Map, which names its
    /// trust domains.
    pub fn parse(input: &[u8], trust_domain: Option<&TrustDomain>) -> Result<Self, BundleError> {
        let trimmed = input.trim_ascii_start();
        if !trimmed.starts_with(b"{") {
            let format = match trimmed.starts_with(b"-----BEGIN") {
                true => BundleFormat::Pem,
                false => BundleFormat::Der,
            };
            let x509 = X509Bundle::parse_pem(unnamed(), input)?;
            let bundle = SpiffeBundle::from_parts(x509, JwtBundle::new(unnamed()))?;
            return Ok(Self::single(format, bundle, Vec::new(), trust_domain));
        }
        let checked = strict_json::parse(input).map_err(BundleError::json)?;
        match detect_json(&checked.value) {
            BundleFormat::BundleMap => Ok(Self {
                format: BundleFormat::BundleMap,
                contents: Contents::Map(BundleMap::from_checked(checked)?),
                diagnostics: Vec::new(),
            }),
            BundleFormat::Jwks => {
                let jwt = JwtBundle::from_jwks_value(unnamed(), checked.value)?;
                let bundle = SpiffeBundle::from_parts(X509Bundle::new(unnamed()), jwt)?;
                Ok(Self::single(
                    BundleFormat::Jwks,
                    bundle,
                    Vec::new(),
                    trust_domain,
                ))
            }
            format => {
                let (bundle, diagnostics) = SpiffeBundle::from_checked(unnamed(), checked)?;
                Ok(Self::single(format, bundle, diagnostics, trust_domain))
            }
        }
    }

    /// A single bundle, labelled with `given` or the trust domain its authorities name.
    fn single(
        format: BundleFormat,
        mut bundle: SpiffeBundle,
        diagnostics: Vec<KeyDiagnostic>,
        given: Option<&TrustDomain>,
    ) -> Self {
        let trust_domain = given.cloned().or_else(|| named_by_authorities(&bundle));
        let named = trust_domain.is_some();
        if let Some(trust_domain) = trust_domain {
            bundle.relabel(trust_domain);
        }
        Self {
            format,
            contents: Contents::Bundle { bundle, named },
            diagnostics,
        }
    }

    /// The format the input was recognised as.
    pub fn format(&self) -> BundleFormat {
        self.format
    }

    /// What the SPIFFE bundle reader noticed about entries of `keys` (empty for other formats).
    pub fn diagnostics(&self) -> &[KeyDiagnostic] {
        &self.diagnostics
    }

    /// A single bundle's trust domain: the one given to [`parse`](Self::parse), or the one its
    /// X.509 authorities all name; `None` when unknown, and for a Bundle Map.
    pub fn trust_domain(&self) -> Option<&TrustDomain> {
        match &self.contents {
            Contents::Bundle {
                bundle,
                named: true,
            } => Some(bundle.trust_domain()),
            _ => None,
        }
    }

    /// The single bundle, when its trust domain is known.
    pub fn bundle(&self) -> Option<&SpiffeBundle> {
        match &self.contents {
            Contents::Bundle {
                bundle,
                named: true,
            } => Some(bundle),
            _ => None,
        }
    }

    /// The single bundle; fails for a Bundle Map ([`BundleError::UnexpectedBundleMap`]) and
    /// when its trust domain is unknown ([`BundleError::UnknownTrustDomain`]).
    pub fn into_bundle(self) -> Result<SpiffeBundle, BundleError> {
        match self.contents {
            Contents::Bundle {
                bundle,
                named: true,
            } => Ok(bundle),
            Contents::Bundle { named: false, .. } => Err(BundleError::UnknownTrustDomain),
            Contents::Map(_) => Err(BundleError::UnexpectedBundleMap),
        }
    }

    /// The Bundle Map, if the input was one.
    pub fn map(&self) -> Option<&BundleMap> {
        match &self.contents {
            Contents::Map(map) => Some(map),
            Contents::Bundle { .. } => None,
        }
    }

    /// A single bundle's X.509 authorities, whether or not its trust domain is known (empty
    /// for a Bundle Map).
    pub fn x509_authorities(&self) -> &[Certificate] {
        match &self.contents {
            Contents::Bundle { bundle, .. } => bundle.x509_authorities().authorities(),
            Contents::Map(_) => &[],
        }
    }

    /// A single bundle's JWT authorities, whether or not its trust domain is known (none for a
    /// Bundle Map).
    pub fn jwt_authorities(&self) -> impl Iterator<Item = &JwtAuthority> + '_ {
        let bundle = match &self.contents {
            Contents::Bundle { bundle, .. } => Some(bundle.jwt_authorities().authorities()),
            Contents::Map(_) => None,
        };
        bundle.into_iter().flatten()
    }

    /// A single bundle's `spiffe_sequence` (BUNDLE-5), if present.
    pub fn sequence(&self) -> Option<u64> {
        match &self.contents {
            Contents::Bundle { bundle, .. } => bundle.sequence(),
            Contents::Map(_) => None,
        }
    }

    /// A single bundle's `spiffe_refresh_hint` (BUNDLE-6), if present.
    pub fn refresh_hint(&self) -> Option<Duration> {
        match &self.contents {
            Contents::Bundle { bundle, .. } => bundle.refresh_hint(),
            Contents::Map(_) => None,
        }
    }
}

// === impl SpiffeBundle ===

impl SpiffeBundle {
    /// Reads a trust-bundle file of any single-bundle format as the bundle of `trust_domain`:
    /// a SPIFFE bundle document, a plain JWK Set (its keys become JWT authorities), or PEM/DER
    /// certificates (X.509 authorities). See [`BundleFile::parse`] for how the format is told;
    /// a Bundle Map is refused ([`BundleError::UnexpectedBundleMap`]).
    pub fn parse_any(
        trust_domain: TrustDomain,
        input: &[u8],
    ) -> Result<(Self, BundleFormat), BundleError> {
        let file = BundleFile::parse(input, Some(&trust_domain))?;
        let format = file.format();
        Ok((file.into_bundle()?, format))
    }
}

/// The format of a JSON document (see [`BundleFile::parse`]).
fn detect_json(document: &Value) -> BundleFormat {
    let Some(members) = document.as_object() else {
        return BundleFormat::SpiffeBundle; // its reader reports BUNDLE-3
    };
    if members.contains_key("trust_domains") && !members.contains_key("keys") {
        return BundleFormat::BundleMap;
    }
    let has_spiffe_members = members.keys().any(|k| k.starts_with("spiffe_"));
    let plain_keys = members
        .get("keys")
        .and_then(Value::as_array)
        .is_some_and(|keys| !keys.is_empty() && keys.iter().all(|k| k.get("use").is_none()));
    match !has_spiffe_members && plain_keys {
        true => BundleFormat::Jwks,
        false => BundleFormat::SpiffeBundle,
    }
}

/// The trust domain every X.509 authority names in its SPIFFE ID, if there is at least one
/// authority and they agree.
fn named_by_authorities(bundle: &SpiffeBundle) -> Option<TrustDomain> {
    let mut found: Option<TrustDomain> = None;
    for authority in bundle.x509_authorities().authorities() {
        let td = authority.spiffe_id().ok().flatten()?.trust_domain();
        match &found {
            None => found = Some(td),
            Some(seen) if *seen == td => {}
            Some(_) => return None,
        }
    }
    found
}

fn unnamed() -> TrustDomain {
    TrustDomain::new(UNNAMED).expect("UNNAMED is a valid trust-domain name")
}
