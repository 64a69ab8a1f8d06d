//! Borrowed views of the JOSE header and the registered claims, deserialized with serde
//! straight from the decoded bytes (no intermediate `Value`). Strings borrow from the input
//! unless they contain escapes.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::HeaderParameter;

/// The JOSE header, with every oddity recorded rather than failed on, so the caller can check
/// the rules in the order of §1.3.
#[derive(Default)]
pub(super) struct RawHeader<'a> {
    /// `None`: absent. `Some(None)`: not a string.
    pub(super) alg: Option<Option<Cow<'a, str>>>,
    pub(super) kid: Option<Option<Cow<'a, str>>>,
    pub(super) typ: Option<Option<Cow<'a, str>>>,
    /// The first parameter that is not `alg`, `kid` or `typ` (JWT-3).
    pub(super) extra: Option<HeaderParameter>,
    /// A parameter appeared twice (RFC 7515 §4: names MUST be unique).
    pub(super) duplicate: bool,
}

/// The registered claims a JWT-SVID validator needs; other claims are skipped (JWT-8).
/// serde rejects a repeated `sub`, `aud`, `exp` or `nbf`.
#[derive(Deserialize)]
pub(super) struct RawClaims<'a> {
    #[serde(borrow, default, deserialize_with = "string")]
    pub(super) sub: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) aud: Option<RawAudience<'a>>,
    #[serde(default)]
    pub(super) exp: Option<NumericDate>,
    #[serde(default)]
    pub(super) nbf: Option<NumericDate>,
}

/// `aud`: one string or an array of strings (RFC 7519 §4.1.3, trap 5).
pub(super) enum RawAudience<'a> {
    One(Cow<'a, str>),
    Many(Vec<Cow<'a, str>>),
}

/// A claim that must be a NumericDate (RFC 7519 §2): any JSON number; anything else is kept
/// as `NotANumber` so the caller reports the right rule.
pub(super) enum NumericDate {
    Int(i64),
    Float(f64),
    NotANumber,
}

// === impl RawHeader ===

impl<'de: 'a, 'a> Deserialize<'de> for RawHeader<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(HeaderVisitor)
    }
}

struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = RawHeader<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JOSE header object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut header = RawHeader::default();
        while let Some(Str(name)) = map.next_key::<Str<'de>>()? {
            let slot = match &*name {
                "alg" => &mut header.alg,
                "kid" => &mut header.kid,
                "typ" => &mut header.typ,
                other => {
                    header.extra.get_or_insert(match other {
                        "jku" => HeaderParameter::Jku,
                        "jwk" => HeaderParameter::Jwk,
                        "x5u" => HeaderParameter::X5u,
                        "x5c" => HeaderParameter::X5c,
                        "crit" => HeaderParameter::Crit,
                        _ => HeaderParameter::Other,
                    });
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            let value = map.next_value::<StrOrOther<'de>>()?.0;
            if slot.is_some() {
                header.duplicate = true;
            }
            *slot = Some(value);
        }
        Ok(header)
    }
}

// === impl RawAudience ===

impl RawAudience<'_> {
    pub(super) fn is_empty(&self) -> bool {
        matches!(self, Self::Many(v) if v.is_empty())
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &str> {
        let (one, many) = match self {
            Self::One(s) => (Some(&**s), &[][..]),
            Self::Many(v) => (None, &v[..]),
        };
        one.into_iter().chain(many.iter().map(|s| &**s))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawAudience<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AudienceVisitor)
    }
}

struct AudienceVisitor;

impl<'de> Visitor<'de> for AudienceVisitor {
    type Value = RawAudience<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an array of strings")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(RawAudience::One(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(RawAudience::One(Cow::Owned(v.to_owned())))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(1).min(16));
        while let Some(Str(value)) = seq.next_element::<Str<'de>>()? {
            values.push(value);
        }
        Ok(RawAudience::Many(values))
    }
}

// === impl NumericDate ===

impl NumericDate {
    /// Whole seconds rounded down, for `exp`.
    pub(super) fn floor_secs(&self) -> Option<i64> {
        match *self {
            Self::Int(i) => Some(i),
            // `as` saturates; JSON has no NaN or infinity.
            Self::Float(f) => Some(f.floor() as i64),
            Self::NotANumber => None,
        }
    }

    /// Whole seconds rounded up, for `nbf`.
    pub(super) fn ceil_secs(&self) -> Option<i64> {
        match *self {
            Self::Int(i) => Some(i),
            Self::Float(f) => Some(f.ceil() as i64),
            Self::NotANumber => None,
        }
    }
}

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NumericDateVisitor)
    }
}

struct NumericDateVisitor;

impl<'de> Visitor<'de> for NumericDateVisitor {
    type Value = NumericDate;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a NumericDate")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(NumericDate::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(NumericDate::Int(i64::try_from(v).unwrap_or(i64::MAX)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(NumericDate::Float(v))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(NumericDate::NotANumber)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(NumericDate::NotANumber)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(NumericDate::NotANumber)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(NumericDate::NotANumber)
    }
}

// === string helpers ===

/// A JSON string, borrowed when it has no escapes.
struct Str<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(StrVisitor)
    }
}

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Str<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Str(Cow::Owned(v.to_owned())))
    }
}

/// Any JSON value: `Some` string, or `None` for every other type.
struct StrOrOther<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for StrOrOther<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrOrOtherVisitor)
    }
}

struct StrOrOtherVisitor;

impl<'de> Visitor<'de> for StrOrOtherVisitor {
    type Value = StrOrOther<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(StrOrOther(Some(Cow::Borrowed(v))))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(StrOrOther(Some(Cow::Owned(v.to_owned()))))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(StrOrOther(None))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(StrOrOther(None))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(StrOrOther(None))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(StrOrOther(None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(StrOrOther(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(StrOrOther(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(StrOrOther(None))
    }
}

/// `deserialize_with` for an optional claim that must be a string.
fn string<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'a, str>>, D::Error> {
    Str::deserialize(d).map(|s| Some(s.0))
}
