use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// A property of a node or a workload, written `type:value`: `unix:uid:1000`, `k8s:ns:prod`,
/// `x509pop:subject:cn:node-1`.
///
/// The type is the attestor's name and may not contain `:`; the value is everything after the
/// first `:` and may contain further colons. Both must be non-empty. Cloning is cheap (one
/// shared allocation). Selectors compare, order and hash by their full `type:value` text.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Selector {
    text: Arc<str>,
    type_len: usize,
}

/// The longest selector text accepted, in bytes.
const MAX_LEN: usize = 4096;

impl Selector {
    /// Builds a selector from its type and value.
    pub fn new(selector_type: &str, value: &str) -> Result<Self, SelectorError> {
        check_type(selector_type)?;
        check_value(value)?;
        let len = selector_type.len() + 1 + value.len();
        if len > MAX_LEN {
            return Err(SelectorError::TooLong { len, max: MAX_LEN });
        }
        let mut text = String::with_capacity(len);
        text.push_str(selector_type);
        text.push(':');
        text.push_str(value);
        Ok(Self {
            text: text.into(),
            type_len: selector_type.len(),
        })
    }

    /// Parses `type:value`, splitting at the first `:`.
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        if text.len() > MAX_LEN {
            return Err(SelectorError::TooLong {
                len: text.len(),
                max: MAX_LEN,
            });
        }
        let Some(colon) = text.find(':') else {
            return Err(SelectorError::MissingColon);
        };
        check_type(&text[..colon])?;
        check_value(&text[colon + 1..])?;
        Ok(Self {
            text: text.into(),
            type_len: colon,
        })
    }

    /// The selector's type: the name of the attestor that produces it (`unix`).
    pub fn selector_type(&self) -> &str {
        &self.text[..self.type_len]
    }

    /// The selector's value (`uid:1000`).
    pub fn value(&self) -> &str {
        &self.text[self.type_len + 1..]
    }

    /// The whole `type:value` text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

fn check_type(selector_type: &str) -> Result<(), SelectorError> {
    if selector_type.is_empty() {
        return Err(SelectorError::EmptyType);
    }
    if selector_type.contains(':') {
        return Err(SelectorError::ColonInType);
    }
    check_chars(selector_type)
}

fn check_value(value: &str) -> Result<(), SelectorError> {
    if value.is_empty() {
        return Err(SelectorError::EmptyValue);
    }
    check_chars(value)
}

/// Control characters (newlines, NUL) would let a selector forge lines in logs and in
/// line-oriented output.
fn check_chars(text: &str) -> Result<(), SelectorError> {
    match text.char_indices().find(|(_, c)| c.is_control()) {
        Some((at, _)) => Err(SelectorError::ControlCharacter { at }),
        None => Ok(()),
    }
}

// === impl Selector ===

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Selector({:?})", &*self.text)
    }
}

impl FromStr for Selector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Why a selector was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SelectorError {
    /// There is no `:` between type and value.
    #[error("a selector is written type:value; no ':' found")]
    MissingColon,
    /// The part before the first `:` is empty.
    #[error("the selector type (before the first ':') is empty")]
    EmptyType,
    /// A selector type given on its own contains `:`.
    #[error("a selector type may not contain ':'")]
    ColonInType,
    /// The part after the first `:` is empty.
    #[error("the selector value (after the first ':') is empty")]
    EmptyValue,
    /// A control character (newline, NUL, ...) appears in the selector.
    #[error("control character at byte {at} of the selector")]
    ControlCharacter {
        /// Byte offset within the type or the value.
        at: usize,
    },
    /// The selector is longer than the limit.
    #[error("selector is {len} bytes, the limit is {max}")]
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_at_the_first_colon() {
        let s = Selector::parse("unix:uid:1000").unwrap();
        assert_eq!(s.selector_type(), "unix");
        assert_eq!(s.value(), "uid:1000");
        assert_eq!(s.to_string(), "unix:uid:1000");
        assert_eq!(Selector::new("unix", "uid:1000").unwrap(), s);
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(Selector::parse("unix"), Err(SelectorError::MissingColon));
        assert_eq!(Selector::parse(":x"), Err(SelectorError::EmptyType));
        assert_eq!(Selector::parse("unix:"), Err(SelectorError::EmptyValue));
        assert_eq!(
            Selector::parse("unix:uid:1\n"),
            Err(SelectorError::ControlCharacter { at: 5 })
        );
        assert!(matches!(
            Selector::parse(&format!("a:{}", "x".repeat(MAX_LEN))),
            Err(SelectorError::TooLong { .. })
        ));
        assert_eq!(
            Selector::new("un:ix", "uid"),
            Err(SelectorError::ColonInType)
        );
    }
}
