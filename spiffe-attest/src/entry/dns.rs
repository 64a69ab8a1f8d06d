use super::DnsNameError;

/// The longest DNS name accepted, in bytes (RFC 1035 §2.3.4, without the root dot).
const MAX_NAME_LEN: usize = 253;
/// The longest label, in bytes (RFC 1035 §2.3.4).
const MAX_LABEL_LEN: usize = 63;

/// Checks a DNS name for an X.509-SVID's `dNSName` SAN: letters, digits and `-` in labels of 1
/// to 63 bytes, no `-` at a label's edge, 253 bytes in all, and `*` only as the whole leftmost
/// label followed by at least two labels (`*.example.org`).
pub fn check_dns_name(name: &str) -> Result<(), DnsNameError> {
    if name.is_empty() {
        return Err(DnsNameError::Empty);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(DnsNameError::TooLong { len: name.len() });
    }
    let label_count = name.split('.').count();
    let mut offset = 0;
    for (i, label) in name.split('.').enumerate() {
        if label.is_empty() {
            return Err(DnsNameError::EmptyLabel);
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(DnsNameError::LabelTooLong);
        }
        if label == "*" {
            if i != 0 || label_count < 3 {
                return Err(DnsNameError::MisplacedWildcard);
            }
        } else {
            if let Some(pos) = label
                .bytes()
                .position(|b| !(b.is_ascii_alphanumeric() || b == b'-'))
            {
                if label.as_bytes()[pos] == b'*' {
                    return Err(DnsNameError::MisplacedWildcard);
                }
                return Err(DnsNameError::Character { at: offset + pos });
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(DnsNameError::HyphenAtEdge);
            }
        }
        offset += label.len() + 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_and_wildcard_names() {
        for ok in ["a", "web.example.org", "x-1.y2.example", "*.example.org"] {
            assert_eq!(check_dns_name(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_malformed_names() {
        assert_eq!(check_dns_name(""), Err(DnsNameError::Empty));
        assert_eq!(check_dns_name("a..b"), Err(DnsNameError::EmptyLabel));
        assert_eq!(check_dns_name("a.b."), Err(DnsNameError::EmptyLabel));
        assert_eq!(check_dns_name("-a.b"), Err(DnsNameError::HyphenAtEdge));
        assert_eq!(
            check_dns_name("a.b_c"),
            Err(DnsNameError::Character { at: 3 })
        );
        assert_eq!(
            check_dns_name("*.org"),
            Err(DnsNameError::MisplacedWildcard)
        );
        assert_eq!(
            check_dns_name("a.*.org"),
            Err(DnsNameError::MisplacedWildcard)
        );
        assert_eq!(
            check_dns_name("w*.a.org"),
            Err(DnsNameError::MisplacedWildcard)
        );
        assert_eq!(
            check_dns_name(&"a".repeat(64)),
            Err(DnsNameError::LabelTooLong)
        );
        assert_eq!(check_dns_name(&["a"; 127].join(".")), Ok(()));
        assert_eq!(
            check_dns_name(&["a"; 128].join(".")),
            Err(DnsNameError::TooLong { len: 255 })
        );
    }
}
