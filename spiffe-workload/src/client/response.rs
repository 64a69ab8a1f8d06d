//! Workload API response messages to `spiffe-core` types, refusing what the standard does
//! not allow (WAPI-10: a response with an empty mandatory field is reported and discarded).
//!
//! [`WorkloadApiClient`](super::WorkloadApiClient) runs every answer through these; they are
//! public for messages obtained another way (a recorded stream, another transport, fuzzing).

use std::sync::Arc;

use prost_types::value::Kind;
use serde_json::{Map, Number, Value};
use spiffe_core::json::JsonObject;
use spiffe_core::x509::{parse_certificates, X509Error};
use spiffe_core::{BundleSet, JwtBundle, SpiffeId, TrustDomain, UnverifiedJwtSvid};
use spiffe_core::{X509Bundle, X509Svid};

use super::error::MalformedResponse;
use super::ValidatedJwtSvid;
use crate::proto;
use crate::provider::{JwtSvidEntry, X509Context, X509SvidEntry};

/// A `FetchX509SVID` message as an [`X509Context`]: the SVIDs in order (WAPI-24: the first is
/// the default), then one bundle per trust domain, own ones first, federated ones after.
pub fn x509_context(response: proto::X509svidResponse) -> Result<X509Context, MalformedResponse> {
    // WAPI-12: at least one SVID.
    if response.svids.is_empty() {
        return Err(MalformedResponse::NoSvids);
    }
    let mut svids = Vec::with_capacity(response.svids.len());
    let mut bundles: Vec<Arc<X509Bundle>> = Vec::new();
    for (index, wire) in response.svids.into_iter().enumerate() {
        // WAPI-13: spiffe_id, x509_svid, x509_svid_key and bundle are mandatory.
        let missing = |field| MalformedResponse::MissingField {
            field,
            index: Some(index),
        };
        if wire.spiffe_id.is_empty() {
            return Err(missing("spiffe_id"));
        }
        if wire.x509_svid.is_empty() {
            return Err(missing("x509_svid"));
        }
        if wire.x509_svid_key.is_empty() {
            return Err(missing("x509_svid_key"));
        }
        if wire.bundle.is_empty() {
            return Err(missing("bundle"));
        }
        let spiffe_id =
            SpiffeId::new(&wire.spiffe_id).map_err(|source| MalformedResponse::SpiffeId {
                index: Some(index),
                source,
            })?;
        // WAPI-14: concatenated DER chain, leaf first, and an unencrypted PKCS#8 DER key.
        let svid = X509Svid::parse_der(&wire.x509_svid, &wire.x509_svid_key)
            .map_err(|source| MalformedResponse::X509Svid { index, source })?;
        if svid.spiffe_id() != &spiffe_id {
            return Err(MalformedResponse::SpiffeIdMismatch { index });
        }
        let trust_domain = spiffe_id.trust_domain();
        if !bundles.iter().any(|b| b.trust_domain() == &trust_domain) {
            bundles.push(Arc::new(x509_bundle(trust_domain, &wire.bundle)?));
        }
        svids.push(X509SvidEntry {
            svid: Arc::new(svid),
            hint: wire.hint,
        });
    }
    // WAPI-9: the federated bundles of this message replace any held before.
    let mut federated = Vec::with_capacity(response.federated_bundles.len());
    for (key, der) in response.federated_bundles {
        let trust_domain = bundle_key(&key)?;
        // An SVID's own `bundle` field is authoritative for its trust domain.
        if bundles.iter().any(|b| b.trust_domain() == &trust_domain) {
            continue;
        }
        federated.push(Arc::new(x509_bundle(trust_domain, &der)?));
    }
    federated.sort_by(|a, b| a.trust_domain().cmp(b.trust_domain()));
    bundles.extend(federated);
    Ok(X509Context { svids, bundles })
}

/// A `FetchX509Bundles` message as a [`BundleSet`] of X.509 bundles.
pub fn x509_bundles(response: proto::X509BundlesResponse) -> Result<BundleSet, MalformedResponse> {
    // WAPI-18: `bundles` is mandatory.
    if response.bundles.is_empty() {
        return Err(MalformedResponse::NoBundles);
    }
    let mut set = BundleSet::new();
    for (key, der) in response.bundles {
        let trust_domain = bundle_key(&key)?;
        set.insert_x509(x509_bundle(trust_domain, &der)?);
    }
    Ok(set)
}

/// A `FetchJWTBundles` message as a [`BundleSet`] of JWT bundles (plain JWKS, trap 6).
pub fn jwt_bundles(response: proto::JwtBundlesResponse) -> Result<BundleSet, MalformedResponse> {
    // WAPI-21: `bundles` is mandatory.
    if response.bundles.is_empty() {
        return Err(MalformedResponse::NoBundles);
    }
    let mut set = BundleSet::new();
    for (key, jwks) in response.bundles {
        let trust_domain = bundle_key(&key)?;
        let bundle = JwtBundle::parse_jwks(trust_domain.clone(), &jwks).map_err(|source| {
            MalformedResponse::JwtBundle {
                trust_domain,
                source,
            }
        })?;
        set.insert_jwt(bundle);
    }
    Ok(set)
}

/// A `FetchJWTSVID` answer: each token structurally checked and matching its `spiffe_id`.
pub fn jwt_svids(response: proto::JwtsvidResponse) -> Result<Vec<JwtSvidEntry>, MalformedResponse> {
    // WAPI-19: at least one JWT-SVID.
    if response.svids.is_empty() {
        return Err(MalformedResponse::NoSvids);
    }
    response
        .svids
        .into_iter()
        .enumerate()
        .map(|(index, wire)| {
            let missing = |field| MalformedResponse::MissingField {
                field,
                index: Some(index),
            };
            // WAPI-19: spiffe_id and svid are mandatory.
            if wire.spiffe_id.is_empty() {
                return Err(missing("spiffe_id"));
            }
            if wire.svid.is_empty() {
                return Err(missing("svid"));
            }
            let spiffe_id =
                SpiffeId::new(&wire.spiffe_id).map_err(|source| MalformedResponse::SpiffeId {
                    index: Some(index),
                    source,
                })?;
            let parsed = UnverifiedJwtSvid::parse_insecure(&wire.svid)
                .map_err(|source| MalformedResponse::JwtSvid { index, source })?;
            if parsed.spiffe_id() != &spiffe_id {
                return Err(MalformedResponse::SpiffeIdMismatch { index });
            }
            Ok(JwtSvidEntry {
                spiffe_id,
                token: wire.svid,
                hint: wire.hint,
            })
        })
        .collect()
}

/// A `ValidateJWTSVID` answer (WAPI-22: `spiffe_id` and `claims` are mandatory).
pub fn validated_jwt_svid(
    response: proto::ValidateJwtsvidResponse,
) -> Result<ValidatedJwtSvid, MalformedResponse> {
    if response.spiffe_id.is_empty() {
        return Err(MalformedResponse::MissingField {
            field: "spiffe_id",
            index: None,
        });
    }
    let spiffe_id =
        SpiffeId::new(&response.spiffe_id).map_err(|source| MalformedResponse::SpiffeId {
            index: None,
            source,
        })?;
    let Some(claims) = response.claims else {
        return Err(MalformedResponse::MissingField {
            field: "claims",
            index: None,
        });
    };
    Ok(ValidatedJwtSvid {
        spiffe_id,
        claims: claims_object(claims.fields)?,
    })
}

/// A bundle map key: `spiffe://<td>` as servers send it, or a bare name (WAPI-26, vector 142).
fn bundle_key(key: &str) -> Result<TrustDomain, MalformedResponse> {
    TrustDomain::new(key).map_err(MalformedResponse::BundleKey)
}

/// Concatenated DER CA certificates (WAPI-14: nothing is PEM).
fn x509_bundle(trust_domain: TrustDomain, der: &[u8]) -> Result<X509Bundle, MalformedResponse> {
    // An empty value is an empty bundle: nothing of that trust domain is trusted (BUNDLE-9).
    if der.is_empty() {
        return Ok(X509Bundle::new(trust_domain));
    }
    let certs = if der.first() == Some(&0x30) {
        parse_certificates(der)
    } else {
        Err(X509Error::MalformedCertificate)
    };
    match certs {
        Ok(certs) => Ok(X509Bundle::from_authorities(trust_domain, certs)),
        Err(source) => Err(MalformedResponse::X509Bundle {
            trust_domain,
            source,
        }),
    }
}

/// The claims as our `JsonObject`, through the JSON text of the converted `Struct`.
fn claims_object(
    fields: impl IntoIterator<Item = (String, prost_types::Value)>,
) -> Result<JsonObject, MalformedResponse> {
    let map = json_object(fields)?;
    // A `Map` of finite numbers always serializes, and its text is an object.
    let text = serde_json::to_vec(&map).unwrap_or_default();
    JsonObject::from_json(&text).map_err(|_| MalformedResponse::Claim {
        claim: String::from("claims"),
    })
}

fn json_object(
    fields: impl IntoIterator<Item = (String, prost_types::Value)>,
) -> Result<Map<String, Value>, MalformedResponse> {
    let mut map = Map::new();
    for (name, value) in fields {
        let value = match json_value(value) {
            Some(value) => value,
            None => return Err(MalformedResponse::Claim { claim: name }),
        };
        map.insert(name, value);
    }
    Ok(map)
}

fn json_value(value: prost_types::Value) -> Option<Value> {
    Some(match value.kind? {
        Kind::NullValue(_) => Value::Null,
        Kind::BoolValue(b) => Value::Bool(b),
        Kind::NumberValue(n) => number(n)?,
        Kind::StringValue(s) => Value::String(s),
        Kind::ListValue(list) => Value::Array(
            list.values
                .into_iter()
                .map(json_value)
                .collect::<Option<Vec<_>>>()?,
        ),
        Kind::StructValue(s) => Value::Object(json_object(s.fields).ok()?),
    })
}

/// Struct numbers are doubles; integral values (JWT times) come back as JSON integers.
fn number(n: f64) -> Option<Value> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if n.fract() == 0.0 && n.abs() <= EXACT {
        return Some(Value::Number(if n < 0.0 {
            Number::from(n as i64)
        } else {
            Number::from(n as u64)
        }));
    }
    Number::from_f64(n).map(Value::Number)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bundle_keys_accept_both_forms() {
        assert_eq!(
            bundle_key("spiffe://example.org").unwrap().as_str(),
            "example.org"
        );
        assert_eq!(bundle_key("example.org").unwrap().as_str(), "example.org");
        assert!(matches!(
            bundle_key("Example.org"),
            Err(MalformedResponse::BundleKey(_))
        ));
        assert!(bundle_key("").is_err());
    }

    #[test]
    fn empty_messages_are_malformed() {
        assert!(matches!(
            x509_context(proto::X509svidResponse::default()),
            Err(MalformedResponse::NoSvids)
        ));
        assert!(matches!(
            x509_bundles(proto::X509BundlesResponse::default()),
            Err(MalformedResponse::NoBundles)
        ));
        assert!(matches!(
            jwt_bundles(proto::JwtBundlesResponse::default()),
            Err(MalformedResponse::NoBundles)
        ));
        assert!(matches!(
            jwt_svids(proto::JwtsvidResponse::default()),
            Err(MalformedResponse::NoSvids)
        ));
    }

    #[test]
    fn missing_svid_fields_are_named() {
        let svid = proto::X509svid {
            spiffe_id: "spiffe://example.org/w".into(),
            x509_svid: vec![0x30, 0x00],
            x509_svid_key: vec![0x30, 0x00],
            bundle: Vec::new(),
            hint: String::new(),
        };
        let response = proto::X509svidResponse {
            svids: vec![svid.clone(), svid],
            ..Default::default()
        };
        assert!(matches!(
            x509_context(response),
            Err(MalformedResponse::MissingField {
                field: "bundle",
                index: Some(0)
            })
        ));
        let bad_der = proto::X509svidResponse {
            svids: vec![proto::X509svid {
                spiffe_id: "spiffe://example.org/w".into(),
                x509_svid: vec![0x30, 0x03, 1],
                x509_svid_key: vec![0x30, 0x00],
                bundle: vec![0x30],
                hint: String::new(),
            }],
            ..Default::default()
        };
        assert!(matches!(
            x509_context(bad_der),
            Err(MalformedResponse::X509Svid { index: 0, .. })
        ));
        let jwt = proto::JwtsvidResponse {
            svids: vec![proto::Jwtsvid {
                spiffe_id: "spiffe://example.org/w".into(),
                svid: "not.a.jwt".into(),
                hint: String::new(),
            }],
        };
        let err = jwt_svids(jwt).expect_err("malformed token");
        assert!(matches!(err, MalformedResponse::JwtSvid { index: 0, .. }));
        assert!(!format!("{err} {err:?}").contains("not.a.jwt"));
    }

    #[test]
    fn pem_bundles_are_refused() {
        let td = TrustDomain::new("example.org").unwrap();
        assert!(matches!(
            x509_bundle(td.clone(), b"-----BEGIN CERTIFICATE-----\n"),
            Err(MalformedResponse::X509Bundle { .. })
        ));
        assert!(x509_bundle(td, b"").unwrap().is_empty());
    }

    #[test]
    fn claims_come_back_as_json() {
        let s = |v: &str| prost_types::Value {
            kind: Some(Kind::StringValue(v.into())),
        };
        let n = |v: f64| prost_types::Value {
            kind: Some(Kind::NumberValue(v)),
        };
        let response = proto::ValidateJwtsvidResponse {
            spiffe_id: "spiffe://example.org/w".into(),
            claims: Some(prost_types::Struct {
                fields: [
                    ("sub".to_owned(), s("spiffe://example.org/w")),
                    ("exp".to_owned(), n(1_700_000_000.0)),
                    ("ratio".to_owned(), n(1.5)),
                    ("neg".to_owned(), n(-3.0)),
                    (
                        "aud".to_owned(),
                        prost_types::Value {
                            kind: Some(Kind::ListValue(prost_types::ListValue {
                                values: vec![s("a")],
                            })),
                        },
                    ),
                ]
                .into(),
            }),
        };
        let ok = validated_jwt_svid(response).unwrap();
        assert_eq!(ok.claims.get_u64("exp"), Some(1_700_000_000));
        assert_eq!(ok.claims.get_f64("ratio"), Some(1.5));
        assert_eq!(ok.claims.get_i64("neg"), Some(-3));
        assert_eq!(ok.claims.get_json("neg").as_deref(), Some("-3"));
        assert_eq!(ok.claims.get_strs("aud"), Some(vec!["a"]));
        let no_claims = proto::ValidateJwtsvidResponse {
            spiffe_id: "spiffe://example.org/w".into(),
            claims: None,
        };
        assert!(matches!(
            validated_jwt_svid(no_claims),
            Err(MalformedResponse::MissingField {
                field: "claims",
                ..
            })
        ));
        let nan = proto::ValidateJwtsvidResponse {
            spiffe_id: "spiffe://example.org/w".into(),
            claims: Some(prost_types::Struct {
                fields: [("x".to_owned(), n(f64::NAN))].into(),
            }),
        };
        assert!(matches!(
            validated_jwt_svid(nan),
            Err(MalformedResponse::Claim { .. })
        ));
    }
}
