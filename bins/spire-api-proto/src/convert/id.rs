//! `types::SPIFFEID` (trust domain and path apart) to and from [`SpiffeId`].

use spiffe_core::{SpiffeId, TrustDomain};

use super::{ConvertError, FieldPath};
use crate::types;

/// Joins SPIRE's two-part SPIFFE ID, as SPIRE does: the trust domain as a name (or, as
/// go-spiffe also accepts, a `spiffe://` ID whose trust domain is taken), and the path empty or
/// absolute.
///
/// Errors name `trust_domain` or `path`.
pub fn spiffe_id_from_proto(id: &types::Spiffeid) -> Result<SpiffeId, ConvertError> {
    let trust_domain = trust_domain_from_proto(&id.trust_domain, FieldPath::new("trust_domain"))?;
    SpiffeId::from_path(&trust_domain, &id.path).map_err(|source| ConvertError::SpiffeId {
        field: FieldPath::new("path"),
        source,
    })
}

/// Splits a SPIFFE ID into SPIRE's trust domain name and path.
pub fn spiffe_id_to_proto(id: &SpiffeId) -> types::Spiffeid {
    types::Spiffeid {
        trust_domain: id.trust_domain_name().to_owned(),
        path: id.path().to_owned(),
    }
}

/// A required `SPIFFEID` field of a message: unset is [`ConvertError::Missing`]; errors are
/// placed under `field`.
pub(super) fn required_id(
    id: Option<&types::Spiffeid>,
    field: &'static str,
) -> Result<SpiffeId, ConvertError> {
    let id = id.ok_or_else(|| ConvertError::Missing {
        field: FieldPath::new(field),
    })?;
    spiffe_id_from_proto(id).map_err(|e| e.within(FieldPath::new(field)))
}

/// A trust domain given by name in a string field (`Bundle.trust_domain`, `federates_with`).
pub(super) fn trust_domain_from_proto(
    name: &str,
    field: FieldPath,
) -> Result<TrustDomain, ConvertError> {
    TrustDomain::new(name).map_err(|source| ConvertError::TrustDomain { field, source })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use spiffe_core::IdError;

    use super::*;

    fn proto(trust_domain: &str, path: &str) -> types::Spiffeid {
        types::Spiffeid {
            trust_domain: trust_domain.into(),
            path: path.into(),
        }
    }

    #[test]
    fn round_trips() {
        for text in [
            "spiffe://example.org/ns/prod/sa/web",
            "spiffe://example.org",
            "spiffe://td-1.example_x/a/b.c/-_",
        ] {
            let id = SpiffeId::new(text).expect("valid");
            let message = spiffe_id_to_proto(&id);
            assert_eq!(spiffe_id_from_proto(&message), Ok(id));
        }
        let message =
            spiffe_id_to_proto(&SpiffeId::new("spiffe://example.org/web").expect("valid"));
        assert_eq!(message, proto("example.org", "/web"));
    }

    #[test]
    fn accepts_the_trust_domain_as_an_id_as_spire_does() {
        let id = spiffe_id_from_proto(&proto("spiffe://example.org", "/web")).expect("valid");
        assert_eq!(id.as_str(), "spiffe://example.org/web");
    }

    #[test]
    fn errors_name_the_part() {
        let error = spiffe_id_from_proto(&proto("Example.org", "/web")).unwrap_err();
        assert_eq!(error.field().to_string(), "trust_domain");
        assert!(matches!(
            error,
            ConvertError::TrustDomain {
                source: IdError::UppercaseTrustDomain { .. },
                ..
            }
        ));
        let error = spiffe_id_from_proto(&proto("", "/web")).unwrap_err();
        assert_eq!(error.field().to_string(), "trust_domain");
        let error = spiffe_id_from_proto(&proto("example.org", "web")).unwrap_err();
        assert_eq!(
            error,
            ConvertError::SpiffeId {
                field: FieldPath::new("path"),
                source: IdError::PathNotAbsolute
            }
        );
        for path in ["/a//b", "/a/../b", "/a/", "/a%20b"] {
            let error = spiffe_id_from_proto(&proto("example.org", path)).unwrap_err();
            assert_eq!(error.field().to_string(), "path", "{path}");
        }
        assert_eq!(
            required_id(None, "parent_id"),
            Err(ConvertError::Missing {
                field: FieldPath::new("parent_id")
            })
        );
        let error = required_id(Some(&proto("example.org", "x")), "parent_id").unwrap_err();
        assert_eq!(error.field().to_string(), "parent_id.path");
    }
}
