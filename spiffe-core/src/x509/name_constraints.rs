//! nameConstraints (RFC 5280 §4.2.1.10) evaluated during path validation: URI constraints
//! (applied to the host, i.e. a SPIFFE ID's trust domain, X509-14) and DNS constraints on DNS
//! SANs. Any other constraint form is unsupported, and unsupported means reject (fail closed).

use crate::der::{tag, Reader};

use super::extensions::general_name;
use super::Certificate;

/// Why a certificate failed its issuer's name constraints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameConstraintError {
    /// A name lies outside the permitted subtrees or inside an excluded one.
    Violation,
    /// A constraint form (or a name) this implementation cannot evaluate.
    Unsupported,
}

type Result<T> = std::result::Result<T, NameConstraintError>;

/// Checks `cert`'s URI and DNS SANs against the `NameConstraints` SEQUENCE contents `nc`.
pub(crate) fn check(nc: &[u8], cert: &Certificate) -> Result<()> {
    let mut reader = Reader::new(nc);
    let permitted = reader
        .read_optional(tag::context_constructed(0))
        .map_err(|_| NameConstraintError::Unsupported)?;
    let excluded = reader
        .read_optional(tag::context_constructed(1))
        .map_err(|_| NameConstraintError::Unsupported)?;
    if reader.finish().is_err() || (permitted.is_none() && excluded.is_none()) {
        return Err(NameConstraintError::Unsupported);
    }
    // Validate every subtree's form first, so an unsupported form rejects even when the
    // certificate has no name of that type.
    for subtrees in [permitted, excluded].into_iter().flatten() {
        for subtree in Subtrees::new(subtrees) {
            subtree?;
        }
    }

    for (kind, names) in [
        (general_name::URI, cert.san_entries(general_name::URI)),
        (general_name::DNS, cert.san_entries(general_name::DNS)),
    ] {
        for name in names {
            let host = match kind {
                general_name::URI => uri_host(name)?,
                _ => std::str::from_utf8(name).map_err(|_| NameConstraintError::Unsupported)?,
            };
            if let Some(permitted) = permitted {
                let mut any_of_kind = false;
                let mut matched = false;
                for (base_tag, base) in Subtrees::new(permitted).flatten() {
                    if base_tag == kind {
                        any_of_kind = true;
                        matched |= matches(kind, base, host)?;
                    }
                }
                if any_of_kind && !matched {
                    return Err(NameConstraintError::Violation);
                }
            }
            if let Some(excluded) = excluded {
                for (base_tag, base) in Subtrees::new(excluded).flatten() {
                    if base_tag == kind && matches(kind, base, host)? {
                        return Err(NameConstraintError::Violation);
                    }
                }
            }
        }
    }
    Ok(())
}

/// Iterates the bases of `GeneralSubtrees`, checking each subtree's form.
struct Subtrees<'a> {
    reader: Reader<'a>,
}

impl<'a> Subtrees<'a> {
    fn new(input: &'a [u8]) -> Self {
        Self {
            reader: Reader::new(input),
        }
    }

    fn next_subtree(&mut self) -> Result<(u8, &'a [u8])> {
        let unsupported = |_| NameConstraintError::Unsupported;
        let mut subtree = Reader::new(self.reader.read(tag::SEQUENCE).map_err(unsupported)?);
        let (base_tag, base, _) = subtree.read_any().map_err(unsupported)?;
        // minimum [0] DEFAULT 0 (DER: absent) and maximum [1] MUST be absent (RFC 5280).
        subtree.finish().map_err(unsupported)?;
        match base_tag {
            general_name::URI | general_name::DNS if base.is_ascii() => Ok((base_tag, base)),
            _ => Err(NameConstraintError::Unsupported),
        }
    }
}

impl<'a> Iterator for Subtrees<'a> {
    type Item = Result<(u8, &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.reader.is_empty() {
            return None;
        }
        let item = self.next_subtree();
        if item.is_err() {
            // Stop after the first error.
            self.reader = Reader::new(&[]);
        }
        Some(item)
    }
}

/// The host of a URI name: for SPIFFE IDs, the trust domain.
fn uri_host(uri: &[u8]) -> Result<&str> {
    let uri = std::str::from_utf8(uri).map_err(|_| NameConstraintError::Unsupported)?;
    let (_, rest) = uri
        .split_once("://")
        .ok_or(NameConstraintError::Violation)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        return Err(NameConstraintError::Unsupported); // IP-literal hosts
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    if host.is_empty() {
        // RFC 5280: a URI without a host cannot satisfy a URI constraint.
        return Err(NameConstraintError::Violation);
    }
    Ok(host)
}

/// Whether `host` is within the subtree `base` of kind `kind`.
fn matches(kind: u8, base: &[u8], host: &str) -> Result<bool> {
    let base = std::str::from_utf8(base).map_err(|_| NameConstraintError::Unsupported)?;
    if base.contains([':', '/', '@', '[']) {
        return Err(NameConstraintError::Unsupported);
    }
    let host = host.strip_suffix('.').unwrap_or(host);
    if let Some(domain) = base.strip_prefix('.') {
        // `.example.com`: one or more labels to the left, never `example.com` itself.
        return Ok(host.len() > base.len()
            && ends_with_ignore_case(host, base)
            && !domain.is_empty());
    }
    if kind == general_name::URI {
        // RFC 5280: a URI constraint without a leading period names one host.
        return Ok(!base.is_empty() && host.eq_ignore_ascii_case(base));
    }
    // DNS: zero or more labels added to the left; an empty base permits everything.
    if base.is_empty() || host.eq_ignore_ascii_case(base) {
        return Ok(true);
    }
    Ok(host.len() > base.len()
        && ends_with_ignore_case(host, base)
        && host.as_bytes()[host.len() - base.len() - 1] == b'.')
}

fn ends_with_ignore_case(host: &str, suffix: &str) -> bool {
    host.len() >= suffix.len()
        && host.as_bytes()[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const URI: u8 = general_name::URI;
    const DNS: u8 = general_name::DNS;

    #[test]
    fn uri_host_matching() {
        assert_eq!(matches(URI, b"td-a", "td-a"), Ok(true));
        assert_eq!(matches(URI, b"td-a", "td-b"), Ok(false));
        assert_eq!(matches(URI, b"td-a", "x.td-a"), Ok(false));
        assert_eq!(matches(URI, b".example.org", "a.example.org"), Ok(true));
        assert_eq!(matches(URI, b".example.org", "example.org"), Ok(false));
        assert_eq!(
            matches(URI, b"spiffe://td-a", "td-a"),
            Err(NameConstraintError::Unsupported)
        );
    }

    #[test]
    fn dns_matching() {
        assert_eq!(matches(DNS, b"example.org", "example.org"), Ok(true));
        assert_eq!(matches(DNS, b"example.org", "a.b.example.org"), Ok(true));
        assert_eq!(matches(DNS, b"example.org", "badexample.org"), Ok(false));
        assert_eq!(matches(DNS, b".example.org", "example.org"), Ok(false));
        assert_eq!(matches(DNS, b"", "anything"), Ok(true));
    }

    #[test]
    fn uri_hosts() {
        assert_eq!(uri_host(b"spiffe://td/w"), Ok("td"));
        assert_eq!(uri_host(b"https://u@h:443/p?q"), Ok("h"));
        assert_eq!(uri_host(b"urn:x"), Err(NameConstraintError::Violation));
    }
}
