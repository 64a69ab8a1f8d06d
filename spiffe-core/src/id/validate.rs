//! The character-level rules of SPIFFE-ID.md §2, shared by every constructor.
//!
//! `offset` is where the checked slice starts in the caller's input, so that error positions
//! point into what the user gave.

use super::{IdError, MAX_TRUST_DOMAIN_LEN};

/// Checks a trust-domain name (ID-2, ID-3..ID-7, ID-16). ID-8: no DNS or IP semantics at all.
pub(crate) fn trust_domain(name: &[u8], offset: usize) -> Result<(), IdError> {
    if name.is_empty() {
        return Err(IdError::MissingTrustDomain); // ID-2
    }
    for (i, &b) in name.iter().enumerate() {
        let position = offset + i;
        match b {
            b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => {}
            b'A'..=b'Z' => return Err(IdError::UppercaseTrustDomain { position }), // ID-5
            b'?' | b'#' => return Err(IdError::QueryOrFragment { position }),      // ID-3
            b'@' => return Err(IdError::UserInfo { position }),                    // ID-4
            b':' => return Err(IdError::Port { position }),                        // ID-4
            b'%' => return Err(IdError::PercentEncodedTrustDomain { position }),   // ID-7
            _ => return Err(IdError::BadTrustDomainChar { position, byte: b }),    // ID-6
        }
    }
    // ID-16, checked after the characters so a wrong character is reported first.
    if name.len() > MAX_TRUST_DOMAIN_LEN {
        return Err(IdError::TrustDomainTooLong { len: name.len() });
    }
    Ok(())
}

/// Checks a non-empty path that starts with `/` (ID-3, ID-9..ID-12).
pub(crate) fn path(path: &[u8], offset: usize) -> Result<(), IdError> {
    debug_assert_eq!(path.first(), Some(&b'/'));
    let mut segment_start = 1;
    for i in 1..=path.len() {
        let b = path.get(i).copied();
        match b {
            None | Some(b'/') => {
                let segment = &path[segment_start..i];
                let position = offset + segment_start;
                match segment {
                    // ID-11: a trailing `/` leaves an empty last segment.
                    [] if b.is_none() => return Err(IdError::TrailingSlash),
                    [] => return Err(IdError::EmptySegment { position }), // ID-10
                    b"." | b".." => return Err(IdError::DotSegment { position }), // ID-10
                    _ => {}
                }
                segment_start = i + 1;
            }
            Some(c) => {
                let position = offset + i;
                match c {
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_' => {}
                    b'?' | b'#' => return Err(IdError::QueryOrFragment { position }), // ID-3
                    b'%' => return Err(IdError::PercentEncodedPath { position }),     // ID-9
                    _ => return Err(IdError::BadPathChar { position, byte: c }),      // ID-12
                }
            }
        }
    }
    Ok(())
}

/// Checks one path segment given to a builder (ID-10, ID-12).
pub(crate) fn segment(segment: &[u8]) -> Result<(), IdError> {
    match segment {
        [] => return Err(IdError::EmptySegment { position: 0 }),
        b"." | b".." => return Err(IdError::DotSegment { position: 0 }),
        _ => {}
    }
    for (position, &b) in segment.iter().enumerate() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_' => {}
            b'/' => return Err(IdError::SegmentContainsSlash),
            b'%' => return Err(IdError::PercentEncodedPath { position }),
            b'?' | b'#' => return Err(IdError::QueryOrFragment { position }),
            _ => return Err(IdError::BadPathChar { position, byte: b }),
        }
    }
    Ok(())
}
