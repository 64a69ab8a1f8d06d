//! `x509 mint` and `jwt mint`: SVIDs minted by the SVID API for any SPIFFE ID, printed or
//! written to files as SPIRE does.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use spire_api_proto::server::bundle::v1 as bundlev1;
use spire_api_proto::server::svid::v1 as svidv1;
use spire_config::flags::{Flag, FlagSet};

use super::bundle::pem;
use super::client::{run_admin, Env, SocketFlags};
use super::common::{
    bytes, go_time_utc, id_json, int64, output_flag, parse_id, print_json, Output,
};
use super::Command;

/// SPIRE's `ttlToSeconds`: whole seconds, rounded up, within int32.
fn ttl_seconds(ttl: Duration) -> Result<i32, String> {
    let secs = ttl.as_nanos().div_ceil(1_000_000_000);
    i32::try_from(secs).map_err(|_| format!("invalid value for TTL: value {secs} overflows int32"))
}

/// Go's `t.UTC().Format(time.RFC3339)` for whole seconds.
fn rfc3339(secs: i64) -> String {
    let t = go_time_utc(secs);
    format!("{}T{}Z", &t[..10], &t[11..19])
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Writes `data` to `path` with `mode`, replacing it.
fn write_file(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)?;
    f.set_permissions(std::fs::Permissions::from_mode(mode))?;
    std::io::Write::write_all(&mut f, data)
}

fn write_error(what: &str, path: &Path, e: &std::io::Error) -> String {
    format!(
        "unable to write {what}: {}",
        super::common::go_open_error(&path.display().to_string(), e)
    )
}

/// `x509 mint`.
#[derive(Debug)]
pub(super) struct X509MintCommand;

struct X509Flags {
    fs: FlagSet,
    socket: SocketFlags,
    spiffe_id: Flag<String>,
    ttl: Flag<Duration>,
    dns: Flag<Vec<String>>,
    write: Flag<String>,
    output: Flag<Output>,
}

fn x509_flags() -> X509Flags {
    let mut fs = FlagSet::new("x509 mint");
    let socket = SocketFlags::define(&mut fs);
    let spiffe_id = fs.string("spiffeID", "", "SPIFFE ID of the X509-SVID");
    let ttl = fs.duration("ttl", Duration::ZERO, "TTL of the X509-SVID");
    let dns = fs.strings(
        "dns",
        "DNS name that will be included in SVID. Can be used more than once.",
    );
    let write = fs.string(
        "write",
        "",
        "Directory to write output to instead of stdout",
    );
    let output = output_flag(&mut fs);
    X509Flags {
        fs,
        socket,
        spiffe_id,
        ttl,
        dns,
        write,
        output,
    }
}

/// A fresh P-256 key (PKCS#8 DER) and a CSR for `id` and `dns`, empty subject.
fn key_and_csr(id: &str, dns: &[String]) -> Result<(Vec<u8>, Vec<u8>), String> {
    let key = rcgen::KeyPair::generate().map_err(|e| format!("unable to generate key: {e}"))?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    let csr_err = |e: rcgen::Error| format!("unable to generate CSR: {e}");
    params.subject_alt_names.push(rcgen::SanType::URI(
        rcgen::string::Ia5String::try_from(id).map_err(csr_err)?,
    ));
    for name in dns {
        params.subject_alt_names.push(rcgen::SanType::DnsName(
            rcgen::string::Ia5String::try_from(name.as_str()).map_err(csr_err)?,
        ));
    }
    let csr = params.serialize_request(&key).map_err(csr_err)?;
    Ok((key.serialize_der(), csr.der().to_vec()))
}

impl Command for X509MintCommand {
    fn name(&self) -> &'static str {
        "x509 mint"
    }
    fn synopsis(&self) -> &'static str {
        "Mints an X509-SVID"
    }
    fn help(&self) -> String {
        x509_flags().fs.help()
    }
    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let f = x509_flags();
        run_admin(&f.fs, &f.socket, args, env, |p, client, env| {
            let text = p.get(&f.spiffe_id);
            if text.is_empty() {
                return Err("spiffeID must be specified".into());
            }
            let id = parse_id(text)?;
            let ttl = *p.get(&f.ttl);
            let ttl_secs = ttl_seconds(ttl)?;
            let (key, csr) = key_and_csr(
                &format!("spiffe://{}{}", id.trust_domain, id.path),
                p.get(&f.dns).as_slice(),
            )?;
            let svid = client
                .call(
                    client
                        .svid()
                        .mint_x509svid(svidv1::MintX509svidRequest { csr, ttl: ttl_secs }),
                )
                .map_err(|s| format!("unable to mint SVID: {}", client.error_text(&s)))?
                .into_inner()
                .svid
                .unwrap_or_default();
            if svid.cert_chain.is_empty() {
                return Err("server response missing SVID chain".into());
            }
            let ca = client
                .call(
                    client
                        .bundle()
                        .get_bundle(bundlev1::GetBundleRequest { output_mask: None }),
                )
                .map_err(|s| format!("unable to get bundle: {}", client.error_text(&s)))?
                .into_inner();
            if ca.x509_authorities.is_empty() {
                return Err("server response missing X509 Authorities".into());
            }
            let remaining = svid.expires_at.saturating_sub(now_secs());
            if i128::from(remaining) * 1_000_000_000
                < i128::try_from(ttl.as_nanos()).unwrap_or(i128::MAX)
            {
                env.eprintln(&format!(
                    "X509-SVID lifetime was capped shorter than specified ttl; expires \"{}\"",
                    rfc3339(svid.expires_at)
                ));
            }
            let roots: Vec<&[u8]> = ca
                .x509_authorities
                .iter()
                .map(|a| a.asn1.as_slice())
                .collect();
            let svid_pem = pem("CERTIFICATE", svid.cert_chain.iter().map(Vec::as_slice));
            let key_pem = pem("PRIVATE KEY", [key.as_slice()]);
            let bundle_pem = pem("CERTIFICATE", roots.iter().copied());
            let dir = p.get(&f.write);
            if dir.is_empty() {
                if *p.get(&f.output) == Output::Json {
                    // A struct in SPIRE: its field order, not sorted.
                    let chain: Vec<_> = svid.cert_chain.iter().map(|c| bytes(c)).collect();
                    let roots: Vec<_> = roots.iter().map(|c| bytes(c)).collect();
                    env.println(&format!(
                        "{{\"x509_svid\":{},\"private_key\":{},\"root_cas\":{}}}",
                        serde_json::Value::Array(chain),
                        bytes(&key),
                        serde_json::Value::Array(roots)
                    ));
                    return Ok(());
                }
                env.println(&format!("X509-SVID:\n{svid_pem}"));
                env.println(&format!("Private key:\n{key_pem}"));
                env.println(&format!("Root CAs:\n{bundle_pem}"));
                return Ok(());
            }
            let dir = Path::new(dir);
            let svid_path = dir.join("svid.pem");
            let key_path = dir.join("key.pem");
            let bundle_path = dir.join("bundle.pem");
            write_file(&svid_path, svid_pem.as_bytes(), 0o644)
                .map_err(|e| write_error("SVID", &svid_path, &e))?;
            env.println(&format!("X509-SVID written to {}", svid_path.display()));
            write_file(&key_path, key_pem.as_bytes(), 0o600)
                .map_err(|e| write_error("key", &key_path, &e))?;
            env.println(&format!("Private key written to {}", key_path.display()));
            write_file(&bundle_path, bundle_pem.as_bytes(), 0o644)
                .map_err(|e| write_error("bundle", &bundle_path, &e))?;
            env.println(&format!("Root CAs written to {}", bundle_path.display()));
            Ok(())
        })
    }
}

/// `jwt mint`.
#[derive(Debug)]
pub(super) struct JwtMintCommand;

struct JwtFlags {
    fs: FlagSet,
    socket: SocketFlags,
    spiffe_id: Flag<String>,
    ttl: Flag<Duration>,
    audience: Flag<Vec<String>>,
    write: Flag<String>,
    output: Flag<Output>,
}

fn jwt_flags() -> JwtFlags {
    let mut fs = FlagSet::new("jwt mint");
    let socket = SocketFlags::define(&mut fs);
    let spiffe_id = fs.string("spiffeID", "", "SPIFFE ID of the JWT-SVID");
    let ttl = fs.duration("ttl", Duration::ZERO, "TTL of the JWT-SVID");
    let audience = fs.strings(
        "audience",
        "Audience claim that will be included in the SVID. Can be used more than once.",
    );
    let write = fs.string("write", "", "File to write token to instead of stdout");
    let output = output_flag(&mut fs);
    JwtFlags {
        fs,
        socket,
        spiffe_id,
        ttl,
        audience,
        write,
        output,
    }
}

/// The `exp` claim of a compact JWS, read without verifying it.
fn jwt_expiry(token: &str) -> Result<i64, String> {
    use base64::Engine;
    let payload = token
        .split('.')
        .nth(1)
        .ok_or_else(|| "go-jose/go-jose: compact JWS format must have three parts".to_owned())?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|e| e.to_string())?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    claims
        .get("exp")
        .and_then(serde_json::Value::as_f64)
        .map(|e| e as i64)
        .ok_or_else(|| "no expiry claim".to_owned())
}

impl Command for JwtMintCommand {
    fn name(&self) -> &'static str {
        "jwt mint"
    }
    fn synopsis(&self) -> &'static str {
        "Mints a JWT-SVID"
    }
    fn help(&self) -> String {
        jwt_flags().fs.help()
    }
    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let f = jwt_flags();
        run_admin(&f.fs, &f.socket, args, env, |p, client, env| {
            let text = p.get(&f.spiffe_id);
            if text.is_empty() {
                return Err("spiffeID must be specified".into());
            }
            if p.get(&f.audience).is_empty() {
                return Err("at least one audience must be specified".into());
            }
            let id = parse_id(text)?;
            let ttl = *p.get(&f.ttl);
            let ttl_secs = ttl_seconds(ttl)?;
            let svid = client
                .call(client.svid().mint_jwtsvid(svidv1::MintJwtsvidRequest {
                    id: Some(id),
                    audience: p.get(&f.audience).clone(),
                    ttl: ttl_secs,
                }))
                .map_err(|s| format!("unable to mint SVID: {}", client.error_text(&s)))?
                .into_inner()
                .svid
                .unwrap_or_default();
            if svid.token.is_empty() {
                return Err("server response missing token".into());
            }
            match jwt_expiry(&svid.token) {
                Err(e) => env.eprintln(&format!("Unable to determine JWT-SVID lifetime: {e}")),
                Ok(exp) => {
                    let remaining = exp.saturating_sub(now_secs());
                    if i128::from(remaining) * 1_000_000_000
                        < i128::try_from(ttl.as_nanos()).unwrap_or(i128::MAX)
                    {
                        env.eprintln(&format!(
                            "JWT-SVID lifetime was capped shorter than specified ttl; expires \"{}\"",
                            rfc3339(exp)
                        ));
                    }
                }
            }
            let path = p.get(&f.write);
            if path.is_empty() {
                if *p.get(&f.output) == Output::Json {
                    print_json(
                        env,
                        json!({"svid": {
                            "token": svid.token,
                            "id": id_json(svid.id.as_ref()),
                            "expires_at": int64(svid.expires_at),
                            "issued_at": int64(svid.issued_at),
                            "hint": svid.hint,
                        }}),
                    );
                } else {
                    env.println(&svid.token);
                }
                return Ok(());
            }
            let path = Path::new(path);
            write_file(path, svid.token.as_bytes(), 0o600)
                .map_err(|e| write_error("token", path, &e))?;
            env.println(&format!("JWT-SVID written to {}", path.display()));
            Ok(())
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ttl_rounds_up() {
        assert_eq!(ttl_seconds(Duration::from_millis(1500)).unwrap(), 2);
        assert_eq!(ttl_seconds(Duration::ZERO).unwrap(), 0);
        assert!(ttl_seconds(Duration::from_secs(1 << 40)).is_err());
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn csr_parses_back() {
        let (_, csr) = key_and_csr("spiffe://td/w", &["a.example".into()]).unwrap();
        let req = spiffe_core::x509::CertificateRequest::from_der(&csr).unwrap();
        assert_eq!(req.uri_sans().collect::<Vec<_>>(), ["spiffe://td/w"]);
    }
}
