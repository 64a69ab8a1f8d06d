//! `api fetch x509` and `api watch`: X.509-SVIDs as a workload receives them.

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use spiffe_core::Certificate;
use spiffe_workload::proto::{X509svidRequest, X509svidResponse};
use spire_config::flags::Parsed;

use super::{b64, request, rpc_error, split_der, Client, Flags};
use crate::cli::time::go_time;
use crate::cli::Env;
use crate::node::store::pem_block;

/// One SVID of a response, parsed.
struct ParsedSvid {
    spiffe_id: String,
    certificates: Vec<Certificate>,
    key: Vec<u8>,
    bundle: Vec<Certificate>,
}

/// Federated bundles by trust domain, sorted.
type Federated = Vec<(String, Vec<Certificate>)>;

fn parse_x509(response: &X509svidResponse) -> Result<(Vec<ParsedSvid>, Federated), String> {
    if response.svids.is_empty() {
        return Err("workload response contains no svids".into());
    }
    let mut federated: Vec<(String, Vec<Certificate>)> = Vec::new();
    for (td, der) in &response.federated_bundles {
        let certs = split_der(der)
            .map_err(|e| format!("failed to parse bundle for federated domain {td:?}: {e}"))?;
        federated.push((td.clone(), certs));
    }
    federated.sort_by(|a, b| a.0.cmp(&b.0));
    let mut svids = Vec::new();
    for (i, svid) in response.svids.iter().enumerate() {
        let wrap = |e: String| {
            format!(
                "failed to parse svid entry {i} for spiffe id {:?}: {e}",
                svid.spiffe_id
            )
        };
        let certificates = split_der(&svid.x509_svid).map_err(wrap)?;
        if certificates.is_empty() {
            return Err(wrap("no certificates found".into()));
        }
        let bundle = split_der(&svid.bundle).map_err(wrap)?;
        if bundle.is_empty() {
            return Err(wrap("no certificates in trust bundle".into()));
        }
        svids.push(ParsedSvid {
            spiffe_id: svid.spiffe_id.clone(),
            certificates,
            key: svid.x509_svid_key.clone(),
            bundle,
        });
    }
    Ok((svids, federated))
}

fn print_x509(
    env: &mut Env,
    svids: &[ParsedSvid],
    federated: &[(String, Vec<Certificate>)],
    elapsed: Duration,
) {
    let plural = if svids.len() == 1 { "" } else { "s" };
    env.println(&format!(
        "Received {} svid{plural} after {}",
        svids.len(),
        spire_config::format_duration(elapsed)
    ));
    for svid in svids {
        env.println("");
        env.println(&format!("SPIFFE ID:\t\t{}", svid.spiffe_id));
        let leaf = &svid.certificates[0];
        env.println(&format!(
            "SVID Valid After:\t{}",
            go_time(leaf.not_before())
        ));
        env.println(&format!("SVID Valid Until:\t{}", go_time(leaf.not_after())));
        for (i, c) in svid.certificates.iter().skip(1).enumerate() {
            env.println(&format!(
                "Intermediate #{} Valid After:\t{}",
                i + 1,
                go_time(c.not_before())
            ));
            env.println(&format!(
                "Intermediate #{} Valid Until:\t{}",
                i + 1,
                go_time(c.not_after())
            ));
        }
        for (i, c) in svid.bundle.iter().enumerate() {
            env.println(&format!(
                "CA #{} Valid After:\t{}",
                i + 1,
                go_time(c.not_before())
            ));
            env.println(&format!(
                "CA #{} Valid Until:\t{}",
                i + 1,
                go_time(c.not_after())
            ));
        }
        for (td, certs) in federated {
            for (i, c) in certs.iter().enumerate() {
                env.println(&format!(
                    "[{td}] CA #{} Valid After:\t{}",
                    i + 1,
                    go_time(c.not_before())
                ));
                env.println(&format!(
                    "[{td}] CA #{} Valid Until:\t{}",
                    i + 1,
                    go_time(c.not_after())
                ));
            }
        }
    }
    env.println("");
}

fn certs_pem(certs: &[Certificate]) -> String {
    certs
        .iter()
        .map(|c| pem_block("CERTIFICATE", c.der().as_ref()))
        .collect()
}

fn write_public(path: &Path, data: &[u8]) -> Result<(), String> {
    std::fs::write(path, data).map_err(|e| format!("open {}: {e}", path.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
        .map_err(|e| format!("chmod {}: {e}", path.display()))
}

fn write_x509(
    env: &mut Env,
    dir: &str,
    svids: &[ParsedSvid],
    federated: &[(String, Vec<Certificate>)],
) -> Result<(), String> {
    let dir = Path::new(dir);
    for (i, svid) in svids.iter().enumerate() {
        let svid_path = dir.join(format!("svid.{i}.pem"));
        let key_path = dir.join(format!("svid.{i}.key"));
        let bundle_path = dir.join(format!("bundle.{i}.pem"));
        env.println(&format!(
            "Writing SVID #{i} to file {}.",
            svid_path.display()
        ));
        write_public(&svid_path, certs_pem(&svid.certificates).as_bytes())?;
        env.println(&format!("Writing key #{i} to file {}.", key_path.display()));
        // The key is private: mode 0600, atomically, no symlink followed.
        spiffe_ca::secret_file::write(&key_path, pem_block("PRIVATE KEY", &svid.key).as_bytes())
            .map_err(|e| format!("open {}: {e}", key_path.display()))?;
        env.println(&format!(
            "Writing bundle #{i} to file {}.",
            bundle_path.display()
        ));
        write_public(&bundle_path, certs_pem(&svid.bundle).as_bytes())?;
        for (j, (td, certs)) in federated.iter().enumerate() {
            let path = dir.join(format!("federated_bundle.{i}.{j}.pem"));
            env.println(&format!(
                "Writing federated bundle #{j} for trust domain {td} to file {}.",
                path.display()
            ));
            write_public(&path, certs_pem(certs).as_bytes())?;
        }
    }
    Ok(())
}

pub(super) async fn fetch_x509(
    mut client: Client,
    f: &Flags,
    parsed: &Parsed,
    timeout: Duration,
    json: bool,
    env: &mut Env,
) -> Result<(), String> {
    let start = Instant::now();
    let mut stream = client
        .fetch_x509svid(request(X509svidRequest {}, Some(timeout)))
        .await
        .map_err(|s| rpc_error(&s))?
        .into_inner();
    let response = stream
        .message()
        .await
        .map_err(|s| rpc_error(&s))?
        .ok_or("rpc error: code = Unavailable desc = the stream ended without a response")?;
    let elapsed = start.elapsed();
    if json {
        let svids: Vec<Value> = response
            .svids
            .iter()
            .map(|s| {
                json!({
                    "spiffe_id": s.spiffe_id,
                    "x509_svid": b64(&s.x509_svid),
                    "x509_svid_key": b64(&s.x509_svid_key),
                    "bundle": b64(&s.bundle),
                    "hint": s.hint,
                })
            })
            .collect();
        let federated: Map<String, Value> = response
            .federated_bundles
            .iter()
            .map(|(td, der)| (td.clone(), Value::String(b64(der))))
            .collect();
        let out = json!({"svids": svids, "crl": [], "federated_bundles": federated});
        env.println(&out.to_string());
        return Ok(());
    }
    let (svids, federated) = parse_x509(&response)?;
    let silent = f.silent.as_ref().is_some_and(|s| *parsed.get(s));
    if !silent {
        print_x509(env, &svids, &federated, elapsed);
    }
    let write = f
        .write
        .as_ref()
        .map(|w| parsed.get(w).clone())
        .unwrap_or_default();
    if !write.is_empty() {
        write_x509(env, &write, &svids, &federated)?;
    }
    Ok(())
}

/// Prints every X.509 context the agent sends, until interrupted. A broken stream (the agent
/// restarting) is reported on stderr and opened again after a pause, as go-spiffe's watcher
/// does for SPIRE's command.
pub(super) async fn watch(mut client: Client, env: &mut Env) -> Result<(), String> {
    let mut pause = Duration::from_millis(500);
    loop {
        let mut start = Instant::now();
        let opened = client
            .fetch_x509svid(request(X509svidRequest {}, None))
            .await;
        let error = match opened {
            Err(status) => rpc_error(&status),
            Ok(response) => {
                let mut stream = response.into_inner();
                loop {
                    match stream.message().await {
                        Ok(Some(response)) => {
                            match parse_x509(&response) {
                                Ok((svids, federated)) => {
                                    print_x509(env, &svids, &federated, start.elapsed())
                                }
                                Err(e) => env.eprintln(&e),
                            }
                            let _ = env.stdout.flush();
                            start = Instant::now();
                            pause = Duration::from_millis(500);
                        }
                        Ok(None) => {
                            break "rpc error: code = Unavailable desc = the stream ended"
                                .to_owned()
                        }
                        Err(status) => break rpc_error(&status),
                    }
                }
            }
        };
        env.eprintln(&error);
        let _ = env.stderr.flush();
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}
