//! SPIRE's command-line forms of IDs and entries, shared by the daemons' CLIs and fuzzed on
//! their own: go-spiffe's ID error texts, SPIFFE IDs and trust domains as SPIRE's CLI parses
//! them, the `-data` entries file ([`parse_entries_json`]), `-output json` ([`json`]), and
//! the `logger` ([`logger`]) and `debug getinfo` ([`debug`]) outputs.

use spiffe_core::{IdError, SpiffeId, TrustDomain};

use crate::types;

pub mod debug;
mod entry_json;
pub mod json;
pub mod logger;

pub use entry_json::parse_entries_json;

/// go-spiffe's error text for an ID that does not parse (`spiffeid.FromString`).
pub fn go_id_error(e: IdError) -> &'static str {
    match e {
        IdError::Empty => "cannot be empty",
        IdError::WrongScheme | IdError::UppercaseScheme => "scheme is missing or invalid",
        IdError::MissingTrustDomain => "trust domain is missing",
        IdError::UppercaseTrustDomain { .. }
        | IdError::BadTrustDomainChar { .. }
        | IdError::PercentEncodedTrustDomain { .. }
        | IdError::UserInfo { .. }
        | IdError::Port { .. }
        | IdError::TrustDomainTooLong { .. } => {
            "trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores"
        }
        IdError::EmptySegment { .. } => "path cannot contain empty segments",
        IdError::DotSegment { .. } => "path cannot contain dot segments",
        IdError::TrailingSlash => "path cannot have a trailing slash",
        IdError::PathNotAbsolute => "path must have a leading slash",
        _ => "path segment characters are limited to letters, numbers, dots, dashes, and underscores",
    }
}

/// `spiffeid.FromString` then `types.SPIFFEID`.
pub fn parse_id(text: &str) -> Result<types::Spiffeid, String> {
    let id = SpiffeId::new(text).map_err(|e| go_id_error(e).to_owned())?;
    Ok(types::Spiffeid {
        trust_domain: id.trust_domain_name().to_owned(),
        path: id.path().to_owned(),
    })
}

/// `spiffeid.TrustDomainFromString`: a name or a `spiffe://name` ID; the name.
pub fn parse_trust_domain(text: &str) -> Result<String, String> {
    if text.contains(":/") {
        let id = SpiffeId::new(text).map_err(|e| go_id_error(e).to_owned())?;
        return Ok(id.trust_domain_name().to_owned());
    }
    if text.is_empty() {
        return Err("trust domain is missing".into());
    }
    TrustDomain::new(text)
        .map(|td| td.as_str().to_owned())
        .map_err(|e| go_id_error(e).to_owned())
}
