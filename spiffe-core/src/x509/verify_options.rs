//! What [`verify_with`](super::verify_with) may relax: by default nothing.

/// Options of [`verify_with`](super::verify_with) and
/// [`verify_parsed_with`](super::verify_parsed_with). The default ([`new`](Self::new)) is the
/// strict verifier of [`verify`](super::verify); each relaxation is a named method.
///
/// ```
/// use spiffe_core::x509::X509VerifyOptions;
/// let strict = X509VerifyOptions::new();
/// assert!(strict.requires_leaf_digital_signature());
/// let lenient = X509VerifyOptions::new().accept_leaves_without_digital_signature();
/// assert!(!lenient.requires_leaf_digital_signature());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct X509VerifyOptions {
    leaf_digital_signature: bool,
}

// === impl X509VerifyOptions ===

impl X509VerifyOptions {
    /// The strict checks of [`verify`](super::verify).
    pub const fn new() -> Self {
        Self {
            leaf_digital_signature: true,
        }
    }

    /// Accepts a leaf without a keyUsage extension, or whose keyUsage lacks
    /// `digitalSignature` (X509-15, X509-17), as go-spiffe's `x509svid.Verify` does, for peers
    /// that must interoperate with such leaves (conformance case 48: a peer validator MAY accept
    /// them). SPIRE and `spiffe-ca` never issue them, and go-spiffe's `ParseRaw` and the
    /// `spiffe` crate reject them. A leaf with `keyCertSign` or `cRLSign` is still rejected
    /// (X509-22).
    #[must_use]
    pub const fn accept_leaves_without_digital_signature(mut self) -> Self {
        self.leaf_digital_signature = false;
        self
    }

    /// Whether the leaf must have keyUsage with `digitalSignature` (the default).
    pub const fn requires_leaf_digital_signature(&self) -> bool {
        self.leaf_digital_signature
    }
}

impl Default for X509VerifyOptions {
    fn default() -> Self {
        Self::new()
    }
}
