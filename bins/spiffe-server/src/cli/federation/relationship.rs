//! A federation relationship as the `federation` commands read it (flags, or a `-data` JSON
//! file) and print it (SPIRE's text and `types.FederationRelationship` JSON).

use serde_json::{json, Value};
use spire_api_proto::types;
use spire_api_proto::types::federation_relationship::BundleEndpointProfile;
use spire_config::flags::{Flag, FlagSet, Parsed};

use super::super::bundle::parse_bundle;
use super::super::client::SocketFlags;
use super::super::common::{bundle_json, output_flag, parse_id, read_input, Output};

const HTTPS_WEB: &str = "https_web";
const HTTPS_SPIFFE: &str = "https_spiffe";

/// `types.FederationRelationship`, or null.
pub(super) fn relationship_json(fr: Option<&types::FederationRelationship>) -> Value {
    let Some(fr) = fr else { return Value::Null };
    let mut v = json!({
        "trust_domain": fr.trust_domain,
        "bundle_endpoint_url": fr.bundle_endpoint_url,
        "trust_domain_bundle": bundle_json(fr.trust_domain_bundle.as_ref()),
    });
    match &fr.bundle_endpoint_profile {
        Some(BundleEndpointProfile::HttpsWeb(_)) => v["https_web"] = json!({}),
        Some(BundleEndpointProfile::HttpsSpiffe(p)) => {
            v["https_spiffe"] = json!({"endpoint_spiffe_id": p.endpoint_spiffe_id});
        }
        None => {}
    }
    v
}

/// SPIRE's `printFederationRelationship`.
pub(super) fn relationship_text(fr: &types::FederationRelationship) -> String {
    let mut out = format!(
        "Trust domain              : {}\nBundle endpoint URL       : {}\n",
        fr.trust_domain, fr.bundle_endpoint_url
    );
    match &fr.bundle_endpoint_profile {
        Some(BundleEndpointProfile::HttpsWeb(_)) => {
            out.push_str("Bundle endpoint profile   : https_web\n");
        }
        Some(BundleEndpointProfile::HttpsSpiffe(p)) => {
            out.push_str("Bundle endpoint profile   : https_spiffe\n");
            out.push_str(&format!(
                "Endpoint SPIFFE ID        : {}\n",
                p.endpoint_spiffe_id
            ));
        }
        None => {}
    }
    out
}

/// One relationship as the flags or a `-data` item give it.
#[derive(Default)]
struct Config {
    trust_domain: String,
    bundle_endpoint_url: String,
    bundle_endpoint_profile: String,
    endpoint_spiffe_id: String,
    bundle: Option<Value>,
    bundle_format: String,
    bundle_path: String,
}

/// SPIRE's `jsonToProto`.
fn to_proto(c: &Config) -> Result<types::FederationRelationship, String> {
    if c.trust_domain.is_empty() {
        return Err("trust domain is required".into());
    }
    if c.bundle_endpoint_url.is_empty() {
        return Err("bundle endpoint URL is required".into());
    }
    let mut bundle_td = c.trust_domain.clone();
    let profile = match c.bundle_endpoint_profile.as_str() {
        HTTPS_WEB => BundleEndpointProfile::HttpsWeb(types::HttpsWebProfile {}),
        HTTPS_SPIFFE => {
            if c.endpoint_spiffe_id.is_empty() {
                return Err(
                    "endpoint SPIFFE ID is required if 'https_spiffe' endpoint profile is set"
                        .into(),
                );
            }
            let id = parse_id(&c.endpoint_spiffe_id)
                .map_err(|e| format!("cannot parse bundle endpoint SPIFFE ID: {e}"))?;
            bundle_td = id.trust_domain;
            BundleEndpointProfile::HttpsSpiffe(types::HttpsspiffeProfile {
                endpoint_spiffe_id: c.endpoint_spiffe_id.clone(),
            })
        }
        other => {
            return Err(format!("unknown bundle endpoint profile type: \"{other}\""));
        }
    };
    let bundle = if !c.bundle_path.is_empty() {
        let data = std::fs::read(&c.bundle_path).map_err(|e| {
            format!(
                "cannot read bundle file: {}",
                super::super::common::go_open_error(&c.bundle_path, &e)
            )
        })?;
        Some(
            parse_bundle(&data, &c.bundle_format, &bundle_td)
                .map_err(|e| format!("cannot parse bundle file: {e}"))?,
        )
    } else if let Some(raw) = &c.bundle {
        let data = match c.bundle_format.as_str() {
            "pem" => match raw {
                Value::String(s) => s.clone().into_bytes(),
                _ => {
                    return Err("cannot parse bundle raw message: failed to unmarshal json: json: cannot unmarshal into Go value of type string".into())
                }
            },
            "spiffe" => serde_json::to_vec(raw).unwrap_or_default(),
            other => {
                return Err(format!(
                    "cannot parse bundle raw message: bundle format \"{other}\" is unsupported"
                ))
            }
        };
        Some(
            parse_bundle(&data, &c.bundle_format, &bundle_td)
                .map_err(|e| format!("cannot parse bundle raw message: {e}"))?,
        )
    } else {
        None
    };
    Ok(types::FederationRelationship {
        trust_domain: c.trust_domain.clone(),
        bundle_endpoint_url: c.bundle_endpoint_url.clone(),
        trust_domain_bundle: bundle,
        bundle_endpoint_profile: Some(profile),
    })
}

/// The `-data` file: `{"federationRelationships": [...]}` as Go's `encoding/json` reads it.
pub(super) fn parse_relationships_json(
    data: &[u8],
) -> Result<Vec<types::FederationRelationship>, String> {
    let doc: Value =
        serde_json::from_slice(data).map_err(|e| format!("failed to parse JSON: {e}"))?;
    let mut items: &[Value] = &[];
    if let Value::Object(obj) = &doc {
        for (k, v) in obj {
            if k.eq_ignore_ascii_case("federationRelationships") {
                match v {
                    Value::Array(a) => items = a,
                    Value::Null => items = &[],
                    _ => return Err("failed to parse JSON: json: cannot unmarshal into Go struct field federationRelationships.federationRelationships of type []*federation.federationRelationshipConfig".into()),
                }
            }
        }
    } else if !doc.is_null() {
        return Err("failed to parse JSON: json: cannot unmarshal into Go value of type federation.federationRelationships".into());
    }
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let mut c = Config::default();
        if let Value::Object(obj) = item {
            for (k, v) in obj {
                let text = || {
                    match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Null => Ok(String::new()),
                    _ => Err(format!("failed to parse JSON: json: cannot unmarshal into Go struct field federationRelationshipConfig.federationRelationships.{k} of type string")),
                }
                };
                match k.to_ascii_lowercase().as_str() {
                    "trustdomain" => c.trust_domain = text()?,
                    "bundleendpointurl" => c.bundle_endpoint_url = text()?,
                    "bundleendpointprofile" => c.bundle_endpoint_profile = text()?,
                    "endpointspiffeid" => c.endpoint_spiffe_id = text()?,
                    "trustdomainbundleformat" => c.bundle_format = text()?,
                    "trustdomainbundle" if !v.is_null() => c.bundle = Some(v.clone()),
                    _ => {}
                }
            }
        } else if !item.is_null() {
            return Err("failed to parse JSON: json: cannot unmarshal into Go struct field federationRelationships.federationRelationships of type federation.federationRelationshipConfig".into());
        }
        out.push(to_proto(&c).map_err(|e| format!("could not parse item {i}: {e}"))?);
    }
    Ok(out)
}

pub(super) struct ConfigFlags {
    pub(super) fs: FlagSet,
    pub(super) socket: SocketFlags,
    data: Flag<String>,
    trust_domain: Flag<String>,
    url: Flag<String>,
    profile: Flag<String>,
    endpoint_id: Flag<String>,
    bundle_path: Flag<String>,
    bundle_format: Flag<String>,
    pub(super) output: Flag<Output>,
}

pub(super) fn config_flags(name: &str) -> ConfigFlags {
    let mut fs = FlagSet::new(name);
    let socket = SocketFlags::define(&mut fs);
    let data = fs.string("data", "", "Path to a file containing federation relationships in JSON format (optional). If set to '-', read the JSON from stdin.");
    let trust_domain = fs.string(
        "trustDomain",
        "",
        "Name of the trust domain to federate with (e.g., example.org)",
    );
    let url = fs.string("bundleEndpointURL", "", "URL of the SPIFFE bundle endpoint that provides the trust bundle (must use the HTTPS protocol)");
    let profile = fs.string(
        "bundleEndpointProfile",
        "",
        "Endpoint profile type (either \"https_web\" or \"https_spiffe\")",
    );
    let endpoint_id = fs.string(
        "endpointSpiffeID",
        "",
        "SPIFFE ID of the SPIFFE bundle endpoint server. Only used for 'spiffe' profile.",
    );
    let bundle_path = fs.string(
        "trustDomainBundlePath",
        "",
        "Path to the trust domain bundle data (optional).",
    );
    let bundle_format = fs.string(
        "trustDomainBundleFormat",
        "pem",
        "The format of the bundle data (optional). Either \"pem\" or \"spiffe\".",
    );
    let output = output_flag(&mut fs);
    ConfigFlags {
        fs,
        socket,
        data,
        trust_domain,
        url,
        profile,
        endpoint_id,
        bundle_path,
        bundle_format,
        output,
    }
}

impl ConfigFlags {
    /// SPIRE's `getRelationships`.
    pub(super) fn relationships(
        &self,
        p: &Parsed,
    ) -> Result<Vec<types::FederationRelationship>, String> {
        let c = Config {
            trust_domain: p.get(&self.trust_domain).clone(),
            bundle_endpoint_url: p.get(&self.url).clone(),
            bundle_endpoint_profile: p.get(&self.profile).clone(),
            endpoint_spiffe_id: p.get(&self.endpoint_id).clone(),
            bundle: None,
            bundle_format: p.get(&self.bundle_format).clone(),
            bundle_path: p.get(&self.bundle_path).clone(),
        };
        let data = p.get(&self.data);
        if data.is_empty() {
            return Ok(vec![to_proto(&c)?]);
        }
        let empty = c.trust_domain.is_empty()
            && c.bundle_endpoint_url.is_empty()
            && c.bundle_endpoint_profile.is_empty()
            && c.endpoint_spiffe_id.is_empty()
            && c.bundle_path.is_empty()
            && c.bundle_format == "pem";
        if !empty {
            return Err(
                "cannot use other flags to specify relationship fields when 'data' flag is set"
                    .into(),
            );
        }
        parse_relationships_json(&read_input(data)?)
    }
}
