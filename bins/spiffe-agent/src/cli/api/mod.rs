//! `spiffe-agent api …`: Workload API calls as a workload makes them, with SPIRE's flags
//! (`-socketPath`, `-timeout`, `-output`) and output lines (`cmd/spire-agent/cli/api`).

//!
//! `x509` has the X.509 calls (`fetch x509`, `watch`), `jwt` the JWT ones.

mod jwt;
mod x509;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use spiffe_core::pki_types::CertificateDer;
use spiffe_core::Certificate;
use spiffe_workload::proto::spiffe_workload_api_client::SpiffeWorkloadApiClient;
use spire_config::flags::{Flag, FlagSet};
use tonic::transport::Channel;

use super::{client_runtime, Command, Env};
use crate::config::DEFAULT_SOCKET_PATH;
use jwt::{fetch_jwt, fetch_jwt_bundle, validate_jwt};
use x509::{fetch_x509, watch};

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
    Ok(SpiffeWorkloadApiClient::new(channel(path).await?))
}

/// A channel to the agent's socket at `path`, or grpc-go's error text for a dial that failed.
pub(super) async fn channel(path: &Path) -> Result<Channel, String> {
    if !path.exists() {
        return Err(format!(
            "rpc error: code = Unavailable desc = connection error: desc = \"transport: error while dialing: dial unix {}: connect: no such file or directory\"",
            path.display()
        ));
    }
    super::uds_channel(path)
        .await
        .map_err(|e| format!("rpc error: code = Unavailable desc = connection error: {e}"))
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

pub(super) fn rpc_error(status: &tonic::Status) -> String {
    format!(
        "rpc error: code = {} desc = {}",
        daemon_telemetry::grpc_code_name(status.code() as i32).unwrap_or("Unknown"),
        status.message()
    )
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
