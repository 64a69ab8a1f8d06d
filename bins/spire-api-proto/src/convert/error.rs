use std::fmt;

use spiffe_attest::{EntryError, SelectorError};
use spiffe_core::bundle::BundleError;
use spiffe_core::jwt::JwkError;
use spiffe_core::x509::X509Error;
use spiffe_core::IdError;

/// Where in a message a conversion failed: proto field names with list indexes, as in
/// `jwt_authorities[1].public_key` or `trust_domain_bundle.trust_domain`.
///
/// A conversion names fields relative to the message it converts; a caller converting a list
/// prefixes its own position with [`ConvertError::within`] (`entries[3].spiffe_id.path`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FieldPath {
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Segment {
    name: &'static str,
    index: Option<usize>,
}

// === impl FieldPath ===

impl FieldPath {
    /// The path of the field `name`.
    pub fn new(name: &'static str) -> Self {
        Self {
            segments: vec![Segment { name, index: None }],
        }
    }

    /// Element `index` of the (repeated) field this path ends with.
    #[must_use]
    pub fn at(mut self, index: usize) -> Self {
        if let Some(last) = self.segments.last_mut() {
            last.index = Some(index);
        }
        self
    }

    /// The field `name` of the message this path ends with.
    #[must_use]
    pub fn then(mut self, name: &'static str) -> Self {
        self.segments.push(Segment { name, index: None });
        self
    }

    /// The field names and indexes, outermost first.
    pub fn segments(&self) -> impl Iterator<Item = (&'static str, Option<usize>)> + '_ {
        self.segments.iter().map(|s| (s.name, s.index))
    }

    fn prefixed_by(mut self, mut parent: FieldPath) -> Self {
        parent.segments.append(&mut self.segments);
        parent
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.segments.is_empty() {
            // Only for an entry check the conversion cannot attribute to one field.
            return f.write_str("the message");
        }
        for (i, segment) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            f.write_str(segment.name)?;
            if let Some(index) = segment.index {
                write!(f, "[{index}]")?;
            }
        }
        Ok(())
    }
}

/// Why a proto message could not be converted to a library type (or back). Each variant names
/// the field at fault; none repeats the field's value, since requests come from API callers
/// and errors are logged and returned to them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConvertError {
    /// A required field is unset or empty.
    #[error("{field} is required")]
    Missing {
        /// The field.
        field: FieldPath,
    },
    /// A number is negative, or too large for the other side's type (an `i32` TTL, an `i64`
    /// time), or a zero that the proto cannot tell from "unset".
    #[error("{field} is out of range")]
    OutOfRange {
        /// The field.
        field: FieldPath,
    },
    /// A duration has a fraction of a second, which SPIRE's whole-second fields cannot carry.
    #[error("{field} is not a whole number of seconds")]
    FractionalSeconds {
        /// The field.
        field: FieldPath,
    },
    /// A SPIFFE ID (or its path) is invalid.
    #[error("{field} is not a valid SPIFFE ID")]
    SpiffeId {
        /// The field.
        field: FieldPath,
        /// What is wrong with it.
        source: IdError,
    },
    /// A trust domain name is invalid.
    #[error("{field} is not a valid trust domain")]
    TrustDomain {
        /// The field.
        field: FieldPath,
        /// What is wrong with it.
        source: IdError,
    },
    /// A trust domain differs from the one the enclosing message names.
    #[error("{field} does not match the enclosing trust domain")]
    TrustDomainMismatch {
        /// The field.
        field: FieldPath,
    },
    /// A selector is invalid.
    #[error("{field} is not a valid selector")]
    Selector {
        /// The field.
        field: FieldPath,
        /// What is wrong with it.
        source: SelectorError,
    },
    /// The registration entry (or its id) fails the entry checks.
    #[error("{field} is not valid in a registration entry")]
    Entry {
        /// The field.
        field: FieldPath,
        /// What is wrong with it.
        source: EntryError,
    },
    /// A certificate does not parse.
    #[error("{field} is not a valid X.509 certificate")]
    Certificate {
        /// The field.
        field: FieldPath,
        /// What is wrong with it.
        source: X509Error,
    },
    /// A public key is not a DER `SubjectPublicKeyInfo`.
    #[error("{field} is not a DER SubjectPublicKeyInfo")]
    MalformedPublicKey {
        /// The field.
        field: FieldPath,
        /// What is wrong with it.
        source: X509Error,
    },
    /// A public key is of a type a JWT authority cannot be (JWT-SVIDs are signed with EC
    /// P-256/P-384/P-521 or RSA keys), or an EC key is given as a compressed point.
    #[error("{field} is not an EC (uncompressed point) or RSA key")]
    UnsupportedPublicKey {
        /// The field.
        field: FieldPath,
    },
    /// A public key is not a usable JWT authority (a point off the curve, an RSA modulus out
    /// of range).
    #[error("{field} is not a usable JWT authority key")]
    JwtAuthority {
        /// The field.
        field: FieldPath,
        /// What is wrong with it.
        source: JwkError,
    },
    /// Two JWT authorities have the same key id.
    #[error("{field} repeats the key id of an earlier authority")]
    DuplicateKeyId {
        /// The field.
        field: FieldPath,
    },
    /// The authorities do not form a SPIFFE bundle (an X.509 authority whose key a bundle
    /// document cannot describe).
    #[error("{field} cannot be held in a SPIFFE bundle")]
    Bundle {
        /// The field.
        field: FieldPath,
        /// What is wrong with it.
        source: BundleError,
    },
    /// A URL is not an `https://` URL.
    #[error("{field} is not an https URL")]
    Url {
        /// The field.
        field: FieldPath,
    },
    /// A field is set to something the library types cannot hold, so converting it would
    /// silently drop the caller's request.
    #[error("{field} is not supported")]
    Unsupported {
        /// The field.
        field: FieldPath,
    },
}

// === impl ConvertError ===

impl ConvertError {
    /// The field at fault.
    pub fn field(&self) -> &FieldPath {
        match self {
            Self::Missing { field }
            | Self::OutOfRange { field }
            | Self::FractionalSeconds { field }
            | Self::SpiffeId { field, .. }
            | Self::TrustDomain { field, .. }
            | Self::TrustDomainMismatch { field }
            | Self::Selector { field, .. }
            | Self::Entry { field, .. }
            | Self::Certificate { field, .. }
            | Self::MalformedPublicKey { field, .. }
            | Self::UnsupportedPublicKey { field }
            | Self::JwtAuthority { field, .. }
            | Self::DuplicateKeyId { field }
            | Self::Bundle { field, .. }
            | Self::Url { field }
            | Self::Unsupported { field } => field,
        }
    }

    /// The same error, its field placed under `parent`: a caller converting element 3 of
    /// `entries` turns `spiffe_id.path` into `entries[3].spiffe_id.path`.
    #[must_use]
    pub fn within(mut self, parent: FieldPath) -> Self {
        let field = self.field_mut();
        *field = std::mem::take(field).prefixed_by(parent);
        self
    }

    fn field_mut(&mut self) -> &mut FieldPath {
        match self {
            Self::Missing { field }
            | Self::OutOfRange { field }
            | Self::FractionalSeconds { field }
            | Self::SpiffeId { field, .. }
            | Self::TrustDomain { field, .. }
            | Self::TrustDomainMismatch { field }
            | Self::Selector { field, .. }
            | Self::Entry { field, .. }
            | Self::Certificate { field, .. }
            | Self::MalformedPublicKey { field, .. }
            | Self::UnsupportedPublicKey { field }
            | Self::JwtAuthority { field, .. }
            | Self::DuplicateKeyId { field }
            | Self::Bundle { field, .. }
            | Self::Url { field }
            | Self::Unsupported { field } => field,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn paths_display_as_proto_field_names() {
        let path = FieldPath::new("entries")
            .at(3)
            .then("spiffe_id")
            .then("path");
        assert_eq!(path.to_string(), "entries[3].spiffe_id.path");
        assert_eq!(
            path.segments().collect::<Vec<_>>(),
            [("entries", Some(3)), ("spiffe_id", None), ("path", None)]
        );
    }

    #[test]
    fn within_prefixes_the_field_and_keeps_the_source() {
        let error = ConvertError::SpiffeId {
            field: FieldPath::new("spiffe_id").then("path"),
            source: IdError::PathNotAbsolute,
        }
        .within(FieldPath::new("entries").at(2));
        assert_eq!(error.field().to_string(), "entries[2].spiffe_id.path");
        assert_eq!(
            error.to_string(),
            "entries[2].spiffe_id.path is not a valid SPIFFE ID"
        );
        // The cause is the source, not repeated in the message.
        let source = error.source().expect("a source").to_string();
        assert!(!error.to_string().contains(&source));
    }
}
