//! `types::Selector` to and from [`Selector`].

use spiffe_attest::{Selector, SelectorError};

use super::{ConvertError, FieldPath};
use crate::types;

/// A selector from its type and value. Errors name `type` or `value`, whichever is at fault
/// (a selector over the length limit is blamed on its value).
pub fn selector_from_proto(selector: &types::Selector) -> Result<Selector, ConvertError> {
    Selector::new(&selector.r#type, &selector.value).map_err(|source| {
        let part = match source {
            SelectorError::EmptyType | SelectorError::ColonInType => "type",
            SelectorError::ControlCharacter { .. }
                if selector.r#type.chars().any(char::is_control) =>
            {
                "type"
            }
            _ => "value",
        };
        ConvertError::Selector {
            field: FieldPath::new(part),
            source,
        }
    })
}

/// A selector as its type and value.
pub fn selector_to_proto(selector: &Selector) -> types::Selector {
    types::Selector {
        r#type: selector.selector_type().to_owned(),
        value: selector.value().to_owned(),
    }
}

/// The selectors of a repeated field; errors are placed under `field[i]`.
pub(super) fn selectors_from_proto(
    selectors: &[types::Selector],
    field: &'static str,
) -> Result<Vec<Selector>, ConvertError> {
    selectors
        .iter()
        .enumerate()
        .map(|(i, s)| selector_from_proto(s).map_err(|e| e.within(FieldPath::new(field).at(i))))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn proto(selector_type: &str, value: &str) -> types::Selector {
        types::Selector {
            r#type: selector_type.into(),
            value: value.into(),
        }
    }

    #[test]
    fn round_trips() {
        for text in ["unix:uid:1000", "k8s:ns:prod", "x509pop:subject:cn:node-1"] {
            let selector = Selector::parse(text).expect("valid");
            let message = selector_to_proto(&selector);
            assert_eq!(selector_from_proto(&message).as_ref(), Ok(&selector));
        }
        let message = selector_to_proto(&Selector::parse("unix:uid:1000").expect("valid"));
        assert_eq!(message, proto("unix", "uid:1000"));
    }

    #[test]
    fn errors_name_type_or_value() {
        let field = |selector: types::Selector| {
            selector_from_proto(&selector)
                .unwrap_err()
                .field()
                .to_string()
        };
        assert_eq!(field(proto("", "uid:1")), "type");
        assert_eq!(field(proto("un:ix", "uid:1")), "type");
        assert_eq!(field(proto("un\nix", "uid:1")), "type");
        assert_eq!(field(proto("unix", "")), "value");
        assert_eq!(field(proto("unix", "uid:1\n")), "value");
        assert_eq!(field(proto("unix", &"x".repeat(5000))), "value");
        let error = selectors_from_proto(&[proto("unix", "uid:1"), proto("unix", "")], "selectors")
            .unwrap_err();
        assert_eq!(error.field().to_string(), "selectors[1].value");
        assert!(matches!(
            error,
            ConvertError::Selector {
                source: SelectorError::EmptyValue,
                ..
            }
        ));
    }
}
