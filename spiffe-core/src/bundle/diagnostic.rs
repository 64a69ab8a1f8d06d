/// Something noticed about one entry of a SPIFFE bundle's `keys` that did not make the
/// document invalid: either the entry was not used, or a part of it was ignored.
///
/// Returned by [`SpiffeBundle::parse_with_diagnostics`](super::SpiffeBundle::parse_with_diagnostics)
/// so tools can explain why a bundle holds fewer authorities than it has `keys`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyDiagnostic {
    /// Index of the entry in `keys`.
    pub index: usize,
    /// What was noticed.
    pub issue: KeyIssue,
}

/// What was noticed about an entry of `keys`; see [`KeyIssue::skips_key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyIssue {
    /// No `use` member, or one that is not a string: the JWK is ignored (BUNDLE-13).
    MissingUse,
    /// A `use` other than `x509-svid` or `jwt-svid` (compared case-sensitively, so
    /// `X509-SVID` lands here; so does `wit-svid`): the JWK is ignored (BUNDLE-8, BUNDLE-13).
    /// It is kept verbatim for re-serialization, see
    /// [`SpiffeBundle::other_keys`](super::SpiffeBundle::other_keys).
    UnknownUse,
    /// No `kty` member, or one that is not a string: the JWK is ignored (BUNDLE-12).
    MissingKty,
    /// A `kty` this profile has no use for: the JWK is ignored (BUNDLE-12). x509-svid entries
    /// accept `EC`, `RSA` and `OKP`; jwt-svid entries `EC` and `RSA` (the JWT-4 algorithms).
    UnknownKty,
    /// An x509-svid entry without `x5c`: ignored (X509-29).
    MissingX5c,
    /// An x509-svid entry with `x5c: []`: ignored (X509-29).
    EmptyX5c,
    /// An x509-svid entry whose `x5c` is not an array of strings: ignored.
    MalformedX5c,
    /// `x5c[0]` is not standard base64, e.g. base64url: the entry is rejected and ignored
    /// (X509-28, RFC 7517 §4.7; vector #69).
    X5cNotStandardBase64,
    /// `x5c[0]` decodes but is not a certificate: the entry is rejected and ignored.
    X5cNotACertificate,
    /// A jwt-svid entry without a non-empty string `kid`: it could never be selected by a
    /// token, so it is ignored (JWT-16; vector #109, where go-spiffe fails the whole bundle).
    MissingKid,
    /// A jwt-svid entry whose key members do not form a usable public key: ignored.
    InvalidJwtKey,
    /// Used, partly: `x5c` has more than one certificate; only the first is taken (X509-30;
    /// vector #68, where go-spiffe fails the whole bundle).
    ExtraX5cIgnored,
    /// Used, partly: an x509-svid entry carries a `kid`, which is ignored and not written
    /// back (X509-27; vector #66).
    KidOnX509Ignored,
    /// Used: the same certificate as an earlier x509-svid entry; the two count once.
    DuplicateAuthority,
}

// === impl KeyIssue ===

impl KeyIssue {
    /// Whether the entry contributed no authority.
    pub fn skips_key(self) -> bool {
        !matches!(
            self,
            Self::ExtraX5cIgnored | Self::KidOnX509Ignored | Self::DuplicateAuthority
        )
    }

    /// The requirement id behind this issue.
    pub fn requirement(self) -> &'static str {
        match self {
            Self::MissingUse => "BUNDLE-13",
            Self::UnknownUse => "BUNDLE-8",
            Self::MissingKty | Self::UnknownKty => "BUNDLE-12",
            Self::MissingX5c | Self::EmptyX5c => "X509-29",
            Self::MalformedX5c | Self::X5cNotStandardBase64 | Self::X5cNotACertificate => "X509-28",
            Self::MissingKid | Self::InvalidJwtKey => "JWT-16",
            Self::ExtraX5cIgnored => "X509-30",
            Self::KidOnX509Ignored => "X509-27",
            Self::DuplicateAuthority => "X509-31",
        }
    }
}
