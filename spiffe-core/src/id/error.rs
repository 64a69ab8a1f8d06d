use thiserror::Error;

/// Why a string is not a valid SPIFFE ID, trust domain or path.
///
/// Each variant names the requirement of SPIFFE-ID.md it enforces (ids from
/// `spec/SPIFFE-CONFORMANCE.md` §1.1). Positions are byte offsets into the input; the input
/// itself is never echoed, so errors are safe to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum IdError {
    /// The input is empty (ID-1).
    #[error("empty SPIFFE ID (ID-1: the scheme must be `spiffe`)")]
    Empty,
    /// The input does not start with `spiffe://` (ID-1).
    #[error("scheme is not `spiffe://` (ID-1)")]
    WrongScheme,
    /// The scheme is `spiffe` in another case, e.g. `SPIFFE://` (ID-1, ID-17: lowercase only).
    #[error("scheme must be lowercase `spiffe://` (ID-1, ID-17)")]
    UppercaseScheme,
    /// Nothing between `spiffe://` and the path (ID-2).
    #[error("trust domain is empty (ID-2)")]
    MissingTrustDomain,
    /// A `?` query or `#` fragment is present (ID-3).
    #[error("query or fragment at byte {position} (ID-3: not allowed)")]
    QueryOrFragment {
        /// Byte offset of the `?` or `#`.
        position: usize,
    },
    /// The authority carries userinfo (`user@`) (ID-4).
    #[error("userinfo at byte {position} (ID-4: no `user@` in the authority)")]
    UserInfo {
        /// Byte offset of the `@`.
        position: usize,
    },
    /// The authority carries a port (`:443`) (ID-4).
    #[error("port at byte {position} (ID-4: no port in the authority)")]
    Port {
        /// Byte offset of the `:`.
        position: usize,
    },
    /// An uppercase letter in the trust domain (ID-5).
    #[error("uppercase letter in trust domain at byte {position} (ID-5: trust domain must be lowercase)")]
    UppercaseTrustDomain {
        /// Byte offset of the letter.
        position: usize,
    },
    /// A byte outside `a-z 0-9 . - _` in the trust domain (ID-6).
    #[error(
        "byte {byte:#04x} at {position} not allowed in a trust domain (ID-6: only a-z 0-9 . - _)"
    )]
    BadTrustDomainChar {
        /// Byte offset.
        position: usize,
        /// The offending byte.
        byte: u8,
    },
    /// Percent-encoding in the trust domain (ID-7).
    #[error("percent-encoding in trust domain at byte {position} (ID-7)")]
    PercentEncodedTrustDomain {
        /// Byte offset of the `%`.
        position: usize,
    },
    /// Percent-encoding in the path (ID-9).
    #[error("percent-encoding in path at byte {position} (ID-9)")]
    PercentEncodedPath {
        /// Byte offset of the `%`.
        position: usize,
    },
    /// An empty path segment, as in `//` (ID-10).
    #[error("empty path segment at byte {position} (ID-10)")]
    EmptySegment {
        /// Byte offset where the empty segment starts.
        position: usize,
    },
    /// A path segment that is exactly `.` or `..` (ID-10).
    #[error("dot segment `.` or `..` at byte {position} (ID-10)")]
    DotSegment {
        /// Byte offset where the segment starts.
        position: usize,
    },
    /// The path ends with `/`, including `spiffe://td/` (ID-11).
    #[error("path ends with `/` (ID-11)")]
    TrailingSlash,
    /// A byte outside `a-z A-Z 0-9 . - _` in a path segment (ID-12).
    #[error("byte {byte:#04x} at {position} not allowed in a path segment (ID-12: only a-z A-Z 0-9 . - _)")]
    BadPathChar {
        /// Byte offset.
        position: usize,
        /// The offending byte.
        byte: u8,
    },
    /// A path given on its own does not start with `/` (ID-13).
    #[error("path must start with `/` (ID-13)")]
    PathNotAbsolute,
    /// A single segment given to a builder contains `/` (ID-12).
    #[error("path segment contains `/` (ID-12: a segment cannot span segments)")]
    SegmentContainsSlash,
    /// The whole ID is longer than 2048 bytes (ID-14, ID-15).
    #[error("SPIFFE ID is {len} bytes, longer than the 2048 allowed (ID-14, ID-15)")]
    TooLong {
        /// Length of the input in bytes.
        len: usize,
    },
    /// The trust domain is longer than 255 bytes (ID-16).
    #[error("trust domain is {len} bytes, longer than the 255 allowed (ID-16)")]
    TrustDomainTooLong {
        /// Length of the trust domain in bytes.
        len: usize,
    },
}

impl IdError {
    /// The requirement id (from the conformance checklist) this error enforces, e.g. `"ID-5"`.
    pub fn requirement(&self) -> &'static str {
        match self {
            Self::Empty | Self::WrongScheme | Self::UppercaseScheme => "ID-1",
            Self::MissingTrustDomain => "ID-2",
            Self::QueryOrFragment { .. } => "ID-3",
            Self::UserInfo { .. } | Self::Port { .. } => "ID-4",
            Self::UppercaseTrustDomain { .. } => "ID-5",
            Self::BadTrustDomainChar { .. } => "ID-6",
            Self::PercentEncodedTrustDomain { .. } => "ID-7",
            Self::PercentEncodedPath { .. } => "ID-9",
            Self::EmptySegment { .. } | Self::DotSegment { .. } => "ID-10",
            Self::TrailingSlash => "ID-11",
            Self::BadPathChar { .. } | Self::SegmentContainsSlash => "ID-12",
            Self::PathNotAbsolute => "ID-13",
            Self::TooLong { .. } => "ID-14",
            Self::TrustDomainTooLong { .. } => "ID-16",
        }
    }
}
