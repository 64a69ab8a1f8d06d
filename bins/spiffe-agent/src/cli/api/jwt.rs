//! `api fetch jwt`, `api fetch jwtbundle` and `api validate jwt`.

use std::time::Duration;

use serde_json::{json, Map, Value};
use spiffe_workload::proto::{JwtBundlesRequest, JwtsvidRequest, ValidateJwtsvidRequest};
use spire_config::flags::Parsed;

use super::{b64, request, rpc_error, Client, Flags};
use crate::cli::Env;

async fn jwt_bundles(
    client: &mut Client,
    timeout: Duration,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut stream = client
        .fetch_jwt_bundles(request(JwtBundlesRequest {}, Some(timeout)))
        .await
        .map_err(|s| format!("failed to receive JWT bundles: {}", rpc_error(&s)))?
        .into_inner();
    let response = stream
        .message()
        .await
        .map_err(|s| rpc_error(&s))?
        .ok_or("rpc error: code = Unavailable desc = the stream ended without a response")?;
    let mut bundles: Vec<(String, Vec<u8>)> = response.bundles.into_iter().collect();
    bundles.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(bundles)
}

fn bundles_json(bundles: &[(String, Vec<u8>)]) -> Value {
    Value::Object(
        bundles
            .iter()
            .map(|(td, jwks)| (td.clone(), Value::String(b64(jwks))))
            .collect(),
    )
}

pub(super) async fn fetch_jwt(
    mut client: Client,
    f: &Flags,
    parsed: &Parsed,
    timeout: Duration,
    json: bool,
    env: &mut Env,
) -> Result<(), String> {
    let audience = f
        .audience
        .as_ref()
        .map(|a| parsed.get(a).clone())
        .unwrap_or_default();
    if audience.is_empty() {
        return Err("audience must be specified".into());
    }
    let spiffe_id = f
        .spiffe_id
        .as_ref()
        .map(|s| parsed.get(s).clone())
        .unwrap_or_default();
    let bundles = jwt_bundles(&mut client, timeout).await?;
    let response = client
        .fetch_jwtsvid(request(
            JwtsvidRequest {
                audience,
                spiffe_id,
            },
            Some(timeout),
        ))
        .await
        .map_err(|s| rpc_error(&s))?
        .into_inner();
    if json {
        let svids: Vec<Value> = response
            .svids
            .iter()
            .map(|s| json!({"spiffe_id": s.spiffe_id, "svid": s.svid, "hint": s.hint}))
            .collect();
        let out = json!([{"svids": svids}, {"bundles": bundles_json(&bundles)}]);
        env.println(&out.to_string());
        return Ok(());
    }
    for svid in &response.svids {
        env.println(&format!("token({}):\n\t{}", svid.spiffe_id, svid.svid));
    }
    for (td, jwks) in &bundles {
        env.println(&format!(
            "bundle({td}):\n\t{}",
            String::from_utf8_lossy(jwks)
        ));
    }
    Ok(())
}

pub(super) async fn fetch_jwt_bundle(
    mut client: Client,
    timeout: Duration,
    json: bool,
    env: &mut Env,
) -> Result<(), String> {
    let bundles = jwt_bundles(&mut client, timeout).await?;
    if json {
        env.println(&json!({"bundles": bundles_json(&bundles)}).to_string());
        return Ok(());
    }
    for (td, jwks) in &bundles {
        env.println(&format!(
            "bundle({td}):\n\t{}",
            String::from_utf8_lossy(jwks)
        ));
    }
    Ok(())
}

/// A protobuf `Struct` as JSON.
fn struct_json(s: &prost_types::Struct) -> Value {
    Value::Object(
        s.fields
            .iter()
            .map(|(k, v)| (k.clone(), value_json(v)))
            .collect(),
    )
}

fn value_json(v: &prost_types::Value) -> Value {
    use prost_types::value::Kind as K;
    match &v.kind {
        None | Some(K::NullValue(_)) => Value::Null,
        Some(K::NumberValue(n)) => {
            serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number)
        }
        Some(K::StringValue(s)) => Value::String(s.clone()),
        Some(K::BoolValue(b)) => Value::Bool(*b),
        Some(K::StructValue(s)) => struct_json(s),
        Some(K::ListValue(l)) => Value::Array(l.values.iter().map(value_json).collect()),
    }
}

pub(super) async fn validate_jwt(
    mut client: Client,
    f: &Flags,
    parsed: &Parsed,
    timeout: Duration,
    json: bool,
    env: &mut Env,
) -> Result<(), String> {
    let audience = f
        .audience_one
        .as_ref()
        .map(|a| parsed.get(a).clone())
        .unwrap_or_default();
    let svid = f
        .svid
        .as_ref()
        .map(|s| parsed.get(s).clone())
        .unwrap_or_default();
    if audience.is_empty() {
        return Err("audience must be specified".into());
    }
    if svid.is_empty() {
        return Err("svid must be specified".into());
    }
    let response = client
        .validate_jwtsvid(request(
            ValidateJwtsvidRequest { audience, svid },
            Some(timeout),
        ))
        .await
        .map_err(|s| match s.code() {
            tonic::Code::InvalidArgument => format!("SVID is not valid: {}", s.message()),
            _ => format!("unable to validate JWT SVID: {}", rpc_error(&s)),
        })?
        .into_inner();
    let claims = response
        .claims
        .as_ref()
        .map_or(Value::Object(Map::new()), struct_json);
    if json {
        env.println(&json!({"spiffe_id": response.spiffe_id, "claims": claims}).to_string());
        return Ok(());
    }
    env.println("SVID is valid.");
    env.println(&format!("SPIFFE ID : {}", response.spiffe_id));
    env.println(&format!("Claims    : {claims}"));
    Ok(())
}
