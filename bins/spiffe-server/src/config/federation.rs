//! `server { federation { bundle_endpoint { … } federates_with "<td>" { … } } }`, decoded with
//! SPIRE's keys, defaults and checks (`doc/spire_server.md`, "Federation configuration").
//!
//! The runtime serves it ([`crate::federation`]); only the ACME bundle endpoint profile is
//! decoded and then refused by `run` and `validate` as not supported, naming its line.

use std::time::Duration;

use spiffe_core::{SpiffeId, TrustDomain};
use spire_config::{ConfigError, Decoder, Pos, Section};

/// The `federation` block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct FederationConfig {
    /// Where the block is.
    pub pos: Pos,
    /// `bundle_endpoint`: serve this trust domain's bundle.
    pub bundle_endpoint: Option<BundleEndpointConfig>,
    /// `federates_with "<td>" { … }`: trust domains whose bundles to fetch.
    pub federates_with: Vec<FederatesWith>,
}

/// `bundle_endpoint { address port refresh_hint profile … }`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BundleEndpointConfig {
    /// `address` (default `0.0.0.0`).
    pub address: String,
    /// `port` (default 443).
    pub port: u16,
    /// `refresh_hint` (default 5 min).
    pub refresh_hint: Duration,
    /// `profile "https_spiffe" {}` (the default) or `profile "https_web" { … }`.
    pub profile: ServingProfile,
}

/// How the bundle endpoint authenticates itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServingProfile {
    /// `https_spiffe`: with the server's X.509-SVID.
    HttpsSpiffe,
    /// `https_web { acme { … } }`.
    Acme {
        /// `directory_url` (default Let's Encrypt).
        directory_url: String,
        /// `domain_name`.
        domain_name: String,
        /// `email`.
        email: String,
        /// `tos_accepted`.
        tos_accepted: bool,
    },
    /// `https_web { serving_cert_file { … } }`.
    ServingCertFile {
        /// `cert_file_path`.
        cert_file_path: String,
        /// `key_file_path`.
        key_file_path: String,
        /// `file_sync_interval` (default 1 h).
        file_sync_interval: Duration,
    },
}

/// `federates_with "<td>" { bundle_endpoint_url bundle_endpoint_profile "…" { … } }`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FederatesWith {
    /// The trust domain.
    pub trust_domain: TrustDomain,
    /// `bundle_endpoint_url` (HTTPS).
    pub url: String,
    /// `https_web`: `None`; `https_spiffe { endpoint_spiffe_id }`: the endpoint's ID.
    pub endpoint_spiffe_id: Option<SpiffeId>,
}

const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// Decodes the `federation` block.
pub(crate) fn decode(section: &Section) -> Result<FederationConfig, ConfigError> {
    let pos = section.pos();
    section.decode(|d| {
        let bundle_endpoint = d.optional_block_with("bundle_endpoint", bundle_endpoint)?;
        let mut federates_with = Vec::new();
        for (key, section) in d.named_sections("federates_with")? {
            let invalid = |reason: String| ConfigError::InvalidValue {
                key: key.name.clone(),
                section: spire_config::SectionPath("server.federation.federates_with".into()),
                pos: key.pos,
                reason,
            };
            let trust_domain = TrustDomain::new(&key.name)
                .map_err(|e| invalid(format!("not a trust domain: {e}")))?;
            federates_with.push(section.decode(|f| {
                let url = f
                    .optional_str("bundle_endpoint_url")?
                    .filter(|u| !u.is_empty())
                    .ok_or_else(|| f.missing("bundle_endpoint_url"))?;
                if !url.to_ascii_lowercase().starts_with("https://") {
                    return Err(f.invalid("bundle_endpoint_url", "must use the HTTPS protocol"));
                }
                let profiles = f.named_sections("bundle_endpoint_profile")?;
                let endpoint_spiffe_id = match profiles.as_slice() {
                    [] => return Err(f.missing("bundle_endpoint_profile")),
                    [(name, profile)] => match name.name.as_str() {
                        "https_web" => {
                            profile.decode(|_| Ok(()))?;
                            None
                        }
                        "https_spiffe" => Some(profile.decode(|p| {
                            let id = p
                                .optional_str("endpoint_spiffe_id")?
                                .ok_or_else(|| p.missing("endpoint_spiffe_id"))?;
                            SpiffeId::new(&id).map_err(|e| {
                                p.invalid("endpoint_spiffe_id", format!("not a SPIFFE ID: {e}"))
                            })
                        })?),
                        _ => {
                            return Err(f.invalid(
                                "bundle_endpoint_profile",
                                "unknown profile (expected https_web or https_spiffe)",
                            ))
                        }
                    },
                    _ => {
                        return Err(f.invalid(
                            "bundle_endpoint_profile",
                            "exactly one bundle endpoint profile is expected",
                        ))
                    }
                };
                Ok(FederatesWith {
                    trust_domain: trust_domain.clone(),
                    url,
                    endpoint_spiffe_id,
                })
            })?);
        }
        Ok(FederationConfig {
            pos,
            bundle_endpoint,
            federates_with,
        })
    })
}

fn bundle_endpoint(d: &mut Decoder<'_>) -> Result<BundleEndpointConfig, ConfigError> {
    let address = d
        .optional_str("address")?
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "0.0.0.0".to_owned());
    let port = d.optional_u16("port")?.unwrap_or(443);
    let refresh_hint = d
        .optional_duration("refresh_hint")?
        .unwrap_or(Duration::from_secs(300));
    let acme = d.optional_section("acme")?;
    let profiles = d.named_sections("profile")?;
    let profile = match (acme, profiles.as_slice()) {
        (Some(_), [_, ..]) => {
            return Err(d.invalid(
                "acme",
                "either bundle endpoint 'acme' or 'profile' can be set, but not both",
            ))
        }
        (Some(acme), []) => acme.decode(acme_profile)?,
        (None, []) | (None, [_]) if profiles.first().is_none_or(|(n, _)| n.name == "https_spiffe") => {
            if let Some((_, s)) = profiles.first() {
                s.decode(|_| Ok(()))?;
            }
            ServingProfile::HttpsSpiffe
        }
        (None, [(name, web)]) if name.name == "https_web" => web.decode(|w| {
            let acme = w.optional_section("acme")?;
            let file = w.optional_section("serving_cert_file")?;
            match (acme, file) {
                (Some(acme), None) => acme.decode(acme_profile),
                (None, Some(file)) => file.decode(|f| {
                    Ok(ServingProfile::ServingCertFile {
                        cert_file_path: f
                            .optional_str("cert_file_path")?
                            .ok_or_else(|| f.missing("cert_file_path"))?,
                        key_file_path: f
                            .optional_str("key_file_path")?
                            .ok_or_else(|| f.missing("key_file_path"))?,
                        file_sync_interval: f
                            .optional_duration("file_sync_interval")?
                            .filter(|i| !i.is_zero())
                            .unwrap_or(Duration::from_secs(3600)),
                    })
                }),
                _ => Err(w.invalid(
                    "acme",
                    "malformed https_web profile configuration: 'acme' or 'serving_cert_file' is required",
                )),
            }
        })?,
        (None, [_]) => {
            return Err(d.invalid(
                "profile",
                "unknown bundle endpoint profile configured; current supported profiles are \"https_spiffe\" and \"https_web\"",
            ))
        }
        (None, _) => {
            return Err(d.invalid(
                "profile",
                "exactly one bundle endpoint profile is expected",
            ))
        }
    };
    Ok(BundleEndpointConfig {
        address,
        port,
        refresh_hint,
        profile,
    })
}

fn acme_profile(a: &mut Decoder<'_>) -> Result<ServingProfile, ConfigError> {
    let domain_name = a.optional_str("domain_name")?.unwrap_or_default();
    let email = a.optional_str("email")?.unwrap_or_default();
    if domain_name.is_empty() {
        return Err(a.missing("domain_name"));
    }
    if email.is_empty() {
        return Err(a.missing("email"));
    }
    Ok(ServingProfile::Acme {
        directory_url: a
            .optional_str("directory_url")?
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| LETS_ENCRYPT.to_owned()),
        domain_name,
        email,
        tos_accepted: a.optional_bool("tos_accepted")?.unwrap_or(false),
    })
}
