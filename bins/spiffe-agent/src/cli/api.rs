//! `spiffe-agent api …`: Workload API calls as a workload makes them, with SPIRE's flags
//! (`-socketPath`, `-timeout`, `-output`) and output lines (`cmd/spire-agent/cli/api`).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Map, Value};
use spiffe_core::pki_types::CertificateDer;
use spiffe_core::Certificate;
use spiffe_workload::proto::spiffe_workload_api_client::SpiffeWorkloadApiClient;
use spiffe_workload::proto::{
    JwtBundlesRequest, JwtsvidRequest, ValidateJwtsvidRequest, X509svidRequest, X509svidResponse,
};
use spire_config::flags::{Flag, FlagSet, Parsed};
use tonic::transport::{Channel, Endpoint, Uri};

use super::time::go_time;
use super::{client_runtime, Command, Env};
use crate::config::DEFAULT_SOCKET_PATH;
use crate::node::store::pem_block;

/// The `api` commands.
pub(super) fn commands() -> Vec<Arc<dyn Command>> {
    vec![
        Arc::new(Api(Kind::FetchX509)),
        Arc::new(Api(Kind::FetchJwt)),
        Arc::new(Api(Kind::FetchJwtBundle)),
        Arc::new(Api(Kind::ValidateJwt)),
        Arc::new(Api(Kind::Watch)),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    FetchX509,
    FetchJwt,
    FetchJwtBundle,
    ValidateJwt,
    Watch,
}

#[derive(Debug)]
struct Api(Kind);

/// The flags every `api` command has, and its own.
struct Flags {
    fs: FlagSet,
    socket_path: Flag<String>,
    timeout: Flag<Duration>,
    output: Option<Flag<String>>,
    format: Option<Flag<String>>,
    silent: Option<Flag<bool>>,
    write: Option<Flag<String>>,
    audience: Option<Flag<Vec<String>>>,
    audience_one: Option<Flag<String>>,
    spiffe_id: Option<Flag<String>>,
    svid: Option<Flag<String>>,
}

/// `-output` (and the deprecated `-format`): `pretty` or `json`.
fn parse_format(value: &str) -> Result<String, String> {
    match value {
        "pretty" | "json" => Ok(value.to_owned()),
        _ => Err("the output format must be one of pretty, json".into()),
    }
}

fn flags(kind: Kind, name: &str) -> Flags {
    let mut fs = FlagSet::new(name);
    let socket_path = fs.string(
        "socketPath",
        DEFAULT_SOCKET_PATH,
        "Path to the SPIRE Agent API Unix domain socket",
    );
    let timeout = fs.duration_value(
        "timeout",
        Duration::from_secs(5),
        "Time to wait for a response",
    );
    let mut f = Flags {
        socket_path,
        timeout,
        output: None,
        format: None,
        silent: None,
        write: None,
        audience: None,
        audience_one: None,
        spiffe_id: None,
        svid: None,
        fs,
    };
    match kind {
        Kind::FetchX509 => {
            f.silent = Some(f.fs.bool("silent", false, "Suppress stdout"));
            f.write = Some(f.fs.string(
                "write",
                "",
                "Write SVID data to the specified path (optional; only available for pretty output format)",
            ));
        }
        Kind::FetchJwt => {
            f.audience =
                Some(f.fs.comma_strings("audience", "comma separated list of audience values"));
            f.spiffe_id = Some(f.fs.string("spiffeID", "", "SPIFFE ID subject (optional)"));
        }
        Kind::ValidateJwt => {
            f.audience_one = Some(f.fs.string("audience", "", "expected audience value"));
            f.svid = Some(f.fs.string("svid", "", "JWT SVID"));
        }
        Kind::FetchJwtBundle | Kind::Watch => {}
    }
    if kind == Kind::FetchJwt {
        f.format = Some(f.fs.value(
            "format",
            String::new(),
            "",
            "deprecated; use -output",
            parse_format,
        ));
    }
    if kind != Kind::Watch {
        f.output = Some(f.fs.value(
            "output",
            String::new(),
            "",
            "Desired output format (pretty, json); default: pretty.",
            parse_format,
        ));
    }
    f
}

impl Command for Api {
    fn name(&self) -> &'static str {
        match self.0 {
            Kind::FetchX509 => "api fetch x509",
            Kind::FetchJwt => "api fetch jwt",
            Kind::FetchJwtBundle => "api fetch jwtbundle",
            Kind::ValidateJwt => "api validate jwt",
            Kind::Watch => "api watch",
        }
    }

    fn synopsis(&self) -> &'static str {
        match self.0 {
            Kind::FetchX509 => "Fetches X509 SVIDs from the Workload API",
            Kind::FetchJwt => "Fetches a JWT SVID from the Workload API",
            Kind::FetchJwtBundle => "Fetches JWT bundles from the Workload API",
            Kind::ValidateJwt => "Validates a JWT SVID",
            Kind::Watch => "Attaches to the Workload API and prints updates as they're received",
        }
    }

    fn help(&self) -> String {
        flags(self.0, short_name(self.0)).fs.help()
    }

    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let f = flags(self.0, short_name(self.0));
        let parsed = match f.fs.parse_reporting(args, &mut env.stderr) {
            Ok(parsed) => parsed,
            Err(_) => return 1,
        };
        let chosen = |flag: &Option<Flag<String>>| {
            flag.as_ref()
                .map(|f| parsed.get(f).clone())
                .filter(|v| !v.is_empty())
        };
        let json = chosen(&f.output).or_else(|| chosen(&f.format)).as_deref() == Some("json");
        let runtime = match client_runtime() {
            Ok(r) => r,
            Err(e) => {
                env.eprintln(&e);
                return 1;
            }
        };
        let socket = parsed.get(&f.socket_path).clone();
        let timeout = *parsed.get(&f.timeout);
        let result = runtime.block_on(async {
            let client = connect(Path::new(&socket)).await?;
            match self.0 {
                Kind::FetchX509 => fetch_x509(client, &f, &parsed, timeout, json, env).await,
                Kind::FetchJwt => fetch_jwt(client, &f, &parsed, timeout, json, env).await,
                Kind::FetchJwtBundle => fetch_jwt_bundle(client, timeout, json, env).await,
                Kind::ValidateJwt => validate_jwt(client, &f, &parsed, timeout, json, env).await,
                Kind::Watch => watch(client, env).await,
            }
        });
        match result {
            Ok(()) => 0,
            Err(e) => {
                env.eprintln(&e);
                1
            }
        }
    }
}

fn short_name(kind: Kind) -> &'static str {
    match kind {
        Kind::FetchX509 => "fetch x509",
        Kind::FetchJwt => "fetch jwt",
        Kind::FetchJwtBundle => "fetch jwtbundle",
        Kind::ValidateJwt => "validate jwt",
        Kind::Watch => "watch",
    }
}

type Client = SpiffeWorkloadApiClient<Channel>;

async fn connect(path: &Path) -> Result<Client, String> {
    if !path.exists() {
        return Err(format!(
            "rpc error: code = Unavailable desc = connection error: desc = \"transport: error while dialing: dial unix {}: connect: no such file or directory\"",
            path.display()
        ));
    }
    let path = path.to_owned();
    let channel = Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(path).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
            }
        }))
        .await
        .map_err(|e| format!("rpc error: code = Unavailable desc = connection error: {e}"))?;
    Ok(SpiffeWorkloadApiClient::new(channel))
}

/// A request with the Workload API's security header (WAPI: `workload.spiffe.io: true`).
fn request<T>(message: T, timeout: Option<Duration>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "workload.spiffe.io",
        tonic::metadata::MetadataValue::from_static("true"),
    );
    if let Some(t) = timeout.filter(|t| !t.is_zero()) {
        request.set_timeout(t);
    }
    request
}

fn rpc_error(status: &tonic::Status) -> String {
    format!(
        "rpc error: code = {} desc = {}",
        go_code(status.code()),
        status.message()
    )
}

fn go_code(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "Canceled",
        Unknown => "Unknown",
        InvalidArgument => "InvalidArgument",
        DeadlineExceeded => "DeadlineExceeded",
        NotFound => "NotFound",
        AlreadyExists => "AlreadyExists",
        PermissionDenied => "PermissionDenied",
        ResourceExhausted => "ResourceExhausted",
        FailedPrecondition => "FailedPrecondition",
        Aborted => "Aborted",
        OutOfRange => "OutOfRange",
        Unimplemented => "Unimplemented",
        Internal => "Internal",
        Unavailable => "Unavailable",
        DataLoss => "DataLoss",
        Unauthenticated => "Unauthenticated",
    }
}

/// Splits concatenated DER (the Workload API's certificate lists) into certificates.
fn split_der(mut bytes: &[u8]) -> Result<Vec<Certificate>, String> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        if bytes.len() < 2 || bytes[0] != 0x30 {
            return Err("malformed DER certificate list".into());
        }
        let (len, header) = match bytes[1] {
            n if n < 0x80 => (n as usize, 2),
            n => {
                let count = (n & 0x7f) as usize;
                if count == 0 || count > 4 || bytes.len() < 2 + count {
                    return Err("malformed DER certificate list".into());
                }
                let len = bytes[2..2 + count]
                    .iter()
                    .fold(0usize, |acc, b| (acc << 8) | *b as usize);
                (len, 2 + count)
            }
        };
        let end = header + len;
        if bytes.len() < end {
            return Err("malformed DER certificate list".into());
        }
        let cert = Certificate::from_der(CertificateDer::from(bytes[..end].to_vec()))
            .map_err(|e| format!("failed to parse certificate: {e}"))?;
        out.push(cert);
        bytes = &bytes[end..];
    }
    Ok(out)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

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

async fn fetch_x509(
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

async fn fetch_jwt(
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

async fn fetch_jwt_bundle(
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

async fn validate_jwt(
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

/// Prints every X.509 context the agent sends, until interrupted. A broken stream (the agent
/// restarting) is reported on stderr and opened again after a pause, as go-spiffe's watcher
/// does for SPIRE's command.
async fn watch(mut client: Client, env: &mut Env) -> Result<(), String> {
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

use std::io::Write as _;

#[cfg(test)]
mod tests {
    use super::*;

    /// The usage texts of SPIRE's `cmd/spire-agent/cli/api` tests (POSIX).
    #[test]
    fn usage_texts_are_spires() {
        let socket = "  -socketPath string\n    \tPath to the SPIRE Agent API Unix domain socket (default \"/tmp/spire-agent/public/api.sock\")\n";
        let timeout = "  -timeout value\n    \tTime to wait for a response (default 5s)\n";
        let output =
            "  -output value\n    \tDesired output format (pretty, json); default: pretty.\n";
        assert_eq!(
            flags(Kind::FetchX509, "fetch x509").fs.usage(),
            format!("Usage of fetch x509:\n{output}  -silent\n    \tSuppress stdout\n{socket}{timeout}  -write string\n    \tWrite SVID data to the specified path (optional; only available for pretty output format)\n")
        );
        assert_eq!(
            flags(Kind::FetchJwt, "fetch jwt").fs.usage(),
            format!("Usage of fetch jwt:\n  -audience value\n    \tcomma separated list of audience values\n  -format value\n    \tdeprecated; use -output\n{output}{socket}  -spiffeID string\n    \tSPIFFE ID subject (optional)\n{timeout}")
        );
        assert_eq!(
            flags(Kind::ValidateJwt, "validate jwt").fs.usage(),
            format!("Usage of validate jwt:\n  -audience string\n    \texpected audience value\n{output}{socket}  -svid string\n    \tJWT SVID\n{timeout}")
        );
    }

    #[test]
    fn concatenated_der_splits_into_certificates_and_garbage_is_refused() {
        assert!(split_der(&[]).unwrap_or_default().is_empty());
        assert!(split_der(&[0x30, 0x82, 0x01]).is_err());
        assert!(split_der(&[0x02, 0x01, 0x00]).is_err());
    }
}
