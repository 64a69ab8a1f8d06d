//! Provider material to wire messages: DER everywhere (WAPI-14), map keys `spiffe://<td>`
//! (WAPI-26), every mandatory field filled (WAPI-10, WAPI-13).

use std::collections::{BTreeMap, HashMap, HashSet};

use prost_types::value::Kind;
use serde_json::{Map, Value};
use spiffe_core::json::JsonObject;
use spiffe_core::pki_types::PrivateKeyDer;
use spiffe_core::X509Bundle;
use tonic::Status;

use crate::proto;
use crate::provider::{JwtBundles, X509Context};

/// The longest hint served (WAPI-25).
pub(crate) const MAX_HINT_LEN: usize = 1024;

/// The `FetchX509SVID` answer, or the status to end the stream with.
pub(crate) fn x509_svid_response(context: &X509Context) -> Result<proto::X509svidResponse, Status> {
    // WAPI-16: no X.509-SVID for the caller.
    if context.svids.is_empty() {
        return Err(Status::permission_denied("no identity issued"));
    }
    let bundle_of = |td: &str| -> Option<&X509Bundle> {
        context
            .bundles
            .iter()
            .map(|b| &**b)
            .find(|b| b.trust_domain().as_str() == td)
    };
    let mut own = HashSet::new();
    let mut hints = HashSet::new();
    let mut svids = Vec::with_capacity(context.svids.len());
    for entry in &context.svids {
        // WAPI-25: no hint over 1024 bytes; WAPI-15: a non-empty hint is unique, so a later
        // entry repeating one is left out (clients would use the first anyway).
        if entry.hint.len() > MAX_HINT_LEN
            || (!entry.hint.is_empty() && !hints.insert(entry.hint.as_str()))
        {
            continue;
        }
        let svid = &entry.svid;
        let td = svid.spiffe_id().trust_domain();
        // WAPI-13: `bundle` is mandatory; the provider must supply the SVID's own bundle.
        let Some(bundle) = bundle_of(td.as_str()).filter(|b| !b.is_empty()) else {
            return Err(Status::unavailable("no bundle for the SVID's trust domain"));
        };
        // WAPI-14: the key is unencrypted PKCS#8 DER.
        let PrivateKeyDer::Pkcs8(key) = svid.private_key() else {
            return Err(Status::internal("SVID key is not PKCS#8"));
        };
        own.insert(td.as_str().to_owned());
        svids.push(proto::X509svid {
            spiffe_id: svid.spiffe_id().as_str().to_owned(),
            // WAPI-14: concatenated DER, leaf first.
            x509_svid: concat_der(svid.chain().iter().map(|c| c.der().as_ref())),
            x509_svid_key: key.secret_pkcs8_der().to_vec(),
            bundle: bundle.to_der(),
            hint: entry.hint.clone(),
        });
    }
    // WAPI-12: at least one SVID, else the caller holds none that can be served.
    if svids.is_empty() {
        return Err(Status::permission_denied("no identity issued"));
    }
    let federated_bundles = context
        .bundles
        .iter()
        .filter(|b| !own.contains(b.trust_domain().as_str()))
        .map(|b| (b.trust_domain().id_str().to_owned(), b.to_der()))
        .collect();
    Ok(proto::X509svidResponse {
        svids,
        crl: Vec::new(),
        federated_bundles,
    })
}

/// The `FetchX509Bundles` answer.
pub(crate) fn x509_bundles_response(
    context: &X509Context,
) -> Result<proto::X509BundlesResponse, Status> {
    // WAPI-18: `bundles` is mandatory.
    if context.bundles.is_empty() {
        return Err(Status::permission_denied("no bundles for the caller"));
    }
    Ok(proto::X509BundlesResponse {
        crl: Vec::new(),
        // WAPI-26: keyed by the trust domain's SPIFFE ID.
        bundles: context
            .bundles
            .iter()
            .map(|b| (b.trust_domain().id_str().to_owned(), b.to_der()))
            .collect(),
    })
}

/// The `FetchJWTBundles` answer: each value a JWKS of JWT-SVID keys only (WAPI-21).
pub(crate) fn jwt_bundles_response(
    bundles: &JwtBundles,
) -> Result<proto::JwtBundlesResponse, Status> {
    if bundles.is_empty() {
        return Err(Status::permission_denied("no bundles for the caller"));
    }
    Ok(proto::JwtBundlesResponse {
        bundles: bundles
            .iter()
            .map(|b| (b.trust_domain().id_str().to_owned(), b.to_jwks_json()))
            .collect::<HashMap<_, _>>(),
    })
}

fn concat_der<'a>(certs: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for der in certs {
        out.extend_from_slice(der);
    }
    out
}

/// A token's claims as a `google.protobuf.Struct` (WAPI-22: `claims` is always filled).
pub(crate) fn claims_object_struct(claims: &JsonObject) -> prost_types::Struct {
    // Our own object's JSON text: it parses back.
    let map: Map<String, Value> = serde_json::from_str(&claims.to_json()).unwrap_or_default();
    claims_struct(&map)
}

/// JSON claims as a `google.protobuf.Struct`.
pub(crate) fn claims_struct(claims: &Map<String, Value>) -> prost_types::Struct {
    prost_types::Struct {
        fields: claims
            .iter()
            .map(|(k, v)| (k.clone(), json_value(v)))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn json_value(value: &Value) -> prost_types::Value {
    let kind = match value {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        // Struct numbers are doubles; JWT times fit exactly (below 2^53).
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(json_value).collect(),
        }),
        Value::Object(map) => Kind::StructValue(claims_struct(map)),
    };
    prost_types::Value { kind: Some(kind) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_material_is_permission_denied() {
        let context = X509Context::default();
        assert_eq!(
            x509_svid_response(&context).expect_err("no svids").code(),
            tonic::Code::PermissionDenied
        );
        assert_eq!(
            x509_bundles_response(&context)
                .expect_err("no bundles")
                .code(),
            tonic::Code::PermissionDenied
        );
        assert_eq!(
            jwt_bundles_response(&Vec::new())
                .expect_err("no bundles")
                .code(),
            tonic::Code::PermissionDenied
        );
    }

    #[test]
    fn claims_convert_every_json_type() {
        let json: Value = serde_json::json!({
            "sub": "spiffe://example.org/a",
            "aud": ["x", "y"],
            "exp": 1_700_000_000u64,
            "flag": true,
            "none": null,
            "nested": {"k": 1.5}
        });
        let Value::Object(map) = json else {
            panic!("object")
        };
        let s = claims_struct(&map);
        assert_eq!(
            s.fields["sub"].kind,
            Some(Kind::StringValue("spiffe://example.org/a".into()))
        );
        assert_eq!(
            s.fields["exp"].kind,
            Some(Kind::NumberValue(1_700_000_000.0))
        );
        assert_eq!(s.fields["flag"].kind, Some(Kind::BoolValue(true)));
        assert_eq!(s.fields["none"].kind, Some(Kind::NullValue(0)));
        let Some(Kind::ListValue(aud)) = &s.fields["aud"].kind else {
            panic!("aud is a list")
        };
        assert_eq!(aud.values.len(), 2);
        let Some(Kind::StructValue(nested)) = &s.fields["nested"].kind else {
            panic!("nested is a struct")
        };
        assert_eq!(nested.fields["k"].kind, Some(Kind::NumberValue(1.5)));
    }
}
