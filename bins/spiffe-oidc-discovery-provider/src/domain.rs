//! The `domains` allow-list: which `Host` (or `X-Forwarded-Host`) the discovery document is
//! served for, as SPIRE's `DomainAllowlist`.
//!
//! A host is compared as written: it must already be a lowercase ASCII (punycode) domain name
//! under the STD3 rules (letters, digits, hyphens, dots; no label starting or ending with a
//! hyphen), which is what SPIRE's `idna.Lookup.ToASCII(d) == d` check accepts. Anything else is
//! refused before the list is consulted, and the list itself is checked the same way at start.
//! The host is untrusted input: [`host_domain`] and [`DomainAllowlist::check`] never panic and
//! are fuzzed (`fuzz/fuzz_targets/oidc_host.rs`).

use std::collections::BTreeSet;
use std::fmt;

use thiserror::Error;

/// Why a domain is refused. `Display` is SPIRE's message (the 400 response body).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DomainError {
    /// Not a domain name under the STD3 rules.
    #[error("domain {} is not a valid domain name", Quoted(.domain))]
    Invalid {
        /// The domain as received.
        domain: String,
    },
    /// Uppercase or non-ASCII: lookup would map it to another name.
    #[error("domain {} must already be punycode encoded", Quoted(.domain))]
    NotPunycode {
        /// The domain as received.
        domain: String,
    },
    /// The part after the name's `:` is not a port number.
    #[error("invalid port in host {}", Quoted(.host))]
    InvalidPort {
        /// The host as received.
        host: String,
    },
    /// A valid domain that is not in `domains`.
    #[error("domain {} is not allowed", Quoted(.domain))]
    NotAllowed {
        /// The domain as received.
        domain: String,
    },
}

/// Go's `%q` for the messages: quotes, with every non-printable or non-ASCII char escaped.
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0.escape_default())
    }
}

/// The configured `domains`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainAllowlist {
    domains: BTreeSet<String>,
}

impl DomainAllowlist {
    /// The list; every entry must be a valid lowercase ASCII domain name.
    pub fn new<S: AsRef<str>>(domains: &[S]) -> Result<Self, DomainError> {
        let mut set = BTreeSet::new();
        for domain in domains {
            let domain = domain.as_ref();
            check_domain(domain)?;
            set.insert(domain.to_owned());
        }
        Ok(DomainAllowlist { domains: set })
    }

    /// The domains, sorted.
    pub fn domains(&self) -> impl Iterator<Item = &str> {
        self.domains.iter().map(String::as_str)
    }

    /// Whether the request's `host` (`name` or `name:port`) may be served.
    pub fn check(&self, host: &str) -> Result<(), DomainError> {
        let (domain, port) = split_host(host);
        // Brackets are for IPv6 literals, which are never domain names; `[name]:port` would
        // put the brackets into the issuer URL.
        if host.starts_with('[') {
            return Err(DomainError::Invalid {
                domain: domain.to_owned(),
            });
        }
        check_domain(domain)?;
        // Go would escape a non-numeric "port" into the issuer URL; refuse it instead.
        if port.is_some_and(|p| !p.bytes().all(|b| b.is_ascii_digit())) {
            return Err(DomainError::InvalidPort {
                host: host.to_owned(),
            });
        }
        if self.domains.contains(domain) {
            Ok(())
        } else {
            Err(DomainError::NotAllowed {
                domain: domain.to_owned(),
            })
        }
    }
}

/// The name part of a `Host` value, as Go's `net.SplitHostPort` and SPIRE's fallback: `name:port`
/// gives `name`, `[v6]:port` gives `v6`; anything that is not `host:port` is taken whole.
pub fn host_domain(host: &str) -> &str {
    split_host(host).0
}

/// [`host_domain`] and the port text after it, if the host was `name:port`.
pub fn split_host(host: &str) -> (&str, Option<&str>) {
    if let Some(rest) = host.strip_prefix('[') {
        if let Some(end) = rest.find(']') {
            let (inside, after) = rest.split_at(end);
            if let Some(port) = after[1..].strip_prefix(':') {
                if !port.contains([':', '[', ']']) {
                    return (inside, Some(port));
                }
            }
        }
        return (host, None);
    }
    match host.rfind(':') {
        // More than one colon without brackets is not host:port in Go.
        Some(i) if !host[..i].contains(':') && !host.contains(['[', ']']) => {
            (&host[..i], Some(&host[i + 1..]))
        }
        _ => (host, None),
    }
}

/// SPIRE's `toDomainKey`: the domain must map to itself under IDNA lookup (STD3 rules,
/// hyphen checks, lowercase, ASCII).
fn check_domain(domain: &str) -> Result<(), DomainError> {
    if domain
        .bytes()
        .any(|b| !b.is_ascii() || b.is_ascii_uppercase())
    {
        // IDNA lookup lowercases and punycode-encodes: the result would differ.
        let lowered_is_valid = domain.is_ascii() && labels_valid(&domain.to_ascii_lowercase());
        if domain.is_ascii() && !lowered_is_valid {
            return Err(DomainError::Invalid {
                domain: domain.to_owned(),
            });
        }
        return Err(DomainError::NotPunycode {
            domain: domain.to_owned(),
        });
    }
    if labels_valid(domain) {
        Ok(())
    } else {
        Err(DomainError::Invalid {
            domain: domain.to_owned(),
        })
    }
}

/// STD3: each label of lowercase letters, digits and hyphens, not starting or ending with a
/// hyphen, and no `--` at positions 3-4 except in an `xn--` (punycode) label.
fn labels_valid(domain: &str) -> bool {
    domain.split('.').all(|label| {
        label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
            && (label.get(2..4) != Some("--") || label.starts_with("xn--"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_split_as_go() {
        assert_eq!(host_domain("example.org"), "example.org");
        assert_eq!(host_domain("example.org:8443"), "example.org");
        assert_eq!(host_domain("example.org:"), "example.org");
        assert_eq!(host_domain("[::1]:80"), "::1");
        assert_eq!(host_domain("::1"), "::1");
        assert_eq!(host_domain("[::1]"), "[::1]");
        assert_eq!(host_domain(""), "");
    }

    #[test]
    fn allowlist_checks() {
        let list = DomainAllowlist::new(&["oidc.example.org", "127.0.0.1"]).expect("valid");
        assert_eq!(list.check("oidc.example.org:443"), Ok(()));
        assert_eq!(list.check("127.0.0.1:8080"), Ok(()));
        assert_eq!(
            list.check("other.example.org"),
            Err(DomainError::NotAllowed {
                domain: "other.example.org".into()
            })
        );
        assert_eq!(
            list.check("OIDC.example.org").map_err(|e| e.to_string()),
            Err("domain \"OIDC.example.org\" must already be punycode encoded".into())
        );
        assert_eq!(
            list.check("bücher.example").map_err(|e| e.to_string()),
            Err("domain \"b\\u{fc}cher.example\" must already be punycode encoded".into())
        );
        assert!(matches!(
            list.check("a_b.example.org"),
            Err(DomainError::Invalid { .. })
        ));
        assert!(matches!(
            list.check("-a.example.org"),
            Err(DomainError::Invalid { .. })
        ));
        assert!(list.check("xn--bcher-kva.example").is_err());
        assert!(matches!(
            list.check("oidc.example.org:80/x"),
            Err(DomainError::InvalidPort { .. })
        ));
        assert!(DomainAllowlist::new(&["Example.org"]).is_err());
        assert!(DomainAllowlist::new(&["xn--bcher-kva.example"]).is_ok());
    }
}
